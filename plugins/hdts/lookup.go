package hdts

import (
	"database/sql"
	"errors"
	"net/http"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/profiles"
	"gatehouse/plugins/realm"
)

const scopeUsersRead = "users:read"

// lookupAnswer is the body of GET /api/v1/hdts/users/{user_id}/.
type lookupAnswer struct {
	Type string `json:"type"`
	Data any    `json:"data"`
}

// lookupUser serves GET /api/v1/hdts/users/{user_id}/ (§5.12.19): MEMBER(hdts) (the route's
// level), or an API key with users:read that is unbound or bound to hdts (employee tokens are
// refused by the route's Access). The id is looked up in users first, then in employees: the two id spaces never mix.
func (p *plugin) lookupUser(e *core.RequestEvent) error {
	caller := apikit.CallerOf(e)
	if caller == nil {
		return apikit.TokenNotValid()
	}
	if caller.Kind == apikit.KindService {
		if system := caller.Record.GetString("system"); system != "" {
			var slug string
			err := p.app.DB().Select("slug").From("systems").Where(dbx.HashExp{"id": system}).Row(&slug)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if slug != profiles.HDTSSlug {
				return apikit.PermissionDenied("")
			}
		}
	}

	id := e.Request.PathValue("user_id")
	if user, err := realm.Staff.Find(p.app, id); err == nil {
		var n int
		err := p.app.DB().Select("COUNT(*)").From("user_system_roles a").
			InnerJoin("systems s", dbx.NewExp("s.id = a.system")).
			Where(dbx.HashExp{"a.user": user.Id, "s.slug": profiles.HDTSSlug}).Row(&n)
		if err != nil {
			return err
		}
		if n == 0 {
			return apikit.NotFound("User not found in HDTS")
		}
		out, err := profiles.UserProfile(p.app, p.kit.AppURL(), user, profiles.HDTSSlug)
		if err != nil {
			return err
		}
		return apikit.WriteJSON(e, http.StatusOK, lookupAnswer{Type: "user", Data: out})
	} else if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	employee, err := realm.Employee.Find(p.app, id)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return apikit.NotFound(msgUserNotFound)
		}
		return err
	}
	out, err := profiles.EmployeeProfile(p.app, p.kit.AppURL(), employee)
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusOK, lookupAnswer{Type: "employee", Data: out})
}
