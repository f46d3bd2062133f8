package accounts

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/profiles"
	"gatehouse/plugins/realm"
	"gatehouse/plugins/tokens"
)

// sessionJSON is Session (§4.12).
type sessionJSON struct {
	ID                string `json:"id"`
	UserType          string `json:"user_type"`
	Current           bool   `json:"current"`
	LoginMethod       string `json:"login_method"`
	IP                string `json:"ip"`
	UserAgent         string `json:"user_agent"`
	CreatedAt         string `json:"created_at"`
	LastUsedAt        string `json:"last_used_at"`
	ExpiresAt         string `json:"expires_at"`
	AbsoluteExpiresAt string `json:"absolute_expires_at"`
}

func callerType(c *apikit.Caller) string {
	if c.Kind == apikit.KindEmployee {
		return realm.TypeEmployee
	}
	return realm.TypeStaff
}

// listSessions is GET /api/v1/users/sessions/ (§5.15.6): the caller's live sessions.
func (p *plugin) listSessions(e *core.RequestEvent) error {
	params := e.Request.URL.Query()
	params.Del("ordering") // newest first, fixed; neither is documented here (§5.15.6): ignored
	params.Del("search")   // like any unknown parameter (§1.8)
	q, err := apikit.ParsePageQuery(params, nil)
	if err != nil {
		return err
	}
	caller := apikit.CallerOf(e)
	rows, count, err := tokens.LiveSessions(e.App, callerType(caller), caller.Record.Id, q.Size, q.Offset())
	if err != nil {
		return err
	}
	items := make([]sessionJSON, 0, len(rows))
	for _, s := range rows {
		items = append(items, sessionJSON{
			ID: s.Id, UserType: s.GetString("user_type"), Current: s.Id == caller.SessionID,
			LoginMethod: s.GetString("login_method"), IP: s.GetString("ip"), UserAgent: s.GetString("user_agent"),
			CreatedAt: profiles.Timestamp(s.GetDateTime("created")), LastUsedAt: profiles.Timestamp(s.GetDateTime("last_used_at")),
			ExpiresAt: profiles.Timestamp(s.GetDateTime("expires_at")), AbsoluteExpiresAt: profiles.Timestamp(s.GetDateTime("absolute_expires_at")),
		})
	}
	page, err := apikit.NewPage(p.kit.AppURL(), e.Request, q, count, items)
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusOK, page)
}

// deleteSession is DELETE /api/v1/users/sessions/{id}/: a live session of the caller, else 404.
func (p *plugin) deleteSession(e *core.RequestEvent) error {
	caller := apikit.CallerOf(e)
	sid := e.Request.PathValue("id")
	if !tokens.IsLiveSessionOf(e.App, sid, callerType(caller), caller.Record.Id) {
		return apikit.NotFound("Session not found.")
	}
	// the revocation and its audit row commit together (§1.10)
	err := e.App.RunInTransaction(func(tx core.App) error {
		if _, err := tokens.RevokeSession(tx, sid, tokens.ReasonUserRevoked); err != nil {
			return err
		}
		entry := audit.FromRequest(e, "session.revoked", true)
		entry.ActorType, entry.ActorID = callerType(caller), caller.Record.Id
		entry.TargetType, entry.TargetID = "session", sid
		return audit.Log(tx, entry)
	})
	if err != nil {
		return err
	}
	if sid == caller.SessionID {
		p.tokens.ClearCookies(e)
	}
	return e.NoContent(http.StatusNoContent)
}

// deleteOtherSessions is DELETE /api/v1/users/sessions/: every live session but the current one.
func (p *plugin) deleteOtherSessions(e *core.RequestEvent) error {
	caller := apikit.CallerOf(e)
	var n int
	err := e.App.RunInTransaction(func(tx core.App) error {
		var err error
		n, err = tokens.RevokeLiveSessions(tx, callerType(caller), caller.Record.Id, tokens.ReasonUserRevoked, caller.SessionID)
		if err != nil || n == 0 {
			return err
		}
		entry := audit.FromRequest(e, "session.revoked", true)
		entry.ActorType, entry.ActorID = callerType(caller), caller.Record.Id
		entry.Details = map[string]any{"count": n}
		return audit.Log(tx, entry)
	})
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusOK, map[string]int{"revoked": n})
}
