// Package permissions is the permission model of spec/API.md §1.7: the levels SUPERUSER,
// ANY_ADMIN, ADMIN(S) and MEMBER(S), resolved once per request from the caller and its
// assignments (one cached reader, assignments.go).
//
// A route declares its level in its apikit.Access (apikit.Superuser, apikit.AnyAdmin,
// apikit.AdminOf("tts"), apikit.MemberOf("tts", "hdts")); apikit checks it after
// authentication through the Checker installed by Register. When S is named by the request,
// the route declares apikit.AnyAdmin (or apikit.Staff for MEMBER(S)) and the handler checks
// S once it has found it, in the order of §1.3: level → lookup (404) → RequireAdmin /
// RequireMember (403 with the endpoint's text) → body validation (400).
//
// Authorization reads the database, never the token's roles claim (§1.5): the caller's record
// comes from the access-token check and the assignments from a cache that any write empties,
// so role and assignment changes take effect on the next request (§3.5).
package permissions

import (
	"strings"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/writeepoch"
)

// Register installs the level checker of app's routes (apikit.Access.Level) and the write
// watch the assignments cache depends on. server.Register calls it once.
func Register(app core.App, kit *apikit.Kit) {
	writeepoch.WatchWrites(app)
	kit.SetLevelChecker(Checker{})
}

// Scope is what a request's caller may do (§1.7). The zero Scope is an anonymous caller.
type Scope struct {
	kind      apikit.PrincipalKind // 0: anonymous
	userID    string               // staff only
	superuser bool
	rows      []Assignment // staff only; shared with the cache, read only
}

// System names a system of the caller's admin or member scope.
type System struct {
	ID   string
	Slug string
	Name string
}

const scopeKey = "gatehouse.permissions.scope"

// For returns the Scope of the request's caller (apikit.CallerOf), resolved once per request
// and kept on it. Anonymous callers, employees and API keys get a Scope with no admin or
// member rights.
func For(e *core.RequestEvent) (*Scope, error) {
	if s, ok := e.Get(scopeKey).(*Scope); ok {
		return s, nil
	}
	s, err := Resolve(e.App, apikit.CallerOf(e))
	if err != nil {
		return nil, err
	}
	e.Set(scopeKey, s)
	return s, nil
}

// Resolve computes the Scope of a caller (nil = anonymous). Only a staff user who is active
// has rights: superuser = is_active && is_superuser; ADMIN(S) and MEMBER(S) from its active
// assignments.
func Resolve(app core.App, caller *apikit.Caller) (*Scope, error) {
	if caller == nil {
		return &Scope{}, nil
	}
	s := &Scope{kind: caller.Kind}
	if caller.Kind != apikit.KindStaff || caller.Record == nil || !caller.Record.GetBool("is_active") {
		return s, nil
	}
	s.userID = caller.Record.Id
	s.superuser = caller.Record.GetBool("is_superuser")
	rows, err := Assignments(app, s.userID)
	if err != nil {
		return nil, err
	}
	s.rows = rows
	return s, nil
}

// IsStaff reports whether the caller is a staff user (an active one: only those authenticate).
func (s *Scope) IsStaff() bool { return s.kind == apikit.KindStaff && s.userID != "" }

// UserID is the staff caller's id ("" for any other caller).
func (s *Scope) UserID() string { return s.userID }

// IsSuperuser is SUPERUSER: an active staff user with is_superuser.
func (s *Scope) IsSuperuser() bool { return s.superuser }

// AnyAdmin is ANY_ADMIN: a superuser, or ADMIN(S) of at least one system.
func (s *Scope) AnyAdmin() bool {
	if s.superuser {
		return true
	}
	for i := range s.rows {
		if s.rows[i].GrantsAdmin() {
			return true
		}
	}
	return false
}

// IsAdmin is ADMIN(S) for the system with that id.
func (s *Scope) IsAdmin(systemID string) bool {
	return s.superuser || s.has(func(a *Assignment) bool { return a.GrantsAdmin() && a.SystemID == systemID })
}

// IsAdminSlug is ADMIN(S) for the system with that slug.
func (s *Scope) IsAdminSlug(slug string) bool {
	return s.superuser || s.has(func(a *Assignment) bool { return a.GrantsAdmin() && a.SystemSlug == slug })
}

// IsMember is MEMBER(S) for the system with that id: a superuser, or any active assignment.
func (s *Scope) IsMember(systemID string) bool {
	return s.superuser || s.has(func(a *Assignment) bool { return a.IsActive && a.SystemID == systemID })
}

// IsMemberSlug is MEMBER(S) for the system with that slug.
func (s *Scope) IsMemberSlug(slug string) bool {
	return s.superuser || s.has(func(a *Assignment) bool { return a.IsActive && a.SystemSlug == slug })
}

func (s *Scope) has(match func(*Assignment) bool) bool {
	for i := range s.rows {
		if match(&s.rows[i]) {
			return true
		}
	}
	return false
}

// AdminSystems is the admin scope (§1.7): all is true for a superuser (every system);
// otherwise the systems of its active Admin assignments, sorted by slug.
func (s *Scope) AdminSystems() (systems []System, all bool) {
	if s.superuser {
		return nil, true
	}
	return s.systems((*Assignment).GrantsAdmin), false
}

// MemberSystems: all for a superuser, otherwise the systems of its active assignments, sorted
// by slug.
func (s *Scope) MemberSystems() (systems []System, all bool) {
	if s.superuser {
		return nil, true
	}
	return s.systems(func(a *Assignment) bool { return a.IsActive }), false
}

func (s *Scope) systems(match func(*Assignment) bool) []System {
	var out []System
	for i := range s.rows {
		a := &s.rows[i]
		if match(a) && (len(out) == 0 || out[len(out)-1].ID != a.SystemID) { // rows are sorted by slug
			out = append(out, System{ID: a.SystemID, Slug: a.SystemSlug, Name: a.SystemName})
		}
	}
	return out
}

// Assignments are the staff caller's assignments, active and inactive (nil for any other
// caller), as Assignments returns them: shared, read only.
func (s *Scope) Assignments() []Assignment { return s.rows }

// RequireAnyAdmin is the ANY_ADMIN check: 403 with the default text.
func RequireAnyAdmin(e *core.RequestEvent) error {
	s, err := For(e)
	if err != nil {
		return err
	}
	if !s.AnyAdmin() {
		return apikit.PermissionDenied("")
	}
	return nil
}

// RequireAdmin is the split level check of §1.3/§1.7 for ADMIN(S) with S named by the request
// (call it once S has been looked up): a caller with no admin scope at all fails ANY_ADMIN and
// gets the default 403 text; a caller with some admin scope that lacks S gets denied, the
// endpoint's own text ("" = the default text).
func RequireAdmin(e *core.RequestEvent, systemID, denied string) error {
	s, err := For(e)
	if err != nil {
		return err
	}
	if !s.AnyAdmin() {
		return apikit.PermissionDenied("")
	}
	if !s.IsAdmin(systemID) {
		return apikit.PermissionDenied(denied)
	}
	return nil
}

// RequireSuperuser is SUPERUSER checked by a handler on an ANY_ADMIN endpoint ("ANY_ADMIN;
// non-superusers → 403 <text>"), with the same split as RequireAdmin: no admin scope at all →
// the default text; an admin who is not a superuser → denied.
func RequireSuperuser(e *core.RequestEvent, denied string) error {
	s, err := For(e)
	if err != nil {
		return err
	}
	if !s.AnyAdmin() {
		return apikit.PermissionDenied("")
	}
	if !s.IsSuperuser() {
		return apikit.PermissionDenied(denied)
	}
	return nil
}

// RequireMember is MEMBER(S) with S named by the request (the route requires STAFF): 403 with
// denied ("" = the default text).
func RequireMember(e *core.RequestEvent, systemID, denied string) error {
	s, err := For(e)
	if err != nil {
		return err
	}
	if !s.IsMember(systemID) {
		return apikit.PermissionDenied(denied)
	}
	return nil
}

// Checker is the apikit.LevelChecker of the route tables.
type Checker struct{}

// CheckLevel implements apikit.LevelChecker: the route's Level for an authenticated staff
// caller; any Level it does not know is refused.
func (Checker) CheckLevel(e *core.RequestEvent, access apikit.Access) error {
	s, err := For(e)
	if err != nil {
		return err
	}
	ok := false
	switch access.Level {
	case apikit.LevelNone:
		ok = true
	case apikit.LevelSuperuser:
		ok = s.IsSuperuser()
	case apikit.LevelAnyAdmin:
		ok = s.AnyAdmin()
	case apikit.LevelAdmin:
		ok = anyOf(access.Systems, s.IsAdminSlug)
	case apikit.LevelMember:
		ok = anyOf(access.Systems, s.IsMemberSlug)
	}
	if !ok {
		return apikit.PermissionDenied(access.Denied)
	}
	return nil
}

// anyOf reports whether test holds for any slug of a comma-separated list.
func anyOf(slugs string, test func(string) bool) bool {
	for slugs != "" {
		var slug string
		slug, slugs, _ = strings.Cut(slugs, ",")
		if slug != "" && test(slug) {
			return true
		}
	}
	return false
}
