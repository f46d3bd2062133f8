package accounts_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"

	"gatehouse/plugins/tokens"
)

func decodeSegment(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func dbxEq(col, value string) dbx.Expression { return dbx.HashExp{col: value} }

func tokensFor(t *testing.T, f *flow) *tokens.Service {
	t.Helper()
	if f.svc == nil || f.svc.Tokens == nil {
		t.Fatal("token service not registered")
	}
	return f.svc.Tokens
}

func payloadOf(t *testing.T, token string) map[string]any {
	t.Helper()
	raw, err := decodeSegment(strings.Split(token, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
