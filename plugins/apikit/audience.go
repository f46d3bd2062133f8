package apikit

import (
	"strings"

	"github.com/pocketbase/pocketbase/core"
)

// limiterAudience is the credential step of §7.2 on a PUBLIC route: "The credential middleware
// sets PocketBase's e.Auth for a valid access token or API key before the limiter runs, so that
// the limiter sees the right audience". A valid access token (the Authorization header, else
// the access_token cookie) sets e.Auth, so PocketBase's limiter applies the @auth rule; anything
// else leaves the request a guest, and nothing is answered. Unlike resolve, it stores no
// resolution: the handler of a PUBLIC route still has no caller (CallerOf is nil), and the
// route clears e.Auth after the limiter (bind). An API key is not looked at: PUBLIC routes
// accept none, and checking one would touch its last_used_at.
//
// A request without an access credential (the refresh hot path) costs two header look-ups.
func (k *Kit) limiterAudience(e *core.RequestEvent) {
	var raw string
	if h := e.Request.Header.Get("Authorization"); h != "" {
		scheme, token, _ := strings.Cut(strings.TrimSpace(h), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return
		}
		raw = strings.TrimSpace(token)
	} else if len(e.Request.Header["Cookie"]) > 0 {
		if c, err := e.Request.Cookie(AccessCookieName); err == nil {
			raw = c.Value
		}
	}
	if raw == "" {
		return
	}
	auth := k.authenticator()
	if auth == nil {
		return
	}
	var caller *Caller
	var err error
	if sa, ok := auth.(SharedAuthenticator); ok {
		caller, err = sa.AccessTokenShared(e, raw) // read only for e.Auth != nil; never handed on
	} else {
		caller, err = auth.AccessToken(e, raw)
	}
	if err == nil && caller != nil && caller.Record != nil && caller.Kind&(KindStaff|KindEmployee) != 0 {
		e.Auth = caller.Record
	}
}
