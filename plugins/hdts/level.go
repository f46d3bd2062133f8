package hdts

import (
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/profiles"
)

// hdtsStanding is the caller's permission level in system hdts (§1.7).
type hdtsStanding struct {
	admin  bool // HDTS_ADMIN = ADMIN(hdts)
	member bool // MEMBER(hdts)
}

// hdtsLevel reads the caller's standing in system hdts from the database (never from the
// token's roles claim, §1.5): a superuser is both; otherwise ADMIN(hdts) needs an active
// assignment of the role named exactly "Admin" in hdts and MEMBER(hdts) any active assignment
// there. Only an (active) staff caller holds either; employees and API keys hold none.
//
// This is the one place of the plugin that decides HDTS_ADMIN and MEMBER(hdts): when
// plugins/permissions lands, the routes declare apikit.AdminOf("hdts") / MemberOf("hdts") and
// this function goes.
func hdtsLevel(e *core.RequestEvent) (hdtsStanding, error) {
	caller := apikit.CallerOf(e)
	if caller == nil || caller.Kind != apikit.KindStaff || caller.Record == nil || !caller.Record.GetBool("is_active") {
		return hdtsStanding{}, nil
	}
	if caller.Record.GetBool("is_superuser") {
		return hdtsStanding{admin: true, member: true}, nil
	}
	var roles []struct {
		Name string `db:"name"`
	}
	err := e.App.DB().Select("r.name AS name").From("user_system_roles a").
		InnerJoin("systems s", dbx.NewExp("s.id = a.system")).
		InnerJoin("roles r", dbx.NewExp("r.id = a.role")).
		Where(dbx.HashExp{"a.user": caller.Record.Id, "a.is_active": true, "s.slug": profiles.HDTSSlug}).
		All(&roles)
	if err != nil {
		return hdtsStanding{}, err
	}
	st := hdtsStanding{member: len(roles) > 0}
	for _, r := range roles {
		if r.Name == "Admin" { // case-sensitive (§1.7)
			st.admin = true
		}
	}
	return st, nil
}

// requireHDTSAdmin is the HDTS_ADMIN check (403 with the default text).
func requireHDTSAdmin(e *core.RequestEvent) error {
	st, err := hdtsLevel(e)
	if err != nil {
		return err
	}
	if !st.admin {
		return apikit.PermissionDenied("")
	}
	return nil
}
