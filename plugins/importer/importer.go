// Package importer adds `gatehouse import original`: it brings the original (Django) service's
// accounts, systems, roles and assignments into Gatehouse in one transaction (spec/API.md §2,
// §2.20). Passwords keep working: each Django hash is kept in the hidden legacy_password_hash
// field and verified at the account's first login (plugins/passwords), which re-hashes it to
// bcrypt.
package importer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/passwords"
)

// Deps are the importer's dependencies.
type Deps struct {
	// Root is the command the `import` command is added to (app.RootCmd).
	Root *cobra.Command
}

// Register adds `import original`. Like every command it runs after PocketBase's bootstrap and
// applies the app migrations first.
func Register(app core.App, deps Deps) {
	imp := &cobra.Command{Use: "import", Short: "Import data from another service"}
	var from string
	var dryRun bool
	original := &cobra.Command{
		Use:          "original --from <sqlite path | postgres:// URL> [--dry-run]",
		Short:        "Import the original (Django) service's users, employees, systems, roles and assignments; passwords keep working",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(c *cobra.Command, _ []string) error {
			if from == "" {
				return errors.New("--from is required: a SQLite file path or a postgres:// URL")
			}
			if err := app.RunAllMigrations(); err != nil {
				return err
			}
			progress := func(string, int) {}
			if f, ok := c.ErrOrStderr().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				progress = func(table string, rows int) { fmt.Fprintf(f, "read %-28s %d rows\n", table, rows) }
			}
			sum, err := Run(c.Context(), app, Options{From: from, DryRun: dryRun, Progress: progress})
			if err != nil {
				return err
			}
			sum.Print(c.OutOrStdout())
			return nil
		},
	}
	original.Flags().StringVar(&from, "from", "", "the original service's database: a SQLite file path or a postgres:// URL")
	original.Flags().BoolVar(&dryRun, "dry-run", false, "print the summary and write nothing")
	imp.AddCommand(original)
	deps.Root.AddCommand(imp)
}

// Options of one import.
type Options struct {
	From     string
	DryRun   bool
	Progress func(table string, rows int) // one call per table read and written (may be nil)
}

// errDryRun rolls the transaction of a dry run back.
var errDryRun = errors.New("dry run")

// Run imports opts.From into app in one transaction (nothing is written on any error, or with
// DryRun) and returns the summary.
func Run(ctx context.Context, app core.App, opts Options) (*Summary, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if opts.Progress == nil {
		opts.Progress = func(string, int) {}
	}
	db, kind, err := openSource(opts.From)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	src, err := readSource(ctx, db, kind, opts.Progress)
	if err != nil {
		return nil, fmt.Errorf("source not imported, nothing written: %w", err)
	}
	sum := &Summary{Source: kind, DryRun: opts.DryRun, APIKeys: src.apiKeys}
	err = app.RunInTransaction(func(tx core.App) error {
		w := &writer{tx: tx, src: src, sum: sum, progress: opts.Progress}
		if err := w.run(); err != nil {
			return err
		}
		if opts.DryRun {
			return errDryRun
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return nil, fmt.Errorf("import failed, nothing written: %w", err)
	}
	return sum, nil
}

// writer holds the state of one import inside its transaction.
type writer struct {
	tx       core.App
	src      *source
	sum      *Summary
	progress func(string, int)

	systems  map[int64]string // source id → Gatehouse id
	slugs    map[int64]string // source system id → slug
	roles    map[int64]string
	users    map[int64]*core.Record // imported now (source id → record)
	done     map[int64]string       // source user ids imported by an earlier run → their record id
	unusable string                 // the random bcrypt hash given to imported accounts' password field
}

func (w *writer) run() error {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	// Never verified while a legacy hash is set, and nobody knows the secret.
	h, err := bcrypt.GenerateFromPassword([]byte(hex.EncodeToString(secret)), bcrypt.MinCost)
	if err != nil {
		return err
	}
	w.unusable = string(h)

	steps := []struct {
		table string
		fn    func() error
		n     func() int
	}{
		{"systems_system", w.importSystems, func() int { return len(w.src.systems) }},
		{"roles_role", w.importRoles, func() int { return len(w.src.roles) }},
		{"users_user", func() error { return w.importAccounts("users", w.src.users, &w.sum.Users) }, func() int { return len(w.src.users) }},
		{"hdts_employees", func() error { return w.importAccounts("employees", w.src.employees, &w.sum.Employees) }, func() int { return len(w.src.employees) }},
		{"system_roles_usersystemrole", w.importAssignments, func() int { return len(w.src.assignments) }},
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			return err
		}
		w.progress("wrote "+s.table, s.n())
	}
	w.adminRightsChanges()
	return nil
}

func (w *writer) importSystems() error {
	w.systems, w.slugs = map[int64]string{}, map[int64]string{}
	for _, s := range w.src.systems {
		slug := strings.TrimSpace(s.slug)
		w.slugs[s.id] = slug
		existing, err := w.tx.FindFirstRecordByData("systems", "slug", slug)
		if err == nil {
			w.systems[s.id] = existing.Id
			w.sum.Systems.Merged = append(w.sum.Systems.Merged, slug)
			continue
		}
		col, err := w.tx.FindCachedCollectionByNameOrId("systems")
		if err != nil {
			return err
		}
		r := core.NewRecord(col)
		r.Set("name", strings.TrimSpace(s.name))
		r.Set("slug", slug)
		if err := w.tx.Save(r); err != nil { // the hooks add its Admin role
			return rowErr("systems_system", s.id, err)
		}
		w.systems[s.id] = r.Id
		w.sum.Systems.Created = append(w.sum.Systems.Created, slug)
	}
	return nil
}

func (w *writer) importRoles() error {
	w.roles = map[int64]string{}
	col, err := w.tx.FindCachedCollectionByNameOrId("roles")
	if err != nil {
		return err
	}
	for _, r := range w.src.roles {
		sys, ok := w.systems[r.system]
		if !ok {
			return rowErr("roles_role", r.id, fmt.Errorf("system_id %d does not exist", r.system))
		}
		existing, err := w.tx.FindFirstRecordByFilter("roles", "system = {:s} && name = {:n}", dbx.Params{"s": sys, "n": r.name})
		if err == nil && existing.GetString("name") == r.name { // the filter's = is exact, checked anyway
			w.roles[r.id] = existing.Id
			w.sum.Roles.Merged++
			continue
		}
		rec := core.NewRecord(col)
		rec.Set("name", r.name)
		rec.Set("system", sys)
		rec.Set("description", r.description)
		rec.Set("is_custom", r.isCustom)
		if err := w.tx.Save(rec); err != nil {
			return rowErr("roles_role", r.id, err)
		}
		w.roles[r.id] = rec.Id
		w.sum.Roles.Created++
	}
	return nil
}

var (
	usernameRe   = regexp.MustCompile(`^[\w.@+-]{1,150}$`)
	companyIDRes = map[string]*regexp.Regexp{"users": regexp.MustCompile(`^MA\d{4,}$`), "employees": regexp.MustCompile(`^EM\d{4,}$`)}
	choices      = map[string][]string{
		"suffix":     {"Jr.", "Sr.", "II", "III", "IV", "V"},
		"department": {"IT Department", "Asset Department", "Budget Department"},
		"status":     {"Pending", "Approved", "Rejected"},
	}
)

// importAccounts brings staff users or employees over. Accounts whose company_id can be kept go
// first, so the ids allocated for the others never take one of them.
func (w *writer) importAccounts(collection string, rows []srcUser, sum *AccountCounts) error {
	if w.users == nil {
		w.users, w.done = map[int64]*core.Record{}, map[int64]string{}
	}
	col, err := w.tx.FindCachedCollectionByNameOrId(collection)
	if err != nil {
		return err
	}
	// What earlier runs brought over, by origin: an account keeps its origin when its email
	// changes since, and must not come back as a second account under the old email.
	var earlier []struct {
		ID     string `db:"id"`
		Origin string `db:"imported_from"`
	}
	if err := w.tx.DB().Select("id", "imported_from").From(collection).
		Where(dbx.NewExp("[[imported_from]] != ''")).All(&earlier); err != nil {
		return err
	}
	importedAs := make(map[string]string, len(earlier))
	for _, r := range earlier {
		importedAs[r.Origin] = r.ID
	}
	keep := map[int64]bool{}
	seen := map[string]bool{}
	for _, u := range rows {
		c := strings.TrimSpace(u.companyID)
		if c == "" || !companyIDRes[collection].MatchString(c) || seen[c] {
			continue
		}
		seen[c] = true
		if n, _ := w.count(collection, dbx.HashExp{"company_id": c}); n == 0 {
			keep[u.id] = true
		}
	}
	ordered := slices.Clone(rows)
	slices.SortStableFunc(ordered, func(a, b srcUser) int {
		switch {
		case keep[a.id] == keep[b.id]:
			return 0
		case keep[a.id]:
			return -1
		}
		return 1
	})

	emails := map[string]int64{}
	var statusBy = map[*core.Record]int64{}
	for _, u := range ordered {
		email := strings.ToLower(strings.TrimSpace(u.email))
		if !apikit.ValidEmail(email) || len(email) > 254 {
			return rowErr(u.table, u.id, fmt.Errorf("email %q is not a valid address", u.email))
		}
		if prev, dup := emails[email]; dup {
			return rowErr(u.table, u.id, fmt.Errorf("email %q is also the email of row id=%d", email, prev))
		}
		emails[email] = u.id
		origin := fmt.Sprintf("original:%s:%d", u.table, u.id)
		if id, ok := importedAs[origin]; ok {
			sum.AlreadyImported++
			if collection == "users" {
				w.done[u.id] = id
			}
			continue
		}
		if _, err := w.tx.FindAuthRecordByEmail(collection, email); err == nil {
			sum.Skipped = append(sum.Skipped, email)
			continue
		}

		r := core.NewRecord(col)
		r.SetEmail(email)
		r.SetRaw(core.FieldNamePassword, &core.PasswordFieldValue{Hash: w.unusable})
		r.RefreshTokenKey()
		legacy := u.password
		if legacy == "" {
			legacy = "!" // Django's unusable password
		}
		r.Set(passwords.LegacyHashField, legacy)
		r.Set("imported_from", origin)
		w.sum.countHash(legacy)

		if name := strings.TrimSpace(u.username); name != "" {
			if !usernameRe.MatchString(name) {
				w.note(u, "username %q is not valid here; a new one is derived", name)
			} else if n, _ := w.count(collection, dbx.NewExp("lower(username) = lower({:u})", dbx.Params{"u": name})); n > 0 {
				w.note(u, "username %q is taken; a new one is derived", name)
			} else {
				r.Set("username", name)
			}
		}
		r.Set("first_name", clip(u.firstName, 100))
		r.Set("middle_name", clip(u.middleName, 100))
		r.Set("last_name", clip(u.lastName, 100))
		for field, v := range map[string]string{"suffix": u.suffix, "department": u.department} {
			if v = strings.TrimSpace(v); v != "" {
				if slices.Contains(choices[field], v) {
					r.Set(field, v)
				} else {
					w.note(u, "%s %q is not one of the choices here; left empty", field, v)
				}
			}
		}
		status := strings.TrimSpace(u.status)
		if !slices.Contains(choices["status"], status) {
			w.note(u, "status %q is not one of the choices here; Pending", status)
			status = "Pending"
		}
		r.Set("status", status)
		if p := strings.TrimSpace(u.phone); p != "" {
			norm, ok := apikit.NormalizePhone(p)
			switch {
			case !ok:
				w.note(u, "phone number %q is not E.164; not carried", p)
			default:
				if n, _ := w.count(collection, dbx.HashExp{"phone_number": norm}); n > 0 {
					w.note(u, "phone number %s is already used here; not carried", norm)
				} else {
					r.Set("phone_number", norm)
				}
			}
		}
		r.Set("notified", u.ntf)
		if collection == "users" {
			r.Set("is_active", u.isActive)
			r.Set("is_staff", u.isStaff)
			r.Set("is_superuser", u.isSuperuser)
		}
		if u.otp { // the original's 2FA is the emailed code
			r.Set("otp_enabled", true)
			r.Set("otp_method", "email")
		}
		if !u.joined.IsZero() {
			r.SetRaw("created", mustDate(u.joined))
		}
		if !u.lastLogin.IsZero() {
			r.Set("last_login", mustDate(u.lastLogin))
		}
		if !u.statusAt.IsZero() {
			r.Set("status_at", mustDate(u.statusAt))
		}
		if err := w.tx.Save(r); err != nil {
			return rowErr(u.table, u.id, err)
		}
		// The hooks allocated a company_id; the original's is kept when it fits and is free.
		if keep[u.id] {
			c := strings.TrimSpace(u.companyID)
			if _, err := w.tx.DB().Update(collection, dbx.Params{"company_id": c}, dbx.HashExp{"id": r.Id}).Execute(); err != nil {
				return rowErr(u.table, u.id, err)
			}
			r.Set("company_id", c)
			sum.CompanyIDsKept++
		} else {
			sum.CompanyIDsAllocated++
			if c := strings.TrimSpace(u.companyID); c != "" {
				w.note(u, "company_id %s does not fit %s or is taken; %s allocated", c, companyIDRes[collection], r.GetString("company_id"))
			}
		}
		if collection == "users" {
			w.users[u.id] = r
			if u.statusBy != 0 {
				statusBy[r] = u.statusBy
			}
		}
		sum.Imported++
	}
	// status_by points at staff users, known once all of them exist.
	for r, by := range statusBy {
		target, ok := w.users[by]
		if !ok {
			continue // not imported now (skipped or earlier): left empty
		}
		if _, err := w.tx.DB().Update("users", dbx.Params{"status_by": target.Id}, dbx.HashExp{"id": r.Id}).Execute(); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) importAssignments() error {
	col, err := w.tx.FindCachedCollectionByNameOrId("user_system_roles")
	if err != nil {
		return err
	}
	sum := &w.sum.Assignments
	for _, a := range w.src.assignments {
		sys, okS := w.systems[a.system]
		role, okR := w.roles[a.role]
		if !okS || !okR {
			return rowErr("system_roles_usersystemrole", a.id, fmt.Errorf("system_id %d or role_id %d does not exist", a.system, a.role))
		}
		user, ok := w.users[a.user]
		if !ok {
			if id, done := w.done[a.user]; done {
				// counted as carried only when it is there; one added to the source since the
				// first run is reported as skipped (a re-run never changes an imported account)
				if n, err := w.count("user_system_roles", dbx.HashExp{"user": id, "system": sys, "role": role}); err != nil {
					return err
				} else if n > 0 {
					sum.AlreadyImported++
				} else {
					sum.Skipped++
				}
			} else if w.knownUser(a.user) {
				sum.Skipped++ // its account was skipped (email already in Gatehouse)
			} else {
				return rowErr("system_roles_usersystemrole", a.id, fmt.Errorf("user_id %d does not exist", a.user))
			}
			continue
		}
		settings := map[string]any{}
		if s := strings.TrimSpace(a.settings); s != "" && s != "null" {
			if err := json.Unmarshal([]byte(s), &settings); err != nil || settings == nil {
				return rowErr("system_roles_usersystemrole", a.id, fmt.Errorf("settings is not a JSON object"))
			}
		}
		if v, ok := settings["is_deployed"]; ok {
			if _, isBool := v.(bool); !isBool {
				return rowErr("system_roles_usersystemrole", a.id, fmt.Errorf("settings.is_deployed is not a boolean"))
			}
		}
		if len(settings) == 0 {
			settings = map[string]any{"is_deployed": true}
		}
		r := core.NewRecord(col)
		r.Set("user", user.Id)
		r.Set("system", sys)
		r.Set("role", role)
		r.Set("is_active", a.isActive)
		r.Set("settings", settings)
		if !a.assignedAt.IsZero() {
			r.SetRaw("assigned_at", mustDate(a.assignedAt))
		}
		if !a.lastLogged.IsZero() {
			r.Set("last_logged_on", mustDate(a.lastLogged))
		}
		if err := w.tx.Save(r); err != nil {
			return rowErr("system_roles_usersystemrole", a.id, err)
		}
		sum.Imported++
	}
	return nil
}

// adminRightsChanges lists the users holding a role spelled like "admin" but not exactly
// "Admin" (bms's ADMIN): only "Admin" is a system's admin role here (§2.5), so they are not
// the system's admins in Gatehouse unless they also hold its Admin.
func (w *writer) adminRightsChanges() {
	roles := map[int64]srcRole{}
	for _, r := range w.src.roles {
		roles[r.id] = r
	}
	email := map[int64]string{}
	for _, u := range w.src.users {
		email[u.id] = strings.ToLower(strings.TrimSpace(u.email))
	}
	holdsAdmin := map[[2]int64]bool{}
	for _, a := range w.src.assignments {
		if roles[a.role].name == "Admin" && a.isActive {
			holdsAdmin[[2]int64{a.user, a.system}] = true
		}
	}
	for _, a := range w.src.assignments {
		r := roles[a.role]
		if _, now := w.users[a.user]; !now || !a.isActive || r.name == "Admin" || !strings.EqualFold(r.name, "admin") || holdsAdmin[[2]int64{a.user, a.system}] {
			continue
		}
		w.sum.AdminChanges = append(w.sum.AdminChanges, fmt.Sprintf("%s: %s holds %q, not the admin role here (only \"Admin\" is)", w.slugs[a.system], email[a.user], r.name))
	}
}

func (w *writer) knownUser(id int64) bool {
	for _, u := range w.src.users {
		if u.id == id {
			return true
		}
	}
	return false
}

func (w *writer) count(table string, where dbx.Expression) (int, error) {
	var n int
	err := w.tx.DB().Select("COUNT(*)").From(table).Where(where).Row(&n)
	return n, err
}

func (w *writer) note(u srcUser, format string, a ...any) {
	w.sum.Notes = append(w.sum.Notes, fmt.Sprintf("%s row id=%d (%s): %s", u.table, u.id, strings.ToLower(u.email), fmt.Sprintf(format, a...)))
}

func rowErr(table string, id int64, err error) error {
	return fmt.Errorf("%s row id=%d: %w", table, id, err)
}

func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// mustDate converts a parsed (valid, UTC) time to PocketBase's date type.
func mustDate(t time.Time) types.DateTime {
	d, _ := types.ParseDateTime(t.UTC())
	return d
}

// ---- summary

// AccountCounts counts one account table.
type AccountCounts struct {
	Imported, AlreadyImported           int
	Skipped                             []string // emails that already exist in Gatehouse
	CompanyIDsKept, CompanyIDsAllocated int
}

// Summary is what an import did (or, with --dry-run, would do).
type Summary struct {
	Source string
	DryRun bool

	Systems struct{ Created, Merged []string }
	Roles   struct{ Created, Merged int }

	Users, Employees AccountCounts
	Assignments      struct{ Imported, AlreadyImported, Skipped int }

	Hashes       map[string]int // kept Django hashes by algorithm ("unusable", "unsupported")
	AdminChanges []string
	Notes        []string
	APIKeys      int64
}

func (s *Summary) countHash(encoded string) {
	if s.Hashes == nil {
		s.Hashes = map[string]int{}
	}
	h, err := passwords.ParseDjangoHash(encoded)
	switch {
	case errors.Is(err, passwords.ErrUnusableHash):
		s.Hashes["unusable (cannot log in until a password reset)"]++
	case err != nil:
		s.Hashes["unsupported (cannot log in until a password reset)"]++
	default:
		s.Hashes[h.Algorithm]++
	}
}

// Print writes the summary.
func (s *Summary) Print(out io.Writer) {
	head := "Import from the original service (" + s.Source + ")"
	if s.DryRun {
		head += ": DRY RUN, nothing was written"
	}
	fmt.Fprintln(out, head)
	fmt.Fprintf(out, "  systems:      %d created %v, %d merged with existing %v\n", len(s.Systems.Created), s.Systems.Created, len(s.Systems.Merged), s.Systems.Merged)
	fmt.Fprintf(out, "  roles:        %d created, %d merged with existing (same system and exact name)\n", s.Roles.Created, s.Roles.Merged)
	for _, a := range []struct {
		name string
		c    *AccountCounts
	}{{"staff users", &s.Users}, {"employees", &s.Employees}} {
		fmt.Fprintf(out, "  %-13s %d imported, %d already imported, %d skipped (email already in Gatehouse, not overwritten)\n", a.name+":", a.c.Imported, a.c.AlreadyImported, len(a.c.Skipped))
		for _, e := range a.c.Skipped {
			fmt.Fprintf(out, "                  skipped: %s\n", e)
		}
		if a.c.Imported > 0 {
			fmt.Fprintf(out, "                company_id: %d kept, %d allocated\n", a.c.CompanyIDsKept, a.c.CompanyIDsAllocated)
		}
	}
	fmt.Fprintf(out, "  assignments:  %d imported, %d already imported, %d skipped (their account was skipped, or was imported by an earlier run)\n", s.Assignments.Imported, s.Assignments.AlreadyImported, s.Assignments.Skipped)
	if len(s.Hashes) > 0 {
		keys := make([]string, 0, len(s.Hashes))
		for k := range s.Hashes {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + " " + strconv.Itoa(s.Hashes[k])
		}
		fmt.Fprintf(out, "  passwords:    Django hashes kept (%s); each is verified at the account's first login and re-hashed to bcrypt\n", strings.Join(parts, ", "))
	}
	if len(s.AdminChanges) > 0 {
		fmt.Fprintln(out, "  admin rights that change:")
		for _, c := range s.AdminChanges {
			fmt.Fprintln(out, "    "+c)
		}
	}
	if len(s.Notes) > 0 {
		fmt.Fprintln(out, "  notes:")
		for _, n := range s.Notes {
			fmt.Fprintln(out, "    "+n)
		}
	}
	fmt.Fprintf(out, "  not carried:  Django's own tables (sessions, permissions, groups, admin log, content types, migrations);\n")
	fmt.Fprintf(out, "                tokens (token blacklist, password-reset tokens, OTP codes): sessions end, everyone logs in again;\n")
	fmt.Fprintf(out, "                rate-limit rows (IP limits, limit config, device fingerprints), failed-login counters and locks;\n")
	fmt.Fprintf(out, "                profile picture files; API keys (%d in the source): their hashes are not portable, create them anew\n", s.APIKeys)
}
