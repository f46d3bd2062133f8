// Package hooks binds the data invariants of spec/API.md §2 to record events, so that they
// hold whoever writes: our endpoints, the admin dashboard or PocketBase's records API.
package hooks

import (
	"github.com/pocketbase/pocketbase/core"
)

// Register binds every invariant hook. It touches no data, so it is safe before bootstrap.
func Register(app core.App) {
	// Bound first: the handlers below (username derivation) read the normalised email.
	emailCollections := []string{"users", "employees", "invitations", "auth_failures"}
	app.OnRecordCreate(emailCollections...).BindFunc(normaliseEmail("email"))
	app.OnRecordUpdate(emailCollections...).BindFunc(normaliseEmail("email"))

	app.OnRecordCreate("users", "employees").BindFunc(checkEmailLength)
	app.OnRecordUpdate("users", "employees").BindFunc(checkEmailLength)
	app.OnRecordCreate("users", "employees").BindFunc(createAccount)
	app.OnRecordUpdate("users", "employees").BindFunc(updateAccount)
	app.OnRecordCreateRequest("users", "user_system_roles", "api_keys").BindFunc(trueOnDashboardCreate("is_active"))
	app.OnRecordCreateRequest("roles").BindFunc(trueOnDashboardCreate("is_custom"))
	app.OnRecordCreateRequest("users", "employees").BindFunc(checkSecondFactorFields)
	app.OnRecordUpdateRequest("users", "employees").BindFunc(checkSecondFactorFields)
	app.OnRecordUpdateRequest("users", "employees").BindFunc(revokeOnDashboardSecurityChange)

	app.OnRecordCreate("systems").BindFunc(checkSystemURL)
	app.OnRecordUpdate("systems").BindFunc(checkSystemURL)
	app.OnRecordCreate("systems").BindFunc(checkNewSystemSlug)
	app.OnRecordCreate("systems").BindFunc(createSystemWithAdminRole)
	app.OnRecordUpdate("systems").BindFunc(renameSystem)
	app.OnRecordDelete("systems").BindFunc(keepBuiltinSystems)
	app.OnRecordUpdate("roles").BindFunc(keepImmutable("system"))
	app.OnRecordUpdate("roles").BindFunc(keepDefaultRoleName)
	app.OnRecordDelete("roles").BindFunc(keepDefaultRoles)
	app.OnRecordDelete("user_system_roles").BindFunc(dropRoundRobinState)
	app.OnRecordUpdate("user_system_roles").BindFunc(keepImmutable("user", "system"))
	app.OnRecordCreate("user_system_roles", "invitations").BindFunc(roleMatchesSystem)
	app.OnRecordUpdate("user_system_roles", "invitations").BindFunc(roleMatchesSystem)
	app.OnRecordCreate("invitations").BindFunc(onePendingInvitation)
	app.OnRecordUpdate("invitations").BindFunc(onePendingInvitation)
	app.OnRecordCreate("user_system_roles").BindFunc(defaultAssignmentSettings)
	app.OnRecordUpdate("user_system_roles").BindFunc(defaultAssignmentSettings)
	app.OnRecordCreate("auth_failures").BindFunc(stampOccurredAt)

	app.OnRecordUpdate("signing_keys").BindFunc(keepAnActiveSigningKey)
	app.OnRecordDelete("signing_keys").BindFunc(keepAnActiveSigningKey)
}
