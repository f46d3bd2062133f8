// Command seed fills a Gatehouse data directory with a large, realistic directory for the scale
// benchmarks (issue 13: 100,000 users and 300,000 assignments; issue 17's growth run: also
// 1,000,000 sessions and 1,000,000 audit rows).
//
//	go run ./bench/seed --dir /tmp/gh-scale --users 100000 --assignments 300000 [--sessions N] [--audit N]
//
// The data dir is created (or completed) by the binary's own migrations (pb_migrations), the
// systems of §2.20 plus four more are ensured through the PocketBase app, and one staff superuser
// bench.admin@example.com (password --password) is saved through it too; its bcrypt hash (cost
// of the users collection, 12) is reused for every seeded user. Everything else is written with
// direct SQL in batched transactions, so 100k users and 300k assignments take seconds, not the
// hours the records API would. The users table must be empty: the tool seeds a fresh dir once.
//
// Rows look like the service's own: 15-character ids, lower-cased emails, derived usernames,
// MA0001… company ids, E.164 phone numbers (most users), names with a share of non-ASCII
// letters, date_joined over five years, assignments spread over 8 systems and their roles,
// sessions and audit rows shaped like plugins/tokens and plugins/audit write them. The data is
// deterministic for a given --seed.
//
// RATE_LIMITS_ENABLED is read by the settings migration as at a first start: set it to false
// for a load test's data dir.
package main

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
	_ "modernc.org/sqlite"

	"gatehouse/pb_migrations"
)

// AdminEmail is the staff superuser the benchmarks sign in as.
const AdminEmail = "bench.admin@example.com"

func main() {
	dir := flag.String("dir", "", "data directory (created when missing)")
	users := flag.Int("users", 100000, "staff users")
	assignments := flag.Int("assignments", 300000, "user_system_roles rows (at most 8 per user)")
	sessions := flag.Int("sessions", 0, "sessions rows (issue 17 growth run)")
	auditRows := flag.Int("audit", 0, "audit_log rows (issue 17 growth run)")
	password := flag.String("password", "bench-admin-password-1234", "password of every seeded user and of "+AdminEmail)
	seed := flag.Uint64("seed", 13, "PRNG seed (same seed, same data)")
	flag.Parse()
	if *dir == "" || *users < 0 || *assignments < 0 || *sessions < 0 || *auditRows < 0 {
		flag.Usage()
		os.Exit(2)
	}
	if *assignments > 8*(*users) {
		fail(fmt.Errorf("--assignments %d: at most 8 per user (8 systems)", *assignments))
	}
	s := &seeder{rnd: rand.New(rand.NewPCG(*seed, *seed^0x9e3779b97f4a7c15)), now: time.Now().UTC()}
	start := time.Now()
	if err := s.prepare(*dir, *password); err != nil {
		fail(err)
	}
	fmt.Fprintf(os.Stderr, "seed: migrated and prepared in %s\n", time.Since(start).Round(time.Millisecond))
	db, err := sql.Open("sqlite", "file:"+filepath.Join(*dir, "data.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)&_pragma=cache_size(-262144)")
	if err != nil {
		fail(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	steps := []struct {
		name  string
		n     int
		query string
		fn    func(int) ([]any, error)
	}{
		{"users", *users, insertUser, s.user},
		{"assignments", *assignments, insertAssignment, s.assignment},
		{"sessions", *sessions, insertSession, s.session},
		{"audit_log", *auditRows, insertAudit, s.audit},
	}
	s.plan(*users, *assignments)
	for _, st := range steps {
		t0 := time.Now()
		if err := batched(db, st.n, st.query, st.fn); err != nil {
			fail(fmt.Errorf("%s: %w", st.name, err))
		}
		if st.n > 0 {
			fmt.Fprintf(os.Stderr, "seed: %d %s in %s\n", st.n, st.name, time.Since(t0).Round(time.Millisecond))
		}
	}
	t0 := time.Now()
	// What PocketBase's periodic PRAGMA optimize leaves in a long-running data dir: statistics.
	for _, q := range []string{"PRAGMA optimize=0x10002", "PRAGMA wal_checkpoint(TRUNCATE)"} {
		if _, err := db.Exec(q); err != nil {
			fail(fmt.Errorf("%s: %w", q, err))
		}
	}
	fmt.Fprintf(os.Stderr, "seed: optimize and checkpoint in %s\n", time.Since(t0).Round(time.Millisecond))
	fmt.Fprintf(os.Stderr, "seed: done in %s: %d users, %d assignments, %d sessions, %d audit rows in %s (sign in as %s)\n",
		time.Since(start).Round(time.Millisecond), *users, *assignments, *sessions, *auditRows, *dir, AdminEmail)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "seed:", err)
	os.Exit(1)
}

// batched inserts n rows (the arguments of query are fn(i)) in transactions of 5,000 rows, one
// prepared statement each.
func batched(db *sql.DB, n int, query string, fn func(int) ([]any, error)) error {
	const batch = 5000
	for lo := 0; lo < n; lo += batch {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		err = func() error {
			st, err := tx.Prepare(query)
			if err != nil {
				return err
			}
			defer st.Close()
			for i := lo; i < min(lo+batch, n); i++ {
				args, err := fn(i)
				if err == nil {
					_, err = st.Exec(args...)
				}
				if err != nil {
					return err
				}
			}
			return nil
		}()
		if err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

type role struct{ id, system, slug, name string }

type seeder struct {
	rnd   *rand.Rand
	now   time.Time
	hash  string   // the one bcrypt hash every user gets
	roles [][]role // per system (index), its roles; Admin first
	// filled by user(): ids and date_joined of the seeded users
	userIDs []string
	joined  []time.Time
	// assignment plan: for user i, assignments perUser[i] (≤ 8)
	perUser []uint8
	aUser   int // cursor of assignment(): current user and its k-th assignment
	aK      int
	aSys    []int
}

// extraSystems complete the 4 systems of §2.20 to 8.
var extraSystems = []struct{ slug, name string }{
	{"crm", "Customer Relations"}, {"hrms", "Human Resources"}, {"lms", "Learning Portal"}, {"pms", "Procurement"},
}

// prepare migrates the dir, ensures the systems and the admin, and reads back the hash and roles.
func (s *seeder) prepare(dir, password string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	app := core.NewBaseApp(core.BaseAppConfig{DataDir: dir})
	if err := app.Bootstrap(); err != nil {
		return err
	}
	defer app.ResetBootstrapState()
	if err := app.RunAllMigrations(); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if n, err := app.CountRecords("users"); err != nil || n > 0 {
		if err == nil {
			err = fmt.Errorf("the users table of %s holds %d rows: seed a fresh data dir", dir, n)
		}
		return err
	}
	if _, err := pb_migrations.EnsureDefaultSystems(app); err != nil {
		return err
	}
	systemsCol, err := app.FindCollectionByNameOrId("systems")
	if err != nil {
		return err
	}
	rolesCol, err := app.FindCollectionByNameOrId("roles")
	if err != nil {
		return err
	}
	for _, x := range extraSystems {
		sys := core.NewRecord(systemsCol)
		sys.Set("name", x.name)
		sys.Set("slug", x.slug)
		sys.Set("url", "https://"+x.slug+".example.com/")
		if err := app.Save(sys); err != nil {
			return err
		}
		for _, name := range []string{"Admin", "Manager", "Staff", "Viewer"} {
			r := core.NewRecord(rolesCol)
			r.Set("system", sys.Id)
			r.Set("name", name)
			r.Set("description", name+" of "+x.name)
			if err := app.Save(r); err != nil {
				return err
			}
		}
	}
	var rows []struct {
		ID     string `db:"id"`
		System string `db:"system"`
		Slug   string `db:"slug"`
		Name   string `db:"name"`
	}
	if err := app.DB().NewQuery("SELECT r.id, r.system, s.slug, r.name FROM roles r JOIN systems s ON s.id = r.system ORDER BY s.slug, r.name != 'Admin', r.name").All(&rows); err != nil {
		return err
	}
	for _, r := range rows {
		if n := len(s.roles); n == 0 || s.roles[n-1][0].system != r.System {
			s.roles = append(s.roles, nil)
		}
		s.roles[len(s.roles)-1] = append(s.roles[len(s.roles)-1], role{r.ID, r.System, r.Slug, r.Name})
	}
	if len(s.roles) != 8 {
		return fmt.Errorf("expected 8 systems, found %d", len(s.roles))
	}
	usersCol, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		return err
	}
	admin := core.NewRecord(usersCol)
	admin.SetEmail(AdminEmail)
	admin.SetPassword(password) // bcrypt at the collection's cost, once
	for k, v := range map[string]any{"username": "bench.admin", "first_name": "Bench", "last_name": "Admin",
		"company_id": "MA0000", "status": "Approved", "department": "IT Department", "is_active": true,
		"is_staff": true, "is_superuser": true, "verified": true} {
		admin.Set(k, v)
	}
	if err := app.Save(admin); err != nil {
		return fmt.Errorf("saving %s: %w", AdminEmail, err)
	}
	return app.DB().NewQuery("SELECT password FROM users WHERE id = {:id}").Bind(map[string]any{"id": admin.Id}).Row(&s.hash)
}

// ---------------------------------------------------------------------------------------------
// values

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

func (s *seeder) id() string {
	b := make([]byte, 15) // 36^15 ids: no collision in millions (the primary key would refuse one)
	for i := range b {
		b[i] = idAlphabet[s.rnd.IntN(len(idAlphabet))]
	}
	return string(b)
}

func (s *seeder) token(n int) string {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alpha[s.rnd.IntN(len(alpha))]
	}
	return string(b)
}

func (s *seeder) hexHash() string {
	var b [32]byte
	for i := range b {
		b[i] = byte(s.rnd.UintN(256))
	}
	sum := sha256.Sum256(b[:])
	return hex.EncodeToString(sum[:])
}

func date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(types.DefaultDateLayout)
}

// between is a random instant in [a, b).
func (s *seeder) between(a, b time.Time) time.Time {
	d := b.Sub(a)
	if d <= 0 {
		return a
	}
	return a.Add(time.Duration(s.rnd.Int64N(int64(d))))
}

func pick[T any](s *seeder, xs []T) T { return xs[s.rnd.IntN(len(xs))] }

// Names: mostly Filipino and common English ones, with a share of non-ASCII letters (ñ, é, ü…).
var firstNames = strings.Fields(`Maria Jose Juan Ana Mark John Michael Angelo Carlo Paolo Miguel Gabriel Rafael
Andrea Patricia Kristine Camille Nicole Jasmine Katrina Bea Grace Joy Mary Anne Rose Liza Ella Bianca Sofia
Isabel Lucia Elena Carmen Teresa Ramon Antonio Manuel Francisco Pedro Luis Carlos Enrique Roberto Ricardo
Eduardo Fernando Alfredo Rodrigo Emilio Ernesto Daniel David James Robert William Richard Joseph Thomas
Charles Christopher Matthew Anthony Steven Andrew Joshua Kenneth Kevin Brian George Timothy Jennifer Linda
Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty Margaret Sandra Ashley Kimberly Emily Donna
Michelle Carol Amanda Melissa Deborah Stephanie Rebecca Sharon Laura Cynthia Amy Angela Helen Anna Brenda
Pamela Nicole Samantha Katherine Christine Rachel Janet Catherine Maricel Rowena Jocelyn Analyn Rodel
Arnel Jomar Jericho Rhea Hazel Princess Cherry Lovely Genalyn Marvin Ryan Jayson Noel Reynaldo Rolando
José Zoë Renée Chloé Inés Nuñez Ñino Mónica Raúl Jürgen Ångela Ólafur Søren Émile François Björn Dvořák`)

var lastNames = strings.Fields(`Santos Reyes Cruz Bautista Ocampo Garcia Mendoza Torres Tomas Andrada Castillo
Flores Villanueva Ramos Castro Rivera Aquino Navarro Salazar Mercado Lopez Gonzales Hernandez Perez Dela_Cruz
Del_Rosario Fernandez Aguilar Domingo Soriano Manalo Pascual Valdez Gutierrez Marquez Dizon Lim Tan Sy Go
Chua Ong Yap Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore Jackson
Martin Lee Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright Scott Green Baker Adams
Nelson Hill Campbell Mitchell Roberts Carter Phillips Evans Turner Parker Collins Edwards Stewart Morris
Murphy Cook Rogers Morgan Peterson Cooper Reed Bailey Bell Kelly Howard Ward Cox Richardson Wood Watson
Brooks Bennett Gray James Hughes Price Sanders Myers Long Ross Foster Magbanua Macaraeg Pangilinan Dimaculangan
Peña Muñoz Ibáñez Núñez Müller Schröder Gómez Martínez Rodríguez Sánchez Jiménez Álvarez Løvlie Ångström Çelik`)

var emailDomains = []string{"example.com", "example.org", "corp.example.com", "mail.example.net", "example.ph"}

// asciiLocal lower-cases a name part for an email local part (letters only, accents dropped).
func asciiLocal(s string) string {
	repl := strings.NewReplacer("á", "a", "à", "a", "å", "a", "ä", "a", "é", "e", "è", "e", "ë", "e", "í", "i", "ó", "o",
		"ö", "o", "ø", "o", "ú", "u", "ü", "u", "ñ", "n", "ç", "c", "ř", "r", "Å", "a", "Á", "a", "É", "e", "Í", "i",
		"Ó", "o", "Ú", "u", "Ñ", "n", "Ç", "c", "Ø", "o", "_", "")
	return strings.ToLower(repl.Replace(s))
}

// plan spreads the assignments over the users: everyone gets assignments/users (rounded), a
// random few one more or less, capped at 8 (one per system).
func (s *seeder) plan(users, assignments int) {
	s.perUser = make([]uint8, users)
	if users == 0 {
		return
	}
	left := assignments
	for left > 0 {
		i := s.rnd.IntN(users)
		if s.perUser[i] < 8 {
			s.perUser[i]++
			left--
		}
	}
}

// ---------------------------------------------------------------------------------------------
// rows

var (
	statuses    = []string{"Approved", "Approved", "Approved", "Approved", "Approved", "Approved", "Pending", "Pending", "Rejected"}
	departments = []string{"IT Department", "Asset Department", "Budget Department", ""}
	suffixes    = []string{"", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "Jr.", "Sr.", "II", "III"}
)

func (s *seeder) user(i int) ([]any, error) {
	first, last := pick(s, firstNames), strings.ReplaceAll(pick(s, lastNames), "_", " ")
	if s.rnd.IntN(10) == 0 { // two given names
		first += " " + pick(s, firstNames)
	}
	local := fmt.Sprintf("%s.%s%d", asciiLocal(strings.Fields(first)[0]), asciiLocal(strings.ReplaceAll(last, " ", "")), i+1)
	if s.rnd.IntN(5) == 0 {
		local = fmt.Sprintf("%c%s_%d", asciiLocal(first)[0], asciiLocal(strings.ReplaceAll(last, " ", "")), i+1)
	}
	email := local + "@" + pick(s, emailDomains)
	username := local
	if len(username) > 30 {
		username = username[:30]
	}
	phone := ""
	if s.rnd.IntN(10) < 7 {
		phone = fmt.Sprintf("+639%09d", 100000000+i) // unique per user
	}
	id := s.id()
	joined := s.between(s.now.AddDate(-5, 0, 0), s.now.Add(-time.Hour))
	updated := s.between(joined, s.now)
	lastLogin := ""
	if s.rnd.IntN(10) < 8 {
		lastLogin = date(s.between(joined, s.now))
	}
	middle := ""
	if s.rnd.IntN(3) == 0 {
		middle = pick(s, lastNames)
	}
	status := pick(s, statuses)
	active := s.rnd.IntN(20) != 0
	s.userIDs = append(s.userIDs, id)
	s.joined = append(s.joined, joined)
	return []any{
		id, email, s.hash, s.token(50), s.rnd.IntN(4) != 0, username, first, middle, last, pick(s, suffixes),
		phone, fmt.Sprintf("MA%04d", i+1), pick(s, departments), status, s.rnd.IntN(2) == 0, active,
		lastLogin, date(joined), date(joined), date(updated)}, nil
}

func (s *seeder) assignment(_ int) ([]any, error) {
	for s.aUser < len(s.perUser) && s.aK >= int(s.perUser[s.aUser]) {
		s.aUser, s.aK = s.aUser+1, 0
	}
	if s.aUser >= len(s.perUser) {
		return nil, errors.New("assignment plan exhausted")
	}
	if s.aK == 0 { // the user's systems: a random subset of the 8, hdts and tts more often
		s.aSys = s.rnd.Perm(len(s.roles))
		if s.rnd.IntN(2) == 0 {
			for j, sys := range s.aSys {
				if s.roles[sys][0].slug == "hdts" || s.roles[sys][0].slug == "tts" {
					s.aSys[0], s.aSys[j] = s.aSys[j], s.aSys[0]
				}
			}
		}
	}
	roles := s.roles[s.aSys[s.aK]]
	r := roles[0] // Admin for about 1 in 50
	if len(roles) > 1 && s.rnd.IntN(50) != 0 {
		r = roles[1+s.rnd.IntN(len(roles)-1)]
	}
	user, joined := s.userIDs[s.aUser], s.joined[s.aUser]
	s.aK++
	at := s.between(joined, s.now)
	lastOn := ""
	if s.rnd.IntN(3) != 0 {
		lastOn = date(s.between(at, s.now))
	}
	settings := "{}"
	if s.rnd.IntN(10) == 0 {
		settings = fmt.Sprintf(`{"queue":"q%d","notify":%t}`, s.rnd.IntN(20), s.rnd.IntN(2) == 0)
	}
	return []any{
		s.id(), user, r.system, r.id, s.rnd.IntN(10) != 0, settings, date(at), lastOn, date(at), date(at)}, nil
}

var userAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
	"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
	"tts-backend/2.3 (python-requests/2.32)", "hdts-worker/1.8",
}
var loginMethods = []string{"password", "password", "password", "password", "password", "password+totp", "password+email", "password+recovery_code"}
var revokeReasons = []string{"logout", "logout", "logout", "logout", "password_change", "security_change", "reuse_detected", "user_revoked"}

func (s *seeder) ip() string {
	if s.rnd.IntN(3) == 0 {
		return fmt.Sprintf("203.0.113.%d", s.rnd.IntN(254)+1)
	}
	return fmt.Sprintf("10.%d.%d.%d", s.rnd.IntN(256), s.rnd.IntN(256), s.rnd.IntN(254)+1)
}

// session: a staff session family as plugins/tokens writes it, created over the last 45 days
// (the default 7-day idle / 30-day absolute lifetimes): about a third live, the rest revoked or
// expired, some of those past the 30-day retention (the hourly cleanup has work to do).
func (s *seeder) session(_ int) ([]any, error) {
	u := s.rnd.IntN(len(s.userIDs))
	created := s.between(s.now.AddDate(0, 0, -45), s.now)
	gen := s.rnd.IntN(40)
	lastUsed := s.between(created, minTime(s.now, created.Add(time.Duration(gen+1)*4*time.Hour)))
	rotated, prev := "", ""
	if gen > 0 {
		rotated, prev = date(lastUsed), s.hexHash()
	}
	revokedAt, reason := "", ""
	if s.rnd.IntN(2) == 0 {
		revokedAt, reason = date(s.between(lastUsed, minTime(s.now, lastUsed.Add(72*time.Hour)))), pick(s, revokeReasons)
	}
	return []any{
		s.id(), s.userIDs[u], s.hexHash(), prev, rotated, gen, pick(s, loginMethods), s.ip(), pick(s, userAgents),
		date(lastUsed), date(lastUsed.Add(7 * 24 * time.Hour)), date(created.Add(30 * 24 * time.Hour)), revokedAt, reason,
		date(created), date(lastUsed)}, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// auditEvents: the events the service writes most, with their target type and success share.
var auditEvents = []struct {
	event, target string
	weight        int
	details       string
}{
	{"login.success", "user", 40, `{"method":"password"}`},
	{"token.refresh", "session", 30, ""},
	{"login.failure", "user", 10, `{"reason":"invalid_credentials"}`},
	{"session.revoked", "session", 6, `{"reason":"logout"}`},
	{"login.mfa_required", "user", 4, `{"method":"totp"}`},
	{"user.profile_updated", "user", 3, `{"fields":["phone_number"]}`},
	{"password.change", "user", 2, ""},
	{"assignment.updated", "assignment", 2, `{"fields":["is_active"]}`},
	{"captcha.failure", "", 2, ""},
	{"login.locked", "user", 1, ""},
}

// audit: an audit_log row over the last 90 days, by a staff user (or anonymous).
func (s *seeder) audit(_ int) ([]any, error) {
	w := s.rnd.IntN(100)
	ev := auditEvents[0]
	for _, e := range auditEvents {
		if w < e.weight {
			ev = e
			break
		}
		w -= e.weight
	}
	u := s.userIDs[s.rnd.IntN(len(s.userIDs))]
	actorType, actorID, target := "staff", u, u
	switch ev.target {
	case "session", "assignment":
		target = s.id()
	case "":
		actorType, actorID, target = "anonymous", "", ""
	}
	if ev.event == "login.failure" || ev.event == "login.locked" {
		actorType, actorID = "anonymous", ""
	}
	success := ev.event != "login.failure" && ev.event != "captcha.failure" && ev.event != "login.locked"
	sys := ""
	if s.rnd.IntN(3) == 0 {
		sys = s.roles[s.rnd.IntN(len(s.roles))][0].slug
	}
	var details any
	if ev.details != "" {
		details = ev.details
	}
	at := date(s.between(s.now.AddDate(0, 0, -90), s.now))
	return []any{
		s.id(), ev.event, success, actorType, actorID, ev.target, target, sys, s.ip(), pick(s, userAgents), details, at, at}, nil
}

const insertUser = `INSERT INTO users (id, email, password, tokenKey, verified, emailVisibility, username,
		first_name, middle_name, last_name, suffix, phone_number, company_id, department, status, notified,
		is_active, is_staff, is_superuser, otp_enabled, last_login, status_at, created, updated)
		VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, ?, ?, ?, ?)`

const insertAssignment = `INSERT INTO user_system_roles (id, user, system, role, is_active, settings, assigned_at,
		last_logged_on, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const insertSession = `INSERT INTO sessions (id, user_type, user, employee, refresh_jti_hash, previous_jti_hash,
		rotated_at, generation, login_method, ip, user_agent, last_used_at, expires_at, absolute_expires_at,
		revoked_at, revoked_reason, created, updated) VALUES (?, 'staff', ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const insertAudit = `INSERT INTO audit_log (id, event, success, actor_type, actor_id, target_type, target_id,
		system, ip, user_agent, details, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
