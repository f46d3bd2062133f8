package tts

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/permissions"
	"gatehouse/plugins/profiles"
)

// Messages and limits of §5.13.10 and §5.13.11.
const (
	msgUserNotFound = "User not found."
	msgIDsRequired  = "employee_cookie_ids array is required."
	msgIDsNotArray  = "employee_cookie_ids must be an array."
	msgIDsNotString = "All employee_cookie_ids must be strings."
	msgIDsTooMany   = "At most 200 ids may be requested."
	maxUsersInfo    = 200
)

// userInfo is TTSUserInfo (§4.10).
type userInfo struct {
	ID         string  `json:"id"`
	FirstName  string  `json:"first_name"`
	LastName   string  `json:"last_name"`
	Email      string  `json:"email"`
	Department *string `json:"department"`
	Position   *string `json:"position"` // always null
	IsActive   bool    `json:"is_active"`
	DateJoined string  `json:"date_joined"`
}

// visibleSystems is the visibility of §5.13.10: all (superuser, unbound key), or the ids of the
// systems whose users the caller sees (a bound key: its system; staff: tts/hdts where the
// caller holds an active assignment; possibly none).
func visibleSystems(e *core.RequestEvent) (ids []string, all bool, err error) {
	c := apikit.CallerOf(e)
	if c != nil && c.Kind == apikit.KindService {
		if bound := c.Record.GetString("system"); bound != "" {
			return []string{bound}, false, nil
		}
		return nil, true, nil
	}
	s, err := permissions.For(e)
	if err != nil {
		return nil, false, err
	}
	if s.IsSuperuser() {
		return nil, true, nil
	}
	for _, a := range permissions.Active(s.Assignments()) {
		if (a.SystemSlug == SystemSlug || a.SystemSlug == "hdts") && (len(ids) == 0 || ids[len(ids)-1] != a.SystemID) {
			ids = append(ids, a.SystemID) // rows are sorted by slug: one id per system
		}
	}
	return ids, false, nil
}

// visibleUsers reads the TTSUserInfo of the requested ids that the caller sees.
func visibleUsers(e *core.RequestEvent, ids []string) (map[string]userInfo, error) {
	out := map[string]userInfo{}
	systems, all, err := visibleSystems(e)
	if err != nil || len(ids) == 0 || (!all && len(systems) == 0) {
		return out, err
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	q := e.App.DB().Select("u.id AS id", "u.first_name AS first_name", "u.last_name AS last_name", "u.email AS email",
		"u.department AS department", "u.is_active AS is_active", "u.created AS created").
		From("users u").Where(dbx.In("u.id", args...))
	if !all {
		params := dbx.Params{}
		names := make([]string, len(systems))
		for i, s := range systems {
			key := "vs" + strconv.Itoa(i)
			params[key], names[i] = s, "{:"+key+"}"
		}
		q = q.AndWhere(dbx.NewExp("EXISTS (SELECT 1 FROM user_system_roles a WHERE a.user = u.id AND a.system IN ("+
			strings.Join(names, ", ")+"))", params))
	}
	var rows []dbx.NullStringMap
	if err := q.All(&rows); err != nil {
		return nil, err
	}
	for _, r := range rows {
		created, _ := types.ParseDateTime(r["created"].String)
		out[r["id"].String] = userInfo{ID: r["id"].String, FirstName: r["first_name"].String, LastName: r["last_name"].String,
			Email: r["email"].String, Department: nullable(r["department"].String), IsActive: truthy(r["is_active"].String),
			DateJoined: profiles.Timestamp(created)}
	}
	return out, nil
}

// GET /api/v1/tts/user-info/{user_id}/ (§5.13.10).
func (p *plugin) userInfo(e *core.RequestEvent) error {
	id := e.Request.PathValue("user_id")
	users, err := visibleUsers(e, []string{id})
	if err != nil {
		return err
	}
	u, ok := users[id]
	if !ok {
		return apikit.NotFound(msgUserNotFound)
	}
	return apikit.WriteJSON(e, http.StatusOK, u)
}

// POST /api/v1/tts/users-info/ (§5.13.11).
func (p *plugin) usersInfo(e *core.RequestEvent) error {
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return err
	}
	raw, present := body.Raw("employee_cookie_ids")
	var items []json.RawMessage
	switch {
	case !present || string(raw) == "null":
		return apikit.InvalidField("employee_cookie_ids", msgIDsRequired)
	case len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &items) != nil:
		return apikit.InvalidField("employee_cookie_ids", msgIDsNotArray)
	case len(items) == 0:
		return apikit.InvalidField("employee_cookie_ids", msgIDsRequired)
	case len(items) > maxUsersInfo:
		return apikit.InvalidField("employee_cookie_ids", msgIDsTooMany)
	}
	ids := make([]string, 0, len(items))
	seen := map[string]bool{}
	for _, it := range items {
		var id string
		if len(it) == 0 || it[0] != '"' || json.Unmarshal(it, &id) != nil {
			return apikit.InvalidField("employee_cookie_ids", msgIDsNotString)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	users, err := visibleUsers(e, ids)
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusOK, users)
}
