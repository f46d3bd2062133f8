package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// The base collections of spec §2.4–§2.19. Every API rule stays nil (superusers only).

func init() {
	m.Register(upBaseCollections, downBaseCollections)
}

// baseCollectionNames lists the collections of this migration in creation order (a collection
// only refers to collections created before it); down deletes them in reverse.
var baseCollectionNames = []string{
	"systems", "roles", "user_system_roles", "sessions", "mfa_challenges", "otp_codes",
	"recovery_codes", "password_reset_tokens", "invitations", "captcha_challenges", "api_keys",
	"auth_failures", "tts_round_robin_state", "tts_round_robin_picks", "email_outbox",
	"audit_log", "signing_keys",
}

var principalTypes = []string{"staff", "employee"}

func upBaseCollections(app core.App) error {
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		return err
	}
	employees, err := app.FindCollectionByNameOrId("employees")
	if err != nil {
		return err
	}

	// §2.4
	systems := newBaseCollection("systems",
		&core.TextField{Name: "name", Required: true, Min: 1, Max: 255},
		&core.TextField{Name: "slug", Required: true, Min: 1, Max: 50, Pattern: `^[a-z0-9][a-z0-9_-]*$`},
		&core.URLField{Name: "url"},
	)
	systems.AddIndex("idx_systems_name", true, "`name` COLLATE NOCASE", "")
	systems.AddIndex("idx_systems_slug", true, "`slug`", "")
	if err := app.Save(systems); err != nil {
		return err
	}

	// §2.5
	roles := newBaseCollection("roles",
		&core.TextField{Name: "name", Required: true, Min: 1, Max: 150},
		relationField("system", systems.Id, true, true),
		&core.TextField{Name: "description", Max: 1000},
		&core.BoolField{Name: "is_custom"},
	)
	// Exact case on purpose: seed data holds both `Admin` and `ADMIN` in bms.
	roles.AddIndex("idx_roles_system_name", true, "`system`, `name`", "")
	if err := app.Save(roles); err != nil {
		return err
	}

	// §2.6
	assignments := newBaseCollection("user_system_roles",
		relationField("user", users.Id, true, true),
		relationField("system", systems.Id, true, true),
		relationField("role", roles.Id, true, true),
		&core.BoolField{Name: "is_active"},
		&core.JSONField{Name: "settings", MaxSize: 16384},
		&core.AutodateField{Name: "assigned_at", OnCreate: true},
		&core.DateField{Name: "last_logged_on"},
	)
	assignments.AddIndex("idx_user_system_roles_user_system_role", true, "`user`, `system`, `role`", "")
	assignments.AddIndex("idx_user_system_roles_system_role_is_active", false, "`system`, `role`, `is_active`", "")
	assignments.AddIndex("idx_user_system_roles_user", false, "`user`", "")
	if err := app.Save(assignments); err != nil {
		return err
	}

	// §2.7
	sessions := newBaseCollection("sessions",
		userTypeField(),
		relationField("user", users.Id, false, true),
		relationField("employee", employees.Id, false, true),
		&core.TextField{Name: "refresh_jti_hash", Hidden: true},
		&core.TextField{Name: "previous_jti_hash", Hidden: true},
		&core.DateField{Name: "rotated_at"},
		countField("generation"),
		&core.SelectField{Name: "login_method", MaxSelect: 1, Values: []string{
			"password", "password+totp", "password+email", "password+recovery_code",
		}},
		&core.TextField{Name: "ip"},
		&core.TextField{Name: "user_agent", Max: 512},
		&core.DateField{Name: "last_used_at"},
		&core.DateField{Name: "expires_at"},
		&core.DateField{Name: "absolute_expires_at"},
		&core.DateField{Name: "revoked_at"},
		&core.SelectField{Name: "revoked_reason", MaxSelect: 1, Values: []string{
			"logout", "reuse_detected", "password_change", "password_reset", "security_change",
			"user_deactivated", "employee_rejected", "user_revoked", "slug_renamed",
		}},
	)
	sessions.AddIndex("idx_sessions_refresh_jti_hash", true, "`refresh_jti_hash`", "")
	sessions.AddIndex("idx_sessions_user", false, "`user`", "")
	sessions.AddIndex("idx_sessions_employee", false, "`employee`", "")
	if err := app.Save(sessions); err != nil {
		return err
	}

	// §2.8
	mfaChallenges := newBaseCollection("mfa_challenges",
		&core.TextField{Name: "jti_hash", Hidden: true},
		userTypeField(),
		relationField("user", users.Id, false, true),
		relationField("employee", employees.Id, false, true),
		&core.JSONField{Name: "methods"},
		countField("failed_attempts"),
		&core.DateField{Name: "expires_at"},
		&core.DateField{Name: "consumed_at"},
		&core.TextField{Name: "ip"},
	)
	mfaChallenges.AddIndex("idx_mfa_challenges_jti_hash", true, "`jti_hash`", "")
	if err := app.Save(mfaChallenges); err != nil {
		return err
	}

	// §2.9
	otpCodes := newBaseCollection("otp_codes",
		userTypeField(),
		relationField("user", users.Id, false, true),
		relationField("employee", employees.Id, false, true),
		&core.SelectField{Name: "purpose", MaxSelect: 1, Values: []string{"login", "manage", "setup"}},
		&core.TextField{Name: "code_hash", Hidden: true},
		countField("attempts"),
		&core.DateField{Name: "expires_at"},
		&core.DateField{Name: "used_at"},
	)
	otpCodes.AddIndex("idx_otp_codes_user_type_user_employee_purpose_created", false,
		"`user_type`, `user`, `employee`, `purpose`, `created`", "")
	if err := app.Save(otpCodes); err != nil {
		return err
	}

	// §2.10
	recoveryCodes := newBaseCollection("recovery_codes",
		userTypeField(),
		relationField("user", users.Id, false, true),
		relationField("employee", employees.Id, false, true),
		&core.TextField{Name: "code_hash", Hidden: true},
		&core.DateField{Name: "used_at"},
	)
	if err := app.Save(recoveryCodes); err != nil {
		return err
	}

	// §2.11
	resetTokens := newBaseCollection("password_reset_tokens",
		userTypeField(),
		relationField("user", users.Id, false, true),
		relationField("employee", employees.Id, false, true),
		&core.TextField{Name: "token_hash", Hidden: true},
		&core.DateField{Name: "expires_at"},
		&core.DateField{Name: "used_at"},
	)
	resetTokens.AddIndex("idx_password_reset_tokens_token_hash", true, "`token_hash`", "")
	if err := app.Save(resetTokens); err != nil {
		return err
	}

	// §2.12
	invitations := newBaseCollection("invitations",
		&core.EmailField{Name: "email"},
		relationField("system", systems.Id, false, true),
		relationField("role", roles.Id, false, true),
		relationField("invited_by", users.Id, false, false),
		&core.TextField{Name: "token_hash", Hidden: true},
		&core.JSONField{Name: "profile"},
		&core.DateField{Name: "expires_at"},
		&core.DateField{Name: "accepted_at"},
		relationField("accepted_user", users.Id, false, false),
		&core.DateField{Name: "revoked_at"},
		relationField("revoked_by", users.Id, false, false),
	)
	invitations.AddIndex("idx_invitations_email_system", false, "`email`, `system`", "")
	invitations.AddIndex("idx_invitations_token_hash", true, "`token_hash`", "")
	if err := app.Save(invitations); err != nil {
		return err
	}

	// §2.13
	captchas := newBaseCollection("captcha_challenges",
		&core.TextField{Name: "answer_hash", Hidden: true},
		&core.DateField{Name: "expires_at"},
		&core.DateField{Name: "guessed_at"},
		&core.DateField{Name: "solved_at"},
		&core.DateField{Name: "redeemed_at"},
		&core.TextField{Name: "ip"},
	)
	if err := app.Save(captchas); err != nil {
		return err
	}

	// §2.14
	apiKeys := newBaseCollection("api_keys",
		&core.TextField{Name: "name", Required: true, Max: 100},
		&core.TextField{Name: "key_prefix", Min: 8, Max: 8},
		&core.TextField{Name: "key_hash", Hidden: true},
		&core.SelectField{Name: "scopes", MaxSelect: 3, Values: []string{
			"users:read", "round_robin:read", "round_robin:write",
		}},
		relationField("system", systems.Id, false, true),
		&core.BoolField{Name: "is_active"},
		&core.DateField{Name: "expires_at"},
		&core.DateField{Name: "last_used_at"},
	)
	apiKeys.AddIndex("idx_api_keys_key_prefix", true, "`key_prefix`", "")
	if err := app.Save(apiKeys); err != nil {
		return err
	}

	// §2.15
	authFailures := newBaseCollection("auth_failures",
		&core.SelectField{Name: "kind", MaxSelect: 1, Values: []string{"password", "otp"}},
		&core.TextField{Name: "email"},
		&core.TextField{Name: "ip"},
		userTypeField(),
		&core.TextField{Name: "principal_id"},
		&core.DateField{Name: "occurred_at"},
	)
	authFailures.AddIndex("idx_auth_failures_email_kind_occurred_at", false, "`email`, `kind`, `occurred_at`", "")
	authFailures.AddIndex("idx_auth_failures_ip_kind_occurred_at", false, "`ip`, `kind`, `occurred_at`", "")
	authFailures.AddIndex("idx_auth_failures_user_type_principal_id_kind_occurred_at", false,
		"`user_type`, `principal_id`, `kind`, `occurred_at`", "")
	if err := app.Save(authFailures); err != nil {
		return err
	}

	// §2.16
	rrState := newBaseCollection("tts_round_robin_state",
		relationField("role", roles.Id, false, true),
		relationField("user", users.Id, false, true),
		&core.DateField{Name: "last_assigned_at"},
		countField("assigned_count"),
	)
	rrState.AddIndex("idx_tts_round_robin_state_role_user", true, "`role`, `user`", "")
	if err := app.Save(rrState); err != nil {
		return err
	}

	rrPicks := newBaseCollection("tts_round_robin_picks",
		relationField("role", roles.Id, false, true),
		&core.TextField{Name: "ticket_id", Required: true, Min: 1, Max: 100},
		relationField("user", users.Id, false, false),
	)
	rrPicks.AddIndex("idx_tts_round_robin_picks_role_ticket_id", true, "`role`, `ticket_id`", "")
	if err := app.Save(rrPicks); err != nil {
		return err
	}

	// §2.17 (rendered bodies can exceed PocketBase's default 5000-character text limit)
	outbox := newBaseCollection("email_outbox",
		&core.EmailField{Name: "to"},
		&core.TextField{Name: "template"},
		&core.TextField{Name: "subject"},
		&core.TextField{Name: "text_body", Max: 1 << 20},
		&core.TextField{Name: "html_body", Max: 1 << 20},
		&core.SelectField{Name: "status", MaxSelect: 1, Values: []string{"pending", "sent", "failed", "disabled"}},
		countField("attempts"),
		&core.DateField{Name: "next_attempt_at"},
		&core.TextField{Name: "last_error"},
		&core.DateField{Name: "sent_at"},
	)
	if err := app.Save(outbox); err != nil {
		return err
	}

	// §2.18
	auditLog := newBaseCollection("audit_log",
		&core.TextField{Name: "event"},
		&core.BoolField{Name: "success"},
		&core.SelectField{Name: "actor_type", MaxSelect: 1, Values: []string{
			"staff", "employee", "service", "anonymous", "system",
		}},
		&core.TextField{Name: "actor_id"},
		&core.TextField{Name: "target_type"},
		&core.TextField{Name: "target_id"},
		&core.TextField{Name: "system"},
		&core.TextField{Name: "ip"},
		&core.TextField{Name: "user_agent", Max: 512},
		&core.JSONField{Name: "details"},
	)
	auditLog.AddIndex("idx_audit_log_event_created", false, "`event`, `created`", "")
	auditLog.AddIndex("idx_audit_log_actor_id", false, "`actor_id`", "")
	auditLog.AddIndex("idx_audit_log_target_id", false, "`target_id`", "")
	if err := app.Save(auditLog); err != nil {
		return err
	}

	// §2.19
	signingKeys := newBaseCollection("signing_keys",
		&core.TextField{Name: "kid"},
		&core.SelectField{Name: "alg", MaxSelect: 1, Values: []string{"EdDSA"}},
		&core.TextField{Name: "public_key"},
		&core.TextField{Name: "private_key", Hidden: true},
		&core.SelectField{Name: "status", MaxSelect: 1, Values: []string{"active", "retired"}},
		&core.DateField{Name: "activated_at"},
		&core.DateField{Name: "retired_at"},
	)
	signingKeys.AddIndex("idx_signing_keys_kid", true, "`kid`", "")
	return app.Save(signingKeys)
}

// newBaseCollection builds a base collection with nil API rules and created/updated last.
func newBaseCollection(name string, fields ...core.Field) *core.Collection {
	c := core.NewBaseCollection(name)
	c.ListRule = nil
	c.ViewRule = nil
	c.CreateRule = nil
	c.UpdateRule = nil
	c.DeleteRule = nil
	c.Fields.Add(fields...)
	ensureTimestampsLast(c)
	return c
}

// relationField is a single relation; cascade=false means PocketBase clears it when the target
// is deleted ("set null on delete").
func relationField(name, collectionId string, required, cascade bool) *core.RelationField {
	return &core.RelationField{
		Name:          name,
		CollectionId:  collectionId,
		MaxSelect:     1,
		Required:      required,
		CascadeDelete: cascade,
	}
}

func userTypeField() *core.SelectField {
	return &core.SelectField{Name: "user_type", MaxSelect: 1, Values: principalTypes}
}

func countField(name string) *core.NumberField {
	return &core.NumberField{Name: name, OnlyInt: true, Min: types.Pointer(0.0)}
}

func downBaseCollections(app core.App) error {
	for i := len(baseCollectionNames) - 1; i >= 0; i-- {
		c, err := app.FindCollectionByNameOrId(baseCollectionNames[i])
		if err != nil {
			continue // already gone
		}
		if err := app.Delete(c); err != nil {
			return err
		}
	}
	return nil
}
