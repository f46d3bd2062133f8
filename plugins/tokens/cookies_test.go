package tokens

import (
	"net/http"
	"testing"
	"time"
)

// cookieString must be exactly net/http's Cookie.String() for every cookie it is given.
func TestCookieStringMatchesNetHTTP(t *testing.T) {
	values := []string{"eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln-_", "", "a b", "a,b", `q"uote`, "semi;colon",
		"slash/ok", "é", "tab\tx", "plain"}
	var cookies []*http.Cookie
	for _, v := range values {
		for _, path := range []string{"/", "/api/v1/", "", "/a;b", "/é"} {
			for _, maxAge := range []int{300, 0, -1, 1209600} {
				for _, flags := range []int{0, 1, 2, 3} {
					cookies = append(cookies, &http.Cookie{Name: RefreshCookieName, Value: v, Path: path, MaxAge: maxAge,
						HttpOnly: flags&1 != 0, Secure: flags&2 != 0, SameSite: http.SameSiteLaxMode})
				}
			}
		}
	}
	odd := []*http.Cookie{
		{Name: "access_token", Value: "x", Path: "/", Domain: "example.com", SameSite: http.SameSiteLaxMode},
		{Name: "access_token", Value: "x", Path: "/", Domain: ".example.com", SameSite: http.SameSiteLaxMode},
		{Name: "access_token", Value: "x", Expires: time.Unix(1e9, 0), SameSite: http.SameSiteLaxMode},
		{Name: "access_token", Value: "x", SameSite: http.SameSiteStrictMode},
		{Name: "access_token", Value: "x"},
		{Name: "access_token", Value: "x", Quoted: true, SameSite: http.SameSiteLaxMode},
		{Name: "access_token", Value: "x", Partitioned: true, Secure: true, SameSite: http.SameSiteLaxMode},
		{Name: "bad name", Value: "x", SameSite: http.SameSiteLaxMode},
		{Name: "", Value: "x", SameSite: http.SameSiteLaxMode},
	}
	direct := 0
	for _, c := range append(cookies, odd...) {
		if got, want := cookieString(c), c.String(); got != want {
			t.Fatalf("%+v:\n got  %q\n want %q", c, got, want)
		}
		if c.Domain == "" && c.Expires.IsZero() && !c.Quoted && !c.Partitioned && c.SameSite == http.SameSiteLaxMode &&
			plainCookie(c.Name, false) && plainCookie(c.Value, false) && plainCookie(c.Path, true) {
			direct++
		}
	}
	if direct < 90 {
		t.Fatalf("only %d cookies were written directly", direct)
	}
}
