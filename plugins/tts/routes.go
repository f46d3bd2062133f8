package tts

import (
	"net/http"

	"gatehouse/plugins/apikit"
)

// Auth lines of §5.13 and §5.15.4.
var (
	ttsAdmin   = apikit.AdminOf(SystemSlug)                                  // TTS_ADMIN
	rrRead     = apikit.MemberOf(SystemSlug).OrService("round_robin:read")   // SERVICE(round_robin:read) or MEMBER(tts)
	rrWrite    = apikit.AdminOf(SystemSlug).OrService("round_robin:write")   // SERVICE(round_robin:write) or TTS_ADMIN
	userReader = apikit.MemberOf(SystemSlug, "hdts").OrService("users:read") // SERVICE(users:read), MEMBER(tts) or MEMBER(hdts)
)

// routes is the plugin's path table. GET /api/v1/tts/ (the discovery document) is served by
// plugins/apidocs.
func (p *plugin) routes() []apikit.Route {
	return []apikit.Route{
		{Method: http.MethodGet, Path: "/api/v1/tts/round-robin/", Access: rrRead, Handler: p.roundRobinStatus},
		{Method: http.MethodPost, Path: "/api/v1/tts/round-robin/", Access: rrWrite, Handler: p.roundRobinPick},

		{Method: http.MethodGet, Path: "/api/v1/tts/assign-agent-to-role/", Access: ttsAdmin, Page: true, Handler: p.listAgents},
		{Method: http.MethodPost, Path: "/api/v1/tts/assign-agent-to-role/", Access: ttsAdmin, Handler: p.assignAgent},
		{Method: http.MethodGet, Path: "/api/v1/tts/assign-role/", Access: ttsAdmin, Page: true, Handler: p.listAssignments},
		{Method: http.MethodGet, Path: "/assign-role/", Access: ttsAdmin, Page: true, Handler: p.listAssignments},
		{Method: http.MethodPut, Path: "/api/v1/tts/update-assignment/{assignment_id}/", Access: ttsAdmin, Handler: p.updateAssignment},
		{Method: http.MethodDelete, Path: "/api/v1/tts/update-assignment/{assignment_id}/", Access: ttsAdmin, Handler: p.deleteAssignment},

		// ADMIN(S) with S = ?system (default tts): ANY_ADMIN here, ADMIN(S) in the handler (§1.3)
		{Method: http.MethodGet, Path: "/api/v1/tts/create-role/", Access: apikit.AnyAdmin, Page: true, Handler: p.listRoles},
		{Method: http.MethodPost, Path: "/api/v1/tts/create-role/", Access: apikit.AnyAdmin, Handler: p.createRole},

		{Method: http.MethodGet, Path: "/api/v1/tts/user-info/{user_id}/", Access: userReader, Handler: p.userInfo},
		{Method: http.MethodPost, Path: "/api/v1/tts/users-info/", Access: userReader, Handler: p.usersInfo},
	}
}
