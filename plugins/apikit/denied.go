package apikit

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/audit"
)

// Audit events of refused requests (Appendix C).
const (
	EventAuthzDenied  = "authz.denied"  // any 403 permission_denied, CSRF failures included
	EventAPIKeyDenied = "apikey.denied" // an invalid or insufficient API key
)

// InvalidAPIKeyOf is InvalidAPIKey for a presented key that names the stored key keyID (right
// prefix; wrong secret, inactive or expired): its apikey.denied row targets that key.
func InvalidAPIKeyOf(keyID string) *Error {
	e := InvalidAPIKey()
	e.deniedKey = keyID
	return e
}

// auditDenied writes the audit row of a refused request (Appendix C): apikey.denied for a 401
// of an API key or a 403 of an API-key caller, authz.denied for any other 403 permission_denied.
// The row is written on its own (nothing else of the request commits); a lost row is logged by
// audit.Log and never changes the answer.
func auditDenied(e *core.RequestEvent, apiErr *Error) {
	caller := CallerOf(e)
	event := ""
	switch {
	case apiErr.Status == http.StatusUnauthorized && apiErr.Detail == DetailInvalidAPIKey:
		event = EventAPIKeyDenied
	case apiErr.Status == http.StatusForbidden && apiErr.Code == CodePermissionDenied:
		event = EventAuthzDenied
		if caller != nil && caller.Kind == KindService {
			event = EventAPIKeyDenied
		}
	default:
		return
	}
	entry := audit.FromRequest(e, event, false)
	if caller != nil && caller.Record != nil {
		entry.ActorType, entry.ActorID = callerActorType(caller.Kind), caller.Record.Id
	}
	if apiErr.deniedKey != "" {
		entry.TargetType, entry.TargetID = "api_key", apiErr.deniedKey
	}
	// the path names the resource (ids, slugs); the query is left out (it may hold a secret)
	entry.Details = map[string]any{"method": e.Request.Method, "path": e.Request.URL.Path, "detail": apiErr.Detail}
	_ = audit.Log(e.App, entry)
}

func callerActorType(kind PrincipalKind) string {
	switch kind {
	case KindStaff:
		return "staff"
	case KindEmployee:
		return "employee"
	}
	return audit.ActorService
}
