package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// The two auth collections of spec §2.2 (users, the default PocketBase collection reshaped) and
// §2.3 (employees).

func init() {
	m.Register(upAuthCollections, downAuthCollections)
}

// ASCII-only: Go's \w is already ASCII, but the class is spelled out so the intent survives a
// regex-engine change (§1.16: `^[\w.@+-]+$` with `\w` = `[A-Za-z0-9_]`).
const authUsernamePattern = `^[A-Za-z0-9_.@+-]+$`

// phone_number holds only the normalised E.164 form (§1.16); the endpoints normalise local
// `09…` numbers before saving.
const authPhonePattern = `^\+[1-9][0-9]{9,14}$`

func upAuthCollections(app core.App) error {
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		return err
	}
	recreated := false
	if n, err := app.CountRecords(users); err != nil {
		return err
	} else if n == 0 {
		// A new data dir: PocketBase's default users collection, still empty, is replaced by ours
		// under the same id, so Save creates the table with every column at once; updating it
		// would make PocketBase's sync add each new column under a temporary name and rename it
		// (two ALTER TABLEs per field, each re-parsing the schema: ~50 ms of a first start).
		if err := app.Delete(users); err != nil {
			return err
		}
		users = core.NewAuthCollection("users", users.Id)
		recreated = true
	}

	// PocketBase's default profile fields are not part of the contract.
	for _, name := range []string{"name", "avatar"} {
		users.Fields.RemoveByName(name)
	}
	users.OAuth2.MappedFields = core.OAuth2KnownFields{}

	users.Fields.Add(authAccountFields(users.Id, true)...)
	configureAuthCollection(users)
	if recreated {
		// status_by relates to users itself, which the validator finds only once it is stored:
		// the collection is created without it, then the field is added in its place.
		names := users.Fields.FieldNames()
		statusBy := users.Fields.GetByName("status_by")
		users.Fields.RemoveByName("status_by")
		if err := app.Save(users); err != nil {
			return err
		}
		for i, name := range names {
			if name == "status_by" {
				users.Fields.AddAt(i, statusBy)
				break
			}
		}
	}
	if err := app.Save(users); err != nil {
		return err
	}

	employees := core.NewAuthCollection("employees")
	employees.Fields.Add(authAccountFields(users.Id, false)...)
	configureAuthCollection(employees)
	return app.Save(employees)
}

// authAccountFields returns the non-system fields of §2.2 (staff = true) or §2.3 in spec order.
func authAccountFields(usersId string, staff bool) []core.Field {
	fields := []core.Field{
		&core.TextField{Name: "username", Required: true, Min: 1, Max: 150, Pattern: authUsernamePattern},
		&core.TextField{Name: "first_name", Max: 100},
		&core.TextField{Name: "middle_name", Max: 100},
		&core.TextField{Name: "last_name", Max: 100},
		&core.SelectField{Name: "suffix", MaxSelect: 1, Values: []string{"Jr.", "Sr.", "II", "III", "IV", "V"}},
		&core.TextField{Name: "phone_number", Max: 16, Pattern: authPhonePattern},
		&core.TextField{Name: "company_id", Max: 32},
		&core.SelectField{Name: "department", MaxSelect: 1, Values: []string{"IT Department", "Asset Department", "Budget Department"}},
		&core.SelectField{Name: "status", MaxSelect: 1, Values: []string{"Pending", "Approved", "Rejected"}},
		&core.BoolField{Name: "notified"},
		&core.FileField{
			Name:      "profile_picture",
			MaxSelect: 1,
			MaxSize:   2097152,
			MimeTypes: []string{"image/png", "image/jpeg", "image/gif", "image/webp"},
		},
	}
	if staff {
		fields = append(fields,
			&core.BoolField{Name: "is_active"},
			&core.BoolField{Name: "is_staff"},
			&core.BoolField{Name: "is_superuser"},
		)
	}
	return append(fields,
		&core.BoolField{Name: "otp_enabled"},
		&core.SelectField{Name: "otp_method", MaxSelect: 1, Values: []string{"totp", "email"}},
		&core.TextField{Name: "totp_secret", Hidden: true},
		&core.TextField{Name: "totp_pending_secret", Hidden: true},
		&core.DateField{Name: "totp_pending_expires", Hidden: true},
		&core.NumberField{Name: "totp_last_step", Hidden: true, OnlyInt: true, Min: types.Pointer(0.0)},
		&core.DateField{Name: "locked_until"},
		&core.DateField{Name: "lock_counter_reset_at", Hidden: true},
		&core.DateField{Name: "mfa_lock_started_at", Hidden: true},
		&core.NumberField{Name: "mfa_lock_window", Hidden: true, OnlyInt: true, Min: types.Pointer(0.0)},
		&core.DateField{Name: "last_login"},
		&core.RelationField{Name: "status_by", CollectionId: usersId, MaxSelect: 1, CascadeDelete: false},
		&core.DateField{Name: "status_at"},
	)
}

// configureAuthCollection applies what both auth collections share: closed API rules, PocketBase's
// own auth flows off, bcrypt cost 12, hidden emailVisibility, timestamps last, and the indexes.
func configureAuthCollection(c *core.Collection) {
	c.ListRule = nil
	c.ViewRule = nil
	c.CreateRule = nil
	c.UpdateRule = nil
	c.DeleteRule = nil
	c.AuthRule = nil
	c.ManageRule = nil

	c.PasswordAuth.Enabled = false
	c.OTP.Enabled = false
	c.MFA.Enabled = false
	c.OAuth2.Enabled = false
	// Alerts only follow PocketBase's own (disabled) auth flows; keep them off explicitly.
	c.AuthAlert.Enabled = false

	if pw, ok := c.Fields.GetByName(core.FieldNamePassword).(*core.PasswordField); ok {
		pw.Cost = 12
	}
	if ev, ok := c.Fields.GetByName(core.FieldNameEmailVisibility).(*core.BoolField); ok {
		ev.Hidden = true
	}

	ensureTimestampsLast(c)

	// Spec: unique lower(username). Usernames are ASCII-only (pattern above), and NOCASE folds
	// exactly the ASCII letters, so this is the same constraint.
	c.AddIndex("idx_"+c.Name+"_username", true, "`username` COLLATE NOCASE", "")
	c.AddIndex("idx_"+c.Name+"_company_id", true, "`company_id`", "")
	c.AddIndex("idx_"+c.Name+"_phone_number", true, "`phone_number`", "`phone_number` != ''")
	// Same name as PocketBase's default email index (AddIndex replaces it, and appends it last),
	// now case-insensitive: FindAuthRecordByEmail matches emails with COLLATE NOCASE. Not partial
	// like PocketBase's (WHERE `email` != ''): SQLite cannot use a partial index for
	// `email = ? COLLATE NOCASE`, so every login would scan the whole table (EXPLAIN QUERY PLAN:
	// SCAN users). Emails are required on both collections, so no WHERE clause is needed.
	c.AddIndex("idx_email_"+c.Id, true, "`email` COLLATE NOCASE", "")
}

// ensureTimestampsLast makes sure created/updated autodate fields exist and sit at the end of the
// field list (existing fields are moved, keeping their ids and columns).
func ensureTimestampsLast(c *core.Collection) {
	created, _ := c.Fields.GetByName("created").(*core.AutodateField)
	if created == nil {
		created = &core.AutodateField{Name: "created", OnCreate: true}
	}
	updated, _ := c.Fields.GetByName("updated").(*core.AutodateField)
	if updated == nil {
		updated = &core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true}
	}
	c.Fields.RemoveByName("created")
	c.Fields.RemoveByName("updated")
	c.Fields.Add(created, updated)
}

func downAuthCollections(app core.App) error {
	if employees, err := app.FindCollectionByNameOrId("employees"); err == nil {
		if err := app.Delete(employees); err != nil {
			return err
		}
	}

	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		return err
	}

	for _, f := range authAccountFields(users.Id, true) {
		users.Fields.RemoveByName(f.GetName())
	}
	for _, name := range []string{"username", "company_id", "phone_number"} {
		users.RemoveIndex("idx_users_" + name)
	}
	users.AddIndex("idx_email_"+users.Id, true, "`email`", "`email` != ''")

	// PocketBase's defaults from its 1640988000_init migration.
	users.Fields.Add(
		&core.TextField{Name: "name", Max: 255},
		&core.FileField{
			Name:      "avatar",
			MaxSelect: 1,
			MimeTypes: []string{"image/jpeg", "image/png", "image/svg+xml", "image/gif", "image/webp"},
		},
	)
	ensureTimestampsLast(users)
	users.OAuth2.MappedFields.Name = "name"
	users.OAuth2.MappedFields.AvatarURL = "avatar"

	ownerRule := "id = @request.auth.id"
	users.ListRule = types.Pointer(ownerRule)
	users.ViewRule = types.Pointer(ownerRule)
	users.CreateRule = types.Pointer("")
	users.UpdateRule = types.Pointer(ownerRule)
	users.DeleteRule = types.Pointer(ownerRule)
	users.AuthRule = types.Pointer("")
	users.PasswordAuth.Enabled = true
	users.PasswordAuth.IdentityFields = []string{core.FieldNameEmail}
	users.AuthAlert.Enabled = true

	if pw, ok := users.Fields.GetByName(core.FieldNamePassword).(*core.PasswordField); ok {
		pw.Cost = 0
	}
	if ev, ok := users.Fields.GetByName(core.FieldNameEmailVisibility).(*core.BoolField); ok {
		ev.Hidden = false
	}

	return app.Save(users)
}
