package hooks

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/ozzo-validation/v4/is"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"gatehouse/plugins/permissions"
	"gatehouse/plugins/realm"
	"gatehouse/plugins/tokens"
)

// AdminRoleName is the role whose active assignment makes a user ADMIN(S) (§1.7).
const AdminRoleName = permissions.AdminRole

// BuiltinSystems are the systems the migrations create: never deleted, their slugs never
// changed (§5.9), whoever writes. ReservedSlug is never a system's slug (§2.4).
var BuiltinSystems = []string{"hdts", "tts"}

const ReservedSlug = "auth"

// Messages of the system hooks (the API answers the same rules with its own envelope first).
const (
	MsgBuiltinNoDelete = "Built-in systems cannot be deleted."
	MsgSlugBuiltin     = "The slug of a built-in system cannot be changed."
	MsgSlugReserved    = "This slug is reserved."
	MsgInvalidURL      = "Enter a valid URL."
)

// ValidHTTPURL is the rule of systems.url (§2.4): an absolute http or https URL that the
// field (PocketBase's is.URL) stores too — what it refuses (over 2,082 characters, a 6-digit
// port, a host starting with "-") fails here, not in a failed save. The systems endpoints answer
// it with their own envelope first; checkSystemURL holds it for the dashboard.
func ValidHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && !strings.ContainsAny(s, " \t\r\n") &&
		is.URL.Validate(s) == nil
}

// checkSystemURL refuses a systems.url that is not an absolute http(s) URL (§2.4), whoever
// writes: the login's Redirect object hands it to browsers as it is (§4.3).
func checkSystemURL(e *core.RecordEvent) error {
	if v := e.Record.GetString("url"); v != "" && !ValidHTTPURL(v) {
		return validation.Errors{"url": validation.NewError("validation_invalid_url", MsgInvalidURL)}
	}
	return e.Next()
}

// keepBuiltinSystems refuses to delete hdts or tts (§5.9): their plugins, the HDTS_ADMIN and
// TTS_ADMIN levels and the employee profile depend on them.
func keepBuiltinSystems(e *core.RecordEvent) error {
	if slices.Contains(BuiltinSystems, e.Record.GetString("slug")) {
		return validation.Errors{"slug": validation.NewError("validation_builtin_system_delete", MsgBuiltinNoDelete)}
	}
	return e.Next()
}

// checkNewSystemSlug refuses the reserved slug on a new system (§2.4); renames are checked in
// renameSystem, which reads the stored row anyway.
func checkNewSystemSlug(e *core.RecordEvent) error {
	if e.Record.GetString("slug") == ReservedSlug {
		return validation.Errors{"slug": validation.NewError("validation_reserved_slug", MsgSlugReserved)}
	}
	return e.Next()
}

// createSystemWithAdminRole gives every new system its default Admin role in the same
// transaction (§2.4), whether the system comes from the API, the CLI or the dashboard.
func createSystemWithAdminRole(e *core.RecordEvent) error {
	return e.App.RunInTransaction(func(tx core.App) error {
		e.App = tx
		if err := e.Next(); err != nil {
			return err
		}
		existing, _ := tx.FindFirstRecordByFilter("roles", "system = {:s} && name = {:n}",
			map[string]any{"s": e.Record.Id, "n": AdminRoleName})
		if existing != nil {
			return nil
		}
		roles, err := tx.FindCachedCollectionByNameOrId("roles")
		if err != nil {
			return err
		}
		role := core.NewRecord(roles)
		role.Set("name", AdminRoleName)
		role.Set("system", e.Record.Id)
		role.Set("description", "Administrator role for "+e.Record.GetString("name"))
		role.Set("is_custom", false)
		return tx.Save(role)
	})
}

// keepImmutable restores fields that may never change after creation.
func keepImmutable(fields ...string) func(e *core.RecordEvent) error {
	return func(e *core.RecordEvent) error {
		orig, err := storedRecord(e)
		if err != nil {
			return err
		}
		for _, f := range fields {
			e.Record.Set(f, orig.Get(f))
		}
		return e.Next()
	}
}

// roleMatchesSystem enforces that a record's role belongs to its system (§2.6, §2.12).
func roleMatchesSystem(e *core.RecordEvent) error {
	roleID, systemID := e.Record.GetString("role"), e.Record.GetString("system")
	if roleID != "" && systemID != "" {
		role, err := e.App.FindRecordById("roles", roleID)
		if err == nil && role.GetString("system") != systemID {
			return validation.Errors{"role": validation.NewError("validation_role_system_mismatch",
				"The role must belong to the selected system.")}
		}
	}
	return e.Next()
}

// defaultAssignmentSettings fills settings with {"is_deployed": true} when empty and rejects a
// non-object or a non-boolean is_deployed (§2.6).
func defaultAssignmentSettings(e *core.RecordEvent) error {
	raw, _ := e.Record.Get("settings").(types.JSONRaw)
	if len(raw) == 0 || string(raw) == "null" {
		e.Record.Set("settings", map[string]any{"is_deployed": true})
		return e.Next()
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return validation.Errors{"settings": validation.NewError("validation_settings_object", "Expected a JSON object.")}
	}
	if v, ok := obj["is_deployed"]; ok {
		if _, isBool := v.(bool); !isBool {
			return validation.Errors{"settings": validation.NewError("validation_is_deployed_bool", "is_deployed must be a boolean.")}
		}
	}
	return e.Next()
}

// stampOccurredAt sets auth_failures.occurred_at to now unless a superuser gave one (§2.15).
func stampOccurredAt(e *core.RecordEvent) error {
	if e.Record.GetDateTime("occurred_at").IsZero() {
		e.Record.Set("occurred_at", types.NowDateTime())
	}
	return e.Next()
}

// renameSystem refuses a new slug for a built-in system (§5.9) and the reserved slug
// (§2.4), and otherwise ends every session of the users holding an assignment in a system whose
// slug changes (§3.5 slug_renamed), in the rename's transaction, whoever renames it (the API's
// forced rename or the dashboard): tokens naming the old slug never silently stay in use.
func renameSystem(e *core.RecordEvent) error {
	orig, err := storedRecord(e)
	if err != nil {
		return err
	}
	if orig.GetString("slug") == e.Record.GetString("slug") {
		return e.Next()
	}
	switch {
	case slices.Contains(BuiltinSystems, orig.GetString("slug")): // §5.9
		return validation.Errors{"slug": validation.NewError("validation_builtin_slug", MsgSlugBuiltin)}
	case e.Record.GetString("slug") == ReservedSlug: // §2.4
		return validation.Errors{"slug": validation.NewError("validation_reserved_slug", MsgSlugReserved)}
	}
	return e.App.RunInTransaction(func(tx core.App) error {
		e.App = tx
		if err := e.Next(); err != nil {
			return err
		}
		var users []struct {
			U string `db:"u"`
		}
		if err := tx.DB().NewQuery("SELECT DISTINCT [[user]] AS u FROM {{user_system_roles}} WHERE [[system]] = {:s}").
			Bind(dbx.Params{"s": e.Record.Id}).All(&users); err != nil {
			return err
		}
		for _, u := range users {
			if _, err := tokens.RevokeSessions(tx, realm.TypeStaff, u.U, tokens.ReasonSlugRenamed, ""); err != nil {
				return err
			}
		}
		return nil
	})
}

// keepDefaultRoleName refuses a new name for a default role (is_custom = false, §5.10.5): the
// Admin role especially, whose exact name is what grants ADMIN(S).
func keepDefaultRoleName(e *core.RecordEvent) error {
	orig, err := storedRecord(e)
	if err != nil {
		return err
	}
	if !orig.GetBool("is_custom") {
		if e.Record.GetString("name") != orig.GetString("name") {
			return validation.Errors{"name": validation.NewError("validation_default_role_name",
				"The name of a default role cannot be changed.")}
		}
		e.Record.Set("is_custom", false)
	}
	return e.Next()
}

// keepDefaultRoles refuses to delete a default role (is_custom = false, §5.10.6) whoever asks,
// the dashboard included. Deleting its system still takes it: PocketBase deletes the system
// first and its roles in the same transaction, so the system is gone by the time we look.
func keepDefaultRoles(e *core.RecordEvent) error {
	if !e.Record.GetBool("is_custom") {
		if _, err := e.App.FindRecordById("systems", e.Record.GetString("system")); err == nil {
			return validation.Errors{"is_custom": validation.NewError("validation_default_role_delete",
				"A default role cannot be deleted.")}
		}
	}
	return e.Next()
}

// dropRoundRobinState deletes the round-robin state of an assignment's (role, user) with the
// assignment (§5.11.7, §5.13.9), in its transaction, whoever deletes it.
func dropRoundRobinState(e *core.RecordEvent) error {
	return e.App.RunInTransaction(func(tx core.App) error {
		e.App = tx
		if err := e.Next(); err != nil {
			return err
		}
		_, err := tx.DB().Delete("tts_round_robin_state", dbx.HashExp{
			"role": e.Record.GetString("role"), "user": e.Record.GetString("user")}).Execute()
		return err
	})
}

// onePendingInvitation refuses a second pending invitation for the same (email, system)
// (§2.12), whoever writes it: a create, or an update that makes an invitation pending again
// (revoked_at cleared, expires_at moved). Pending is neither accepted nor revoked and not yet
// expired, so no index can hold it; the count and the write share one transaction on the
// single write connection, so parallel creates cannot both pass.
func onePendingInvitation(e *core.RecordEvent) error {
	r := e.Record
	expires := r.GetDateTime("expires_at")
	now := types.NowDateTime()
	if r.GetString("email") == "" || r.GetString("system") == "" || !r.GetDateTime("accepted_at").IsZero() ||
		!r.GetDateTime("revoked_at").IsZero() || expires.IsZero() || !expires.After(now) {
		return e.Next()
	}
	return e.App.RunInTransaction(func(tx core.App) error {
		e.App = tx
		n, err := tx.CountRecords("invitations",
			dbx.HashExp{"email": r.GetString("email"), "system": r.GetString("system"), "accepted_at": "", "revoked_at": ""},
			dbx.NewExp("[[expires_at]] > {:now}", dbx.Params{"now": now.String()}),
			dbx.Not(dbx.HashExp{"id": r.Id}))
		if err != nil {
			return err
		}
		if n > 0 {
			name := "this system"
			if sys, err := tx.FindRecordById("systems", r.GetString("system")); err == nil {
				name = sys.GetString("name")
			}
			return validation.Errors{"email": validation.NewError("validation_pending_invitation_exists",
				"A pending invitation for "+r.GetString("email")+" to "+name+" already exists.")}
		}
		return e.Next()
	})
}
