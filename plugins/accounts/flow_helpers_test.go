package accounts_test

import (
	"encoding/base64"
	"testing"

	"github.com/pocketbase/dbx"

	"gatehouse/plugins/tokens"
)

func decodeSegment(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func dbxEq(col, value string) dbx.Expression { return dbx.HashExp{col: value} }

func tokensFor(t *testing.T, f *flow) *tokens.Service {
	t.Helper()
	svc := tokens.For(f.app)
	if svc == nil {
		t.Fatal("token service not registered")
	}
	return svc
}
