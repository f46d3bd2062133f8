package directory

import (
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/testkit"
)

// queryPlan returns SQLite's EXPLAIN QUERY PLAN details of a query, joined by "; ".
func queryPlan(t *testing.T, app *tests.TestApp, sql string) string {
	t.Helper()
	var rows []struct {
		Detail string `db:"detail"`
	}
	if err := app.DB().NewQuery("EXPLAIN QUERY PLAN " + sql).All(&rows); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, r.Detail)
	}
	return strings.Join(out, "; ")
}

// TestListsUseIndexes: every ordering and filter of the directory lists is read through an
// index (the final id tie-break may sort the rows of one key: "RIGHT PART OF ORDER BY"), never
// a full sort of the table.
func TestListsUseIndexes(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	unquote := strings.NewReplacer("[[", "", "]]", "")
	// check: the query reads through wantIndex; sorted=true also requires the order to come
	// from an index (no full sort).
	check := func(sql string, wantIndex string, sorted ...bool) {
		t.Helper()
		sql = unquote.Replace(sql)
		plan := queryPlan(t, app, sql)
		if (len(sorted) > 0 && strings.Contains(plan, "USE TEMP B-TREE FOR ORDER BY")) || !strings.Contains(plan, wantIndex) {
			t.Errorf("%s\n  plan: %s (want %s)", sql, plan, wantIndex)
		}
	}
	for field, col := range userOrdering {
		for _, dir := range []string{"ASC", "DESC"} {
			check("SELECT users.* FROM users ORDER BY "+col+" "+dir+", users.id ASC LIMIT 50 OFFSET 5000", "USING INDEX", true)
			_ = field
		}
	}
	// Filters of §5.3.3: status, is_active, the system scope (EXISTS over system,user).
	check("SELECT users.* FROM users WHERE users.status = 'Approved' ORDER BY users.created DESC, users.id LIMIT 50", "INDEX")
	check("SELECT users.* FROM users WHERE users.is_active = 1 ORDER BY users.created DESC, users.id LIMIT 50", "INDEX")
	check("SELECT users.* FROM users WHERE EXISTS (SELECT 1 FROM user_system_roles a WHERE a.user = users.id AND a.system IN ('x','y')) ORDER BY users.email COLLATE NOCASE, users.id LIMIT 50", "idx_user_system_roles_")
	// systems and roles hold tens of rows: their orderings sort in memory.
	for _, col := range invitationOrdering {
		check("SELECT invitations.* FROM invitations ORDER BY "+col+" DESC, invitations.id LIMIT 50", "INDEX", true)
	}
	check("SELECT invitations.* FROM invitations WHERE invitations.system IN ('x') ORDER BY invitations.created DESC, invitations.id LIMIT 50", "idx_invitations_system_created")
	check("SELECT COUNT(*) FROM invitations WHERE invited_by = 'x' AND created >= '2026'", "idx_invitations_invited_by_created")
	for _, col := range assignmentOrdering {
		check("SELECT a.id FROM user_system_roles a JOIN users u ON u.id = a.user JOIN systems s ON s.id = a.system WHERE a.system = 'x' ORDER BY "+col+", a.id LIMIT 50", "idx_user_system_roles_system")
	}
	check("SELECT a.id FROM user_system_roles a WHERE a.user = 'x' ORDER BY a.assigned_at, a.id", "idx_user_system_roles_user")
}
