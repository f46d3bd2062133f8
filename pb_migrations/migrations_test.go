package pb_migrations

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/dbutils"
)

// newApp returns a fresh database with every migration (PocketBase's and ours) applied.
func newApp(t *testing.T) *tests.TestApp {
	t.Helper()
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatalf("NewTestApp: %v", err)
	}
	t.Cleanup(app.Cleanup)
	return app
}

// authSystemFields are the system fields every auth collection has (§2.2, §2.3).
const authSystemFields = `
id text
password password H
tokenKey text H
email email
emailVisibility bool H
verified bool
`

// accountFields is the shared part of users and employees; {staff} marks the staff-only lines.
const accountFields = `
username text req
first_name text
middle_name text
last_name text
suffix select
phone_number text
company_id text
department select
status select
notified bool
profile_picture file
{staff}is_active bool
{staff}is_staff bool
{staff}is_superuser bool
otp_enabled bool
otp_method select
totp_secret text H
totp_pending_secret text H
totp_pending_expires date H
totp_last_step number H
locked_until date
lock_counter_reset_at date H
mfa_lock_started_at date H
mfa_lock_window number H
last_login date
status_by relation users setnull
status_at date
legacy_password_hash text H
imported_from text H
`

const timestamps = `
created autodate
updated autodate
`

func accountSchema(staff bool) string {
	var b strings.Builder
	for _, line := range strings.Split(accountFields, "\n") {
		if rest, ok := strings.CutPrefix(line, "{staff}"); ok {
			if !staff {
				continue
			}
			line = rest
		}
		b.WriteString(line + "\n")
	}
	return authSystemFields + b.String() + timestamps
}

// expectedSchema transcribes §2.2–§2.19: "name type [H] [req] [target cascade|setnull]".
var expectedSchema = map[string]string{
	"users":     accountSchema(true),
	"employees": accountSchema(false),
	"systems": `id text
name text req
slug text req
url url` + timestamps,
	"roles": `id text
name text req
system relation systems cascade req
description text
is_custom bool` + timestamps,
	"user_system_roles": `id text
user relation users cascade req
system relation systems cascade req
role relation roles cascade req
is_active bool
settings json
assigned_at autodate
last_logged_on date` + timestamps,
	"sessions": `id text
user_type select
user relation users cascade
employee relation employees cascade
refresh_jti_hash text H
previous_jti_hash text H
rotated_at date
generation number
login_method select
ip text
user_agent text
last_used_at date
expires_at date
absolute_expires_at date
revoked_at date
revoked_reason select` + timestamps,
	"mfa_challenges": `id text
jti_hash text H
user_type select
user relation users cascade
employee relation employees cascade
methods json
failed_attempts number
expires_at date
consumed_at date
ip text` + timestamps,
	"otp_codes": `id text
user_type select
user relation users cascade
employee relation employees cascade
purpose select
code_hash text H
attempts number
expires_at date
used_at date` + timestamps,
	"recovery_codes": `id text
user_type select
user relation users cascade
employee relation employees cascade
code_hash text H
used_at date` + timestamps,
	"password_reset_tokens": `id text
user_type select
user relation users cascade
employee relation employees cascade
token_hash text H
expires_at date
used_at date` + timestamps,
	"invitations": `id text
email email
system relation systems cascade
role relation roles cascade
invited_by relation users setnull
token_hash text H
profile json
expires_at date
accepted_at date
accepted_user relation users setnull
revoked_at date
revoked_by relation users setnull` + timestamps,
	"captcha_challenges": `id text
answer_hash text H
expires_at date
guessed_at date
solved_at date
redeemed_at date
ip text` + timestamps,
	"api_keys": `id text
name text req
key_prefix text
key_hash text H
scopes select
system relation systems cascade
is_active bool
expires_at date
last_used_at date` + timestamps,
	"auth_failures": `id text
kind select
email text
ip text
user_type select
principal_id text
occurred_at date` + timestamps,
	"tts_round_robin_state": `id text
role relation roles cascade
user relation users cascade
last_assigned_at date
assigned_count number` + timestamps,
	"tts_round_robin_picks": `id text
role relation roles cascade
ticket_id text req
user relation users setnull` + timestamps,
	"email_outbox": `id text
to email
template text
subject text
text_body text
html_body text
status select
attempts number
next_attempt_at date
last_error text
sent_at date` + timestamps,
	"audit_log": `id text
event text
success bool
actor_type select
actor_id text
target_type text
target_id text
system text
ip text
user_agent text
details json` + timestamps,
	"signing_keys": `id text
kid text
alg select
public_key text
private_key text H
status select
activated_at date
retired_at date` + timestamps,
}

type fieldExpectation struct {
	name, typ string
	hidden    bool
	required  bool
	target    string // relation target collection name
	cascade   bool
}

func parseSchema(t *testing.T, schema string) []fieldExpectation {
	t.Helper()
	var out []fieldExpectation
	for _, line := range strings.Split(schema, "\n") {
		tok := strings.Fields(line)
		if len(tok) == 0 {
			continue
		}
		if len(tok) < 2 {
			t.Fatalf("bad schema line %q", line)
		}
		f := fieldExpectation{name: tok[0], typ: tok[1]}
		for _, opt := range tok[2:] {
			switch opt {
			case "H":
				f.hidden = true
			case "req":
				f.required = true
			case "cascade":
				f.cascade = true
			case "setnull":
			default:
				f.target = opt
			}
		}
		out = append(out, f)
	}
	return out
}

func TestCollectionsMatchSpec(t *testing.T) {
	t.Parallel()
	app := newApp(t)

	for name, schema := range expectedSchema {
		t.Run(name, func(t *testing.T) {
			col, err := app.FindCollectionByNameOrId(name)
			if err != nil {
				t.Fatalf("collection %q missing: %v", name, err)
			}
			wantType := core.CollectionTypeBase
			if name == "users" || name == "employees" {
				wantType = core.CollectionTypeAuth
			}
			if col.Type != wantType {
				t.Errorf("type = %q, want %q", col.Type, wantType)
			}

			want := parseSchema(t, schema)
			var wantNames []string
			for _, w := range want {
				wantNames = append(wantNames, w.name)
				f := col.Fields.GetByName(w.name)
				if f == nil {
					t.Errorf("field %q missing", w.name)
					continue
				}
				if f.Type() != w.typ {
					t.Errorf("field %q type = %q, want %q", w.name, f.Type(), w.typ)
				}
				if f.GetHidden() != w.hidden {
					t.Errorf("field %q hidden = %v, want %v", w.name, f.GetHidden(), w.hidden)
				}
				checkFieldOptions(t, app, name, w, f)
			}
			gotNames := col.Fields.FieldNames()
			sort.Strings(gotNames)
			sort.Strings(wantNames)
			if !slices.Equal(gotNames, wantNames) {
				t.Errorf("fields = %v\nwant     %v", gotNames, wantNames)
			}

			for rule, v := range map[string]*string{
				"list": col.ListRule, "view": col.ViewRule, "create": col.CreateRule,
				"update": col.UpdateRule, "delete": col.DeleteRule,
			} {
				if v != nil {
					t.Errorf("%s rule = %q, want nil", rule, *v)
				}
			}
			if col.IsAuth() {
				if col.AuthRule != nil {
					t.Errorf("auth rule = %q, want nil", *col.AuthRule)
				}
				if col.ManageRule != nil {
					t.Errorf("manage rule = %q, want nil", *col.ManageRule)
				}
				if col.PasswordAuth.Enabled || col.OTP.Enabled || col.MFA.Enabled || col.OAuth2.Enabled {
					t.Errorf("built-in auth flows enabled: password=%v otp=%v mfa=%v oauth2=%v",
						col.PasswordAuth.Enabled, col.OTP.Enabled, col.MFA.Enabled, col.OAuth2.Enabled)
				}
				pw := col.Fields.GetByName("password").(*core.PasswordField)
				if pw.Cost != 12 {
					t.Errorf("password cost = %d, want 12", pw.Cost)
				}
			}
		})
	}

	// no collection of ours beyond the spec's (PocketBase's own are system collections)
	all, err := app.FindAllCollections()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range all {
		if _, ok := expectedSchema[c.Name]; !ok && !c.System {
			t.Errorf("unexpected collection %q", c.Name)
		}
	}
}

func checkFieldOptions(t *testing.T, app core.App, colName string, w fieldExpectation, f core.Field) {
	t.Helper()
	switch f := f.(type) {
	case *core.RelationField:
		target, err := app.FindCollectionByNameOrId(f.CollectionId)
		if err != nil || target.Name != w.target {
			t.Errorf("relation %q targets %q, want %q (err %v)", w.name, f.CollectionId, w.target, err)
		}
		if f.CascadeDelete != w.cascade {
			t.Errorf("relation %q cascade = %v, want %v", w.name, f.CascadeDelete, w.cascade)
		}
		if f.MaxSelect != 1 {
			t.Errorf("relation %q MaxSelect = %d, want 1", w.name, f.MaxSelect)
		}
		if f.Required != w.required {
			t.Errorf("relation %q required = %v, want %v", w.name, f.Required, w.required)
		}
	case *core.TextField:
		if f.Name != "id" && f.Name != "tokenKey" && f.Required != w.required {
			t.Errorf("text %q required = %v, want %v", w.name, f.Required, w.required)
		}
	case *core.NumberField:
		if !f.OnlyInt {
			t.Errorf("number %q is not OnlyInt", w.name)
		}
	case *core.SelectField:
		want := 1
		if colName == "api_keys" && f.Name == "scopes" {
			want = 3
		}
		if f.MaxSelect != want {
			t.Errorf("select %q MaxSelect = %d, want %d", w.name, f.MaxSelect, want)
		}
		if len(f.Values) == 0 {
			t.Errorf("select %q has no values", w.name)
		}
	}
}

func TestFieldLimits(t *testing.T) {
	t.Parallel()
	app := newApp(t)

	users, _ := app.FindCollectionByNameOrId("users")
	username := users.Fields.GetByName("username").(*core.TextField)
	if username.Max != 150 || username.Pattern != `^[A-Za-z0-9_.@+-]+$` {
		t.Errorf("username max=%d pattern=%q", username.Max, username.Pattern)
	}
	if v := users.Fields.GetByName("suffix").(*core.SelectField).Values; !slices.Equal(v, []string{"Jr.", "Sr.", "II", "III", "IV", "V"}) {
		t.Errorf("suffix values = %v", v)
	}
	if v := users.Fields.GetByName("status").(*core.SelectField).Values; !slices.Equal(v, []string{"Pending", "Approved", "Rejected"}) {
		t.Errorf("status values = %v", v)
	}
	pic := users.Fields.GetByName("profile_picture").(*core.FileField)
	if pic.MaxSelect != 1 || pic.MaxSize != 2097152 || pic.Protected {
		t.Errorf("profile_picture = %+v", pic)
	}

	assignments, _ := app.FindCollectionByNameOrId("user_system_roles")
	if s := assignments.Fields.GetByName("settings").(*core.JSONField); s.MaxSize != 16384 {
		t.Errorf("settings MaxSize = %d", s.MaxSize)
	}
	if a := assignments.Fields.GetByName("assigned_at").(*core.AutodateField); !a.OnCreate || a.OnUpdate {
		t.Errorf("assigned_at = %+v, want on create only", a)
	}

	apiKeys, _ := app.FindCollectionByNameOrId("api_keys")
	scopes := apiKeys.Fields.GetByName("scopes").(*core.SelectField)
	if !slices.Equal(scopes.Values, []string{"users:read", "round_robin:read", "round_robin:write"}) {
		t.Errorf("scopes values = %v", scopes.Values)
	}

	sessions, _ := app.FindCollectionByNameOrId("sessions")
	if len(sessions.Fields.GetByName("revoked_reason").(*core.SelectField).Values) != 9 {
		t.Error("revoked_reason must have the 9 reasons of §2.7")
	}
}

type indexExpectation struct {
	name   string // "{id}" is replaced by the collection id
	unique bool
	cols   string // comma separated; "col NOCASE" for a collated column
	where  string // without backticks
}

var expectedIndexes = map[string][]indexExpectation{
	"users": {
		{"idx_email_{id}", true, "email NOCASE", ""}, // not partial: see configureAuthCollection
		{"idx_tokenKey_{id}", true, "tokenKey", ""},
		{"idx_users_username", true, "username NOCASE", ""},
		{"idx_users_company_id", true, "company_id", ""},
		{"idx_users_phone_number", true, "phone_number", "phone_number != ''"},
		{"idx_users_created_id", false, "created,id", ""},
		{"idx_users_created_desc_id", false, "created DESC,id", ""},
		{"idx_users_email_id", false, "email NOCASE,id", ""},
		{"idx_users_email_desc_id", false, "email NOCASE DESC,id", ""},
		{"idx_users_username_order", true, "username", ""},
		{"idx_users_first_name_id", false, "first_name,id", ""},
		{"idx_users_first_name_desc_id", false, "first_name DESC,id", ""},
		{"idx_users_last_name_id", false, "last_name,id", ""},
		{"idx_users_last_name_desc_id", false, "last_name DESC,id", ""},
		{"idx_users_last_login_id", false, "last_login,id", ""},
		{"idx_users_last_login_desc_id", false, "last_login DESC,id", ""},
		{"idx_users_status", false, "status", ""},
		{"idx_users_is_active", false, "is_active", ""},
	},
	"employees": {
		{"idx_email_{id}", true, "email NOCASE", ""}, // not partial: see configureAuthCollection
		{"idx_tokenKey_{id}", true, "tokenKey", ""},
		{"idx_employees_username", true, "username NOCASE", ""},
		{"idx_employees_company_id", true, "company_id", ""},
		{"idx_employees_phone_number", true, "phone_number", "phone_number != ''"},
	},
	"systems": {
		{"idx_systems_name", true, "name NOCASE", ""},
		{"idx_systems_slug", true, "slug", ""},
		{"idx_systems_created", false, "created", ""},
	},
	"roles": {{"idx_roles_system_name", true, "system,name", ""}, {"idx_roles_created", false, "created", ""}},
	"user_system_roles": {
		{"idx_user_system_roles_user_system_role", true, "user,system,role", ""},
		{"idx_user_system_roles_system_role_is_active", false, "system,role,is_active", ""},
		{"idx_user_system_roles_user", false, "user", ""},
		{"idx_user_system_roles_system_user", false, "system,user", ""},
		{"idx_user_system_roles_assigned_at", false, "assigned_at", ""},
	},
	"sessions": {
		{"idx_sessions_refresh_jti_hash", true, "refresh_jti_hash", ""},
		{"idx_sessions_user", false, "user", ""},
		{"idx_sessions_employee", false, "employee", ""},
	},
	"mfa_challenges": {{"idx_mfa_challenges_jti_hash", true, "jti_hash", ""}},
	"otp_codes": {
		{"idx_otp_codes_user_type_user_employee_purpose_created", false, "user_type,user,employee,purpose,created", ""},
	},
	"recovery_codes":        nil,
	"password_reset_tokens": {{"idx_password_reset_tokens_token_hash", true, "token_hash", ""}},
	"invitations": {
		{"idx_invitations_email_system", false, "email,system", ""},
		{"idx_invitations_token_hash", true, "token_hash", ""},
		{"idx_invitations_system_created", false, "system,created", ""},
		{"idx_invitations_invited_by_created", false, "invited_by,created", ""},
		{"idx_invitations_created", false, "created", ""},
		{"idx_invitations_expires_at", false, "expires_at", ""},
		{"idx_invitations_email", false, "email", ""},
	},
	"captcha_challenges": nil,
	"api_keys":           {{"idx_api_keys_key_prefix", true, "key_prefix", ""}},
	"auth_failures": {
		{"idx_auth_failures_email_kind_occurred_at", false, "email,kind,occurred_at", ""},
		{"idx_auth_failures_ip_kind_occurred_at", false, "ip,kind,occurred_at", ""},
		{"idx_auth_failures_user_type_principal_id_kind_occurred_at", false, "user_type,principal_id,kind,occurred_at", ""},
	},
	"tts_round_robin_state": {{"idx_tts_round_robin_state_role_user", true, "role,user", ""}},
	"tts_round_robin_picks": {{"idx_tts_round_robin_picks_role_ticket_id", true, "role,ticket_id", ""}},
	"email_outbox":          nil,
	"audit_log": {
		{"idx_audit_log_event_created", false, "event,created", ""},
		{"idx_audit_log_actor_id", false, "actor_id", ""},
		{"idx_audit_log_target_id", false, "target_id", ""},
	},
	"signing_keys": {{"idx_signing_keys_kid", true, "kid", ""}},
}

func TestIndexesMatchSpec(t *testing.T) {
	t.Parallel()
	app := newApp(t)

	if len(expectedIndexes) != len(expectedSchema) {
		t.Fatalf("index table covers %d collections, schema table %d", len(expectedIndexes), len(expectedSchema))
	}
	for name, want := range expectedIndexes {
		col, err := app.FindCollectionByNameOrId(name)
		if err != nil {
			t.Fatalf("collection %q: %v", name, err)
		}
		var wantNames []string
		for _, w := range want {
			idxName := strings.ReplaceAll(w.name, "{id}", col.Id)
			wantNames = append(wantNames, strings.ToLower(idxName))
			raw := col.GetIndex(idxName)
			if raw == "" {
				t.Errorf("%s: index %s missing (have %v)", name, idxName, col.Indexes)
				continue
			}
			p := dbutils.ParseIndex(raw)
			var cols []string
			for _, c := range p.Columns {
				s := c.Name
				if c.Collate != "" {
					s += " " + strings.ToUpper(c.Collate)
				}
				if strings.EqualFold(c.Sort, "DESC") {
					s += " DESC"
				}
				cols = append(cols, s)
			}
			if p.Unique != w.unique || strings.Join(cols, ",") != w.cols ||
				strings.ReplaceAll(p.Where, "`", "") != w.where {
				t.Errorf("%s: index %s = %q, want unique=%v cols=%q where=%q", name, idxName, raw, w.unique, w.cols, w.where)
			}

			var n int
			err := app.DB().Select("count(*)").From("sqlite_master").
				Where(dbx.HashExp{"type": "index", "tbl_name": name, "name": idxName}).Row(&n)
			if err != nil || n != 1 {
				t.Errorf("%s: index %s not in sqlite_master (n=%d, err=%v)", name, idxName, n, err)
			}
		}

		var gotNames []string
		for _, raw := range col.Indexes {
			gotNames = append(gotNames, strings.ToLower(dbutils.ParseIndex(raw).IndexName))
		}
		sort.Strings(gotNames)
		sort.Strings(wantNames)
		if !slices.Equal(gotNames, wantNames) {
			t.Errorf("%s: indexes = %v, want %v", name, gotNames, wantNames)
		}
	}
}

// fastPasswords lowers the bcrypt cost of an auth collection so tests stay quick.
func fastPasswords(t *testing.T, app core.App, name string) *core.Collection {
	t.Helper()
	col, err := app.FindCollectionByNameOrId(name)
	if err != nil {
		t.Fatal(err)
	}
	col.Fields.GetByName("password").(*core.PasswordField).Cost = 4
	if err := app.Save(col); err != nil {
		t.Fatal(err)
	}
	return col
}

// saveAccount saves an account whose company_id is "ID-" + username.
func saveAccount(app core.App, col *core.Collection, email, username, phone string) error {
	r := core.NewRecord(col)
	r.SetEmail(email)
	r.SetPassword("correct horse battery staple")
	r.Set("username", username)
	r.Set("company_id", "ID-"+username)
	r.Set("phone_number", phone)
	return app.Save(r)
}

// requireFieldError asserts that err is a validation error on field (i.e. the unique index of
// that field rejected the record, not something else).
func requireFieldError(t *testing.T, err error, field, what string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: saved, want a %q error", what, field)
		return
	}
	var errs validation.Errors
	if !errors.As(err, &errs) || errs[field] == nil {
		t.Errorf("%s: error %v, want one on %q", what, err, field)
	}
}

func TestAuthUniqueIndexes(t *testing.T) {
	t.Parallel()
	app := newApp(t)

	for _, name := range []string{"users", "employees"} {
		col := fastPasswords(t, app, name)
		p := name[:1] // keeps values distinct across the two collections for readability

		if err := saveAccount(app, col, p+"mixed@example.com", p+"alice", ""); err != nil {
			t.Fatalf("%s: first account: %v", name, err)
		}
		requireFieldError(t, saveAccount(app, col, strings.ToUpper(p)+"MIXED@Example.COM", p+"bob", ""),
			"email", name+" email differing by case")
		requireFieldError(t, saveAccount(app, col, p+"other@example.com", strings.ToUpper(p)+"ALICE", ""),
			"username", name+" username differing by case")

		if err := saveAccount(app, col, p+"p1@example.com", p+"p1", "+15551234567"); err != nil {
			t.Fatalf("%s: phone account: %v", name, err)
		}
		requireFieldError(t, saveAccount(app, col, p+"p2@example.com", p+"p2", "+15551234567"),
			"phone_number", name+" duplicate phone")
		if err := saveAccount(app, col, p+"e1@example.com", p+"e1", ""); err != nil {
			t.Errorf("%s: second account without phone: %v", name, err)
		}

		// company_id is unique too
		r := core.NewRecord(col)
		r.SetEmail(p + "c@example.com")
		r.SetPassword("correct horse battery staple")
		r.Set("username", p+"c")
		r.Set("company_id", "ID-"+p+"alice")
		requireFieldError(t, app.Save(r), "company_id", name+" duplicate company_id")

		// the username pattern is ASCII-only
		requireFieldError(t, saveAccount(app, col, p+"u@example.com", p+"jos\u00e9", ""),
			"username", name+" non-ASCII username")

		found, err := app.FindAuthRecordByEmail(name, strings.ToUpper(p[:1])+"MiXed@Example.com")
		if err != nil || found.Email() != p+"mixed@example.com" {
			t.Errorf("%s: FindAuthRecordByEmail case-insensitive: %v, %v", name, found, err)
		}
	}

	// An email may exist in both collections (unrelated accounts).
	users, _ := app.FindCollectionByNameOrId("users")
	employees, _ := app.FindCollectionByNameOrId("employees")
	if err := saveAccount(app, users, "both@example.com", "both", "+15550000001"); err != nil {
		t.Fatal(err)
	}
	if err := saveAccount(app, employees, "both@example.com", "both", "+15550000001"); err != nil {
		t.Errorf("same email/username/phone in employees: %v", err)
	}
}

func TestFindAuthRecordByEmailIsCaseInsensitive(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	users := fastPasswords(t, app, "users")

	if err := saveAccount(app, users, "mixed@example.com", "mixed", ""); err != nil {
		t.Fatal(err)
	}
	found, err := app.FindAuthRecordByEmail("users", "MiXed@Example.com")
	if err != nil {
		t.Fatalf("FindAuthRecordByEmail: %v", err)
	}
	if found.Email() != "mixed@example.com" {
		t.Errorf("found %q", found.Email())
	}
}

func TestRoleAndSystemUniqueness(t *testing.T) {
	t.Parallel()
	app := newApp(t)

	systems, _ := app.FindCollectionByNameOrId("systems")
	roles, _ := app.FindCollectionByNameOrId("roles")

	sys := core.NewRecord(systems)
	sys.Set("name", "Zeta System")
	sys.Set("slug", "zeta")
	if err := app.Save(sys); err != nil {
		t.Fatal(err)
	}

	dup := core.NewRecord(systems)
	dup.Set("name", "ZETA system")
	dup.Set("slug", "zeta2")
	requireFieldError(t, app.Save(dup), "name", "system name differing by case")

	dupSlug := core.NewRecord(systems)
	dupSlug.Set("name", "Another")
	dupSlug.Set("slug", "zeta")
	requireFieldError(t, app.Save(dupSlug), "slug", "duplicate slug")

	badSlug := core.NewRecord(systems)
	badSlug.Set("name", "Bad")
	badSlug.Set("slug", "Bad")
	requireFieldError(t, app.Save(badSlug), "slug", "upper-case slug")

	saveRole := func(name string) error {
		r := core.NewRecord(roles)
		r.Set("system", sys.Id)
		r.Set("name", name)
		return app.Save(r)
	}
	if err := saveRole("Admin"); err != nil {
		t.Fatal(err)
	}
	if err := saveRole("ADMIN"); err != nil {
		t.Errorf("ADMIN next to Admin must save (exact-case index): %v", err)
	}
	if err := saveRole("Admin"); err == nil {
		t.Error("duplicate (system, name) role saved")
	}

	// the same role name in another system is fine
	hdts, err := app.FindFirstRecordByData(systems, "slug", "hdts")
	if err != nil {
		t.Fatal(err)
	}
	other := core.NewRecord(roles)
	other.Set("system", hdts.Id)
	other.Set("name", "ADMIN")
	if err := app.Save(other); err != nil {
		t.Errorf("ADMIN in hdts: %v", err)
	}
}

func TestCascadeAndSetNull(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	users := fastPasswords(t, app, "users")

	if err := saveAccount(app, users, "a@example.com", "a", ""); err != nil {
		t.Fatal(err)
	}
	if err := saveAccount(app, users, "b@example.com", "b", ""); err != nil {
		t.Fatal(err)
	}
	a, _ := app.FindAuthRecordByEmail("users", "a@example.com")
	b, _ := app.FindAuthRecordByEmail("users", "b@example.com")
	b.Set("status_by", a.Id)
	if err := app.Save(b); err != nil {
		t.Fatal(err)
	}

	sessions, _ := app.FindCollectionByNameOrId("sessions")
	s := core.NewRecord(sessions)
	s.Set("user_type", "staff")
	s.Set("user", a.Id)
	s.Set("refresh_jti_hash", "h1")
	if err := app.Save(s); err != nil {
		t.Fatal(err)
	}

	if err := app.Delete(a); err != nil {
		t.Fatal(err)
	}
	if _, err := app.FindRecordById(sessions, s.Id); err == nil {
		t.Error("session of a deleted user survived (want cascade)")
	}
	b, err := app.FindRecordById(users, b.Id)
	if err != nil {
		t.Fatalf("user b deleted with its status_by: %v", err)
	}
	if got := b.GetString("status_by"); got != "" {
		t.Errorf("status_by = %q after delete, want empty", got)
	}
}

func TestEveryCollectionAcceptsARecord(t *testing.T) {
	t.Parallel()
	app := newApp(t)

	// `to` is an SQL keyword; make sure the column works.
	outbox, _ := app.FindCollectionByNameOrId("email_outbox")
	r := core.NewRecord(outbox)
	r.Set("to", "x@example.com")
	r.Set("status", "pending")
	r.Set("html_body", strings.Repeat("x", 20000))
	if err := app.Save(r); err != nil {
		t.Fatalf("email_outbox: %v", err)
	}
	got, err := app.FindFirstRecordByData(outbox, "to", "x@example.com")
	if err != nil || got.Id != r.Id {
		t.Errorf("find by to: %v", err)
	}

	for _, name := range baseCollectionNames {
		col, _ := app.FindCollectionByNameOrId(name)
		if _, err := app.CountRecords(col); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func rolesOf(t *testing.T, app core.App, slug string) (system *core.Record, roles map[string]*core.Record) {
	t.Helper()
	system, err := app.FindFirstRecordByData("systems", "slug", slug)
	if err != nil {
		return nil, nil
	}
	records, err := app.FindAllRecords("roles", dbx.HashExp{"system": system.Id})
	if err != nil {
		t.Fatal(err)
	}
	roles = map[string]*core.Record{}
	for _, r := range records {
		roles[r.GetString("name")] = r
	}
	return system, roles
}

func checkDefaultSystem(t *testing.T, app core.App, ds DefaultSystem) {
	t.Helper()
	system, roles := rolesOf(t, app, ds.Slug)
	if system == nil {
		t.Errorf("system %s missing", ds.Slug)
		return
	}
	if system.GetString("name") != ds.Name {
		t.Errorf("%s name = %q, want %q", ds.Slug, system.GetString("name"), ds.Name)
	}
	var names []string
	for n := range roles {
		names = append(names, n)
	}
	sort.Strings(names)
	want := slices.Clone(ds.Roles)
	sort.Strings(want)
	if !slices.Equal(names, want) {
		t.Errorf("%s roles = %v, want %v", ds.Slug, names, want)
	}
	for n, r := range roles {
		if r.GetBool("is_custom") {
			t.Errorf("%s/%s is_custom = true", ds.Slug, n)
		}
		wantDesc := ""
		if n == "Admin" {
			wantDesc = "Administrator role for " + ds.Name
		}
		if r.GetString("description") != wantDesc {
			t.Errorf("%s/%s description = %q, want %q", ds.Slug, n, r.GetString("description"), wantDesc)
		}
	}
}

func TestMigrationSeedsHdtsAndTts(t *testing.T) {
	t.Parallel()
	app := newApp(t)

	for _, ds := range DefaultSystems[:2] {
		checkDefaultSystem(t, app, ds)
	}
	for _, slug := range []string{"ams", "bms"} {
		if system, _ := rolesOf(t, app, slug); system != nil {
			t.Errorf("%s must not exist after migrations", slug)
		}
	}
	if n, _ := app.CountRecords("systems"); n != 2 {
		t.Errorf("systems = %d, want 2", n)
	}
	if n, _ := app.CountRecords("users"); n != 0 {
		t.Errorf("migrations created %d users", n)
	}
	if n, _ := app.CountRecords("employees"); n != 0 {
		t.Errorf("migrations created %d employees", n)
	}
}

func TestEnsureDefaultSystemsIsIdempotent(t *testing.T) {
	t.Parallel()
	app := newApp(t)

	created, err := EnsureDefaultSystems(app)
	if err != nil {
		t.Fatal(err)
	}
	if created != 2+2+4 { // ams, bms and their roles
		t.Errorf("first run created %d, want 8", created)
	}
	created, err = EnsureDefaultSystems(app)
	if err != nil {
		t.Fatal(err)
	}
	if created != 0 {
		t.Errorf("second run created %d, want 0", created)
	}

	if n, _ := app.CountRecords("systems"); n != 4 {
		t.Errorf("systems = %d, want 4", n)
	}
	wantCounts := map[string]int{"hdts": 3, "tts": 3, "ams": 2, "bms": 4}
	for _, ds := range DefaultSystems {
		checkDefaultSystem(t, app, ds)
		if _, roles := rolesOf(t, app, ds.Slug); len(roles) != wantCounts[ds.Slug] {
			t.Errorf("%s has %d roles, want %d", ds.Slug, len(roles), wantCounts[ds.Slug])
		}
	}
	if n, _ := app.CountRecords("users"); n != 0 {
		t.Errorf("EnsureDefaultSystems created %d users", n)
	}
}

func TestEnsureDefaultSystemsRepairsAndNests(t *testing.T) {
	t.Parallel()
	app := newApp(t)

	// a deleted default role comes back; a custom role is left alone
	_, roles := rolesOf(t, app, "tts")
	if err := app.Delete(roles["Budget Manager"]); err != nil {
		t.Fatal(err)
	}

	err := app.RunInTransaction(func(txApp core.App) error {
		created, err := EnsureDefaultSystems(txApp, "tts", "ams")
		if err != nil {
			return err
		}
		if created != 1+1+2 {
			return fmt.Errorf("created %d, want 4", created)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkDefaultSystem(t, app, DefaultSystems[1])
	checkDefaultSystem(t, app, DefaultSystems[2])
	if system, _ := rolesOf(t, app, "bms"); system != nil {
		t.Error("bms created although not requested")
	}

	if _, err := EnsureDefaultSystems(app, "nope"); err == nil {
		t.Error("unknown slug accepted")
	}
}

func TestDownAndUpAgain(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	runner := core.NewMigrationsRunner(app, core.AppMigrations)

	reverted, err := runner.Down(len(core.AppMigrations.Items()))
	if err != nil {
		t.Fatalf("down: %v", err)
	}
	if len(reverted) != 12 {
		t.Errorf("reverted %v, want our 12 migrations (auth collections, base collections, default systems, settings, superuser rate limits, legacy passwords, directory indexes, users search, users email order, users search order, users search rowid order, head rate limits)", reverted)
	}
	if app.Settings().RateLimits.Enabled {
		t.Error("rate limits still enabled after down")
	}
	for _, name := range append([]string{"employees"}, baseCollectionNames...) {
		if _, err := app.FindCollectionByNameOrId(name); err == nil {
			t.Errorf("%s still exists after down", name)
		}
	}
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	if users.Fields.GetByName("name") == nil || users.Fields.GetByName("username") != nil || !users.PasswordAuth.Enabled {
		t.Errorf("users not restored to PocketBase's default: %v", users.Fields.FieldNames())
	}

	if _, err := runner.Up(); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if len(app.Settings().RateLimits.Rules) == 0 { // enabled depends on RATE_LIMITS_ENABLED
		t.Error("rate limits not seeded again by up")
	}
	checkDefaultSystem(t, app, DefaultSystems[0])
	users, _ = app.FindCollectionByNameOrId("users")
	if users.Fields.GetByName("name") != nil || users.Fields.GetByName("username") == nil || users.PasswordAuth.Enabled {
		t.Errorf("users not migrated again: %v", users.Fields.FieldNames())
	}
}

func TestEmailLookupUsesTheIndex(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	for _, table := range []string{"users", "employees"} {
		var plan []struct {
			Detail string `db:"detail"`
		}
		if err := app.DB().NewQuery("EXPLAIN QUERY PLAN SELECT * FROM " + table + " WHERE email = 'a@b.c' COLLATE NOCASE LIMIT 1").All(&plan); err != nil {
			t.Fatal(err)
		}
		if len(plan) != 1 || !strings.Contains(plan[0].Detail, "USING INDEX idx_email_") {
			t.Errorf("%s: email lookup plan = %+v", table, plan)
		}
	}
}
