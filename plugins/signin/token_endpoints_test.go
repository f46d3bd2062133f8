package signin

import (
	"testing"

	"gatehouse/plugins/apikit"
)

// The refresh answer is written by hand; it must be what WriteJSON writes for the struct.
func TestRefreshResponseJSONMatchesWriteJSON(t *testing.T) {
	for _, r := range []refreshResponse{
		{Access: "eyJ.a-b_c.sig", Refresh: "eyJ.r.sig", TokenType: "Bearer", ExpiresIn: 300, UserType: "staff",
			Message: "Token refreshed successfully"},
		{Access: "a", AccessHS256: "h.s.256", Refresh: "r", TokenType: "Bearer", ExpiresIn: 0, UserType: "employee",
			Message: "Token refreshed successfully"},
		{Access: `odd "<&>" é`, Refresh: "\x01", ExpiresIn: -5},
		{},
	} {
		want, err := apikit.MarshalJSON(r)
		if got := string(r.appendJSON(nil)); err != nil || got != string(want) {
			t.Fatalf("%+v:\n got  %s\n want %s (%v)", r, got, want, err)
		}
	}
}
