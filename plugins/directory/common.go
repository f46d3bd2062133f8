package directory

import (
	"database/sql"
	"errors"
	"regexp"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/permissions"
	"gatehouse/plugins/realm"
)

const (
	colUsers       = "users"
	colSystems     = "systems"
	colRoles       = "roles"
	colAssignments = "user_system_roles"
	colInvitations = "invitations"
)

// Choices of §1.16.
var (
	suffixChoices     = []string{"Jr.", "Sr.", "II", "III", "IV", "V"}
	departmentChoices = []string{"IT Department", "Asset Department", "Budget Department"}
	statusChoices     = []string{"Pending", "Approved", "Rejected"}
)

var idRe = regexp.MustCompile(`^[a-z0-9]{15}$`)

// findByID loads a record by id; a malformed or unknown id is (nil, nil), never an error (§1.1).
func findByID(app core.App, collection, id string) (*core.Record, error) {
	if !idRe.MatchString(id) {
		return nil, nil
	}
	rec, err := app.FindRecordById(collection, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return rec, err
}

// findSystemBySlug loads a system by slug ((nil, nil) when unknown).
func findSystemBySlug(app core.App, slug string) (*core.Record, error) {
	if slug == "" {
		return nil, nil
	}
	rec, err := app.FindFirstRecordByData(colSystems, "slug", slug)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return rec, err
}

// adminScope returns the request's Scope and its admin systems as an id set (all = superuser).
func adminScope(e *core.RequestEvent) (*permissions.Scope, map[string]bool, bool, error) {
	s, err := permissions.For(e)
	if err != nil {
		return nil, nil, false, err
	}
	systems, all := s.AdminSystems()
	ids := make(map[string]bool, len(systems))
	for _, sys := range systems {
		ids[sys.ID] = true
	}
	return s, ids, all, nil
}

// idList is the sorted ids of a set, as arguments of an IN expression.
func idList(set map[string]bool) []any {
	out := make([]any, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	return out
}

// likePattern is a LIKE pattern for a case-insensitive substring (ESCAPE '\').
func likePattern(s string) string {
	return "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s) + "%"
}

// searchExp is "any of the columns contains s" (§1.8: case-insensitive, OR across fields).
func searchExp(s string, columns ...string) dbx.Expression {
	parts := make([]string, 0, len(columns))
	for _, c := range columns {
		parts = append(parts, c+" LIKE {:search} ESCAPE '\\'")
	}
	return dbx.NewExp("("+strings.Join(parts, " OR ")+")", dbx.Params{"search": likePattern(s)})
}

// orderBy turns the validated ordering into ORDER BY terms through columns (field → SQL
// column), with the default when none was asked for and id ascending as the final tie-break.
func orderBy(q apikit.PageQuery, columns map[string]string, def []apikit.OrderField, idColumn string) []string {
	terms := q.Ordering
	if len(terms) == 0 {
		terms = def
	}
	out := make([]string, 0, len(terms)+1)
	for _, t := range terms {
		col := columns[t.Field]
		if t.Desc {
			out = append(out, col+" DESC")
		} else {
			out = append(out, col+" ASC")
		}
	}
	return append(out, idColumn+" ASC")
}

// keys lists a map's keys (the allowed ordering names).
func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// actorEntry starts an audit entry for the request's staff caller.
func actorEntry(e *core.RequestEvent, event, targetType, targetID, system string) audit.Entry {
	entry := audit.FromRequest(e, event, true)
	if c := apikit.CallerOf(e); c != nil && c.Kind == apikit.KindStaff && c.Record != nil {
		entry.ActorType, entry.ActorID = realm.TypeStaff, c.Record.Id
	}
	entry.TargetType, entry.TargetID, entry.System = targetType, targetID, system
	return entry
}

// callerRecord is the staff caller's users record (nil for any other caller).
func callerRecord(e *core.RequestEvent) *core.Record {
	if c := apikit.CallerOf(e); c != nil && c.Kind == apikit.KindStaff {
		return c.Record
	}
	return nil
}

// countQuery runs SELECT COUNT(*) on a prepared select.
func countRows(q *dbx.SelectQuery) (int, error) {
	var n struct {
		N int `db:"n"`
	}
	if err := q.Select("COUNT(*) AS n").One(&n); err != nil {
		return 0, err
	}
	return n.N, nil
}

// pkMessage is the §1.4 message of an unknown referenced id.
func pkMessage(v string) string { return `Invalid pk "` + v + `" - object does not exist.` }

// updateAudited is the shape of the directory's updates: in one transaction it re-reads the
// record of col by id, lets apply change it (or refuse with an error), saves it and writes the
// audit entry apply returns. It returns the saved record. A record deleted since the handler
// read it gets gone (the handler's 404 for an unknown id), not a 500.
func (p *plugin) updateAudited(col, id string, gone *apikit.Error, apply func(tx core.App, rec *core.Record) (audit.Entry, error)) (*core.Record, error) {
	var saved *core.Record
	err := p.app.RunInTransaction(func(tx core.App) error {
		rec, err := tx.FindRecordById(col, id)
		if errors.Is(err, sql.ErrNoRows) {
			return gone
		}
		if err != nil {
			return err
		}
		entry, err := apply(tx, rec)
		if err != nil {
			return err
		}
		if err := tx.Save(rec); err != nil {
			return err
		}
		saved = rec
		return audit.Log(tx, entry)
	})
	return saved, err
}

// deleteAudited is the shape of the directory's deletes: in one transaction it re-reads the
// record of col by id (one deleted since the handler read it gets gone, the handler's 404, and
// no second audit row), runs check on it when not nil (a refusal judged on the row as it is
// now), deletes it and writes the audit entry made from it.
func (p *plugin) deleteAudited(col, id string, gone *apikit.Error, check func(tx core.App, rec *core.Record) error, entry func(rec *core.Record) audit.Entry) error {
	return p.app.RunInTransaction(func(tx core.App) error {
		rec, err := findByID(tx, col, id)
		if err != nil {
			return err
		}
		if rec == nil {
			return gone
		}
		if check != nil {
			if err := check(tx, rec); err != nil {
				return err
			}
		}
		if err := tx.Delete(rec); err != nil {
			return err
		}
		return audit.Log(tx, entry(rec))
	})
}

// slugOf is the slug of the system id for an audit row's system column (§2.18: "system slug when
// relevant"), "" when it cannot be read.
func slugOf(app core.App, systemID string) string {
	sys, err := app.FindRecordById(colSystems, systemID)
	if err != nil {
		return ""
	}
	return sys.GetString("slug")
}
