package accounts_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

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

// approvedEmployee saves an Approved employee (first name Emma) with password and starts an
// employee session for it: the other principal of the cross-principal checks.
func approvedEmployee(t *testing.T, f *flow, email, password string) (*core.Record, *tokens.Issued) {
	t.Helper()
	col, err := f.app.FindCachedCollectionByNameOrId("employees")
	if err != nil {
		t.Fatal(err)
	}
	emp := core.NewRecord(col)
	emp.SetEmail(email)
	emp.SetPassword(password)
	emp.Set("first_name", "Emma")
	emp.Set("status", "Approved")
	if err := f.app.Save(emp); err != nil {
		t.Fatal(err)
	}
	issued, err := tokensFor(t, f).StartSession(f.app, "employee", emp, "password", "127.0.0.1", "ua")
	if err != nil {
		t.Fatal(err)
	}
	return emp, issued
}
