package audit_test

import (
	"encoding/json"
	"testing"

	"gatehouse/plugins/audit"
	"gatehouse/testkit"
)

// InsertQuery stores the row Log stores (the record API reads both back alike).
func TestInsertQueryMatchesLog(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	entry := audit.Entry{Event: "roundrobin.assigned", Success: true, ActorType: audit.ActorService, ActorID: "key000000000001",
		TargetType: "user", TargetID: "user00000000001", System: "sys000000000001", IP: "10.0.0.1", UserAgent: "agent/1",
		Details: map[string]any{"ticket_id": "T1", "n": 2}}
	if err := audit.Log(app, entry); err != nil {
		t.Fatal(err)
	}
	params, err := audit.InsertParams(entry)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.DB().NewQuery(audit.InsertQuery).Bind(params).Execute(); err != nil {
		t.Fatal(err)
	}
	rows, err := app.FindAllRecords("audit_log")
	if err != nil || len(rows) != 2 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	a, b := rows[0].PublicExport(), rows[1].PublicExport()
	for _, k := range []string{"id", "created", "updated"} {
		if b[k] == nil || b[k] == "" {
			t.Errorf("inserted row has no %s", k)
		}
		delete(a, k)
		delete(b, k)
	}
	if len(a) != len(b) {
		t.Fatalf("fields differ: %v / %v", a, b)
	}
	for k, v := range a {
		if ra, rb := toJSON(t, v), toJSON(t, b[k]); ra != rb {
			t.Errorf("%s: Log stored %s, InsertQuery %s", k, ra, rb)
		}
	}
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
