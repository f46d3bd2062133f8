package importer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // already PocketBase's driver; registers "sqlite"
)

// The original service's rows, as read (everything is read before anything is written).

type srcUser struct {
	table                                    string // users_user or hdts_employees
	id                                       int64
	password, email                          string
	username, firstName, middleName          string
	lastName, suffix, phone, companyID       string
	department, status                       string
	isActive, isStaff, isSuperuser, otp, ntf bool
	lastLogin, joined, statusAt              time.Time
	statusBy                                 int64 // 0: none
}

type srcSystem struct {
	id         int64
	name, slug string
}

type srcRole struct {
	id, system        int64
	name, description string
	isCustom          bool
}

type srcAssignment struct {
	id, user, system, role int64
	isActive               bool
	settings               string
	assignedAt, lastLogged time.Time
}

type source struct {
	kind        string // "sqlite" or "postgres"
	users       []srcUser
	employees   []srcUser
	systems     []srcSystem
	roles       []srcRole
	assignments []srcAssignment
	apiKeys     int64 // rows of keys_apikey + rest_framework_api_key_apikey (not carried)
}

// openSource opens --from read-only: a PostgreSQL URL (postgres:// or postgresql://) or the
// path of a SQLite file.
func openSource(from string) (*sql.DB, string, error) {
	if strings.HasPrefix(from, "postgres://") || strings.HasPrefix(from, "postgresql://") {
		cfg, err := pgx.ParseConfig(from)
		if err != nil {
			return nil, "", fmt.Errorf("--from: %w", err)
		}
		cfg.RuntimeParams["timezone"] = "UTC"
		cfg.RuntimeParams["default_transaction_read_only"] = "on"
		return stdlib.OpenDB(*cfg), "postgres", nil
	}
	st, err := os.Stat(from)
	if err != nil {
		return nil, "", fmt.Errorf("--from: cannot read the source database: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, "", fmt.Errorf("--from: %s is not a file", from)
	}
	// An absolute path (a relative one would read as the URL's host), read-only; not immutable:
	// SQLite then reads the source's WAL and locks against a writer, so rows still in a -wal
	// file (the original service running, or stopped without a checkpoint) are seen.
	abs, err := filepath.Abs(from)
	if err != nil {
		return nil, "", fmt.Errorf("--from: %w", err)
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, "", fmt.Errorf("--from: %w", err)
	}
	return db, "sqlite", nil
}

// the columns read from each table (a schema check: a missing table or column is an error)
var (
	userCols = `id, password, email, username, first_name, middle_name, last_name, suffix,
		phone_number, company_id, department, status, CAST(is_active AS INTEGER),
		CAST(is_staff AS INTEGER), CAST(is_superuser AS INTEGER), CAST(otp_enabled AS INTEGER),
		CAST(notified AS INTEGER), CAST(last_login AS TEXT), CAST(date_joined AS TEXT),
		CAST(status_at AS TEXT), status_by_id`
	employeeCols = `id, password, email, username, first_name, middle_name, last_name, suffix,
		phone_number, company_id, department, status, 1, 0, 0, CAST(otp_enabled AS INTEGER),
		CAST(notified AS INTEGER), CAST(last_login AS TEXT), CAST(created_at AS TEXT),
		NULL, NULL`
)

func readSource(ctx context.Context, db *sql.DB, kind string, progress func(table string, rows int)) (*source, error) {
	if err := db.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("cannot open the source database: %w", err)
	}
	src := &source{kind: kind}
	var err error
	if src.users, err = readUsers(ctx, db, "users_user", userCols); err != nil {
		return nil, err
	}
	progress("users_user", len(src.users))
	if src.employees, err = readUsers(ctx, db, "hdts_employees", employeeCols); err != nil {
		return nil, err
	}
	progress("hdts_employees", len(src.employees))

	if err := eachRow(ctx, db, "systems_system", "id, name, slug", func(rows *sql.Rows) (int64, error) {
		var s srcSystem
		err := rows.Scan(&s.id, &s.name, &s.slug)
		src.systems = append(src.systems, s)
		return s.id, err
	}); err != nil {
		return nil, err
	}
	progress("systems_system", len(src.systems))

	if err := eachRow(ctx, db, "roles_role", "id, system_id, name, description, CAST(is_custom AS INTEGER)", func(rows *sql.Rows) (int64, error) {
		var r srcRole
		var desc sql.NullString
		var custom int64
		err := rows.Scan(&r.id, &r.system, &r.name, &desc, &custom)
		r.description, r.isCustom = desc.String, custom != 0
		src.roles = append(src.roles, r)
		return r.id, err
	}); err != nil {
		return nil, err
	}
	progress("roles_role", len(src.roles))

	cols := "id, user_id, system_id, role_id, CAST(is_active AS INTEGER), CAST(settings AS TEXT), CAST(assigned_at AS TEXT), CAST(last_logged_on AS TEXT)"
	if err := eachRow(ctx, db, "system_roles_usersystemrole", cols, func(rows *sql.Rows) (int64, error) {
		var a srcAssignment
		var active int64
		var settings, assigned, last sql.NullString
		if err := rows.Scan(&a.id, &a.user, &a.system, &a.role, &active, &settings, &assigned, &last); err != nil {
			return a.id, err
		}
		a.isActive, a.settings = active != 0, settings.String
		var err error
		if a.assignedAt, err = parseTime(assigned); err != nil {
			return a.id, fmt.Errorf("assigned_at: %w", err)
		}
		if a.lastLogged, err = parseTime(last); err != nil {
			return a.id, fmt.Errorf("last_logged_on: %w", err)
		}
		src.assignments = append(src.assignments, a)
		return a.id, nil
	}); err != nil {
		return nil, err
	}
	progress("system_roles_usersystemrole", len(src.assignments))

	for _, t := range []string{"keys_apikey", "rest_framework_api_key_apikey"} {
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("%s: %w (is this the original service's database?)", t, err)
		}
		src.apiKeys += n
	}
	return src, nil
}

// eachRow runs SELECT cols FROM table ORDER BY id and calls scan per row; errors name the table
// and, once a row is read, its id.
func eachRow(ctx context.Context, db *sql.DB, table, cols string, scan func(*sql.Rows) (int64, error)) error {
	rows, err := db.QueryContext(ctx, "SELECT "+cols+" FROM "+table+" ORDER BY id")
	if err != nil {
		return fmt.Errorf("%s: %w (is this the original service's database?)", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		if id, err := scan(rows); err != nil {
			return fmt.Errorf("%s row id=%d: %w", table, id, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", table, err)
	}
	return nil
}

func readUsers(ctx context.Context, db *sql.DB, table, cols string) ([]srcUser, error) {
	var out []srcUser
	err := eachRow(ctx, db, table, cols, func(rows *sql.Rows) (int64, error) {
		u := srcUser{table: table}
		var username, first, middle, last, suffix, phone, company, dept, status sql.NullString
		var active, staff, super, otp, ntf int64
		var lastLogin, joined, statusAt sql.NullString
		var statusBy sql.NullInt64
		if err := rows.Scan(&u.id, &u.password, &u.email, &username, &first, &middle, &last, &suffix,
			&phone, &company, &dept, &status, &active, &staff, &super, &otp, &ntf,
			&lastLogin, &joined, &statusAt, &statusBy); err != nil {
			return u.id, err
		}
		u.username, u.firstName, u.middleName, u.lastName = username.String, first.String, middle.String, last.String
		u.suffix, u.phone, u.companyID, u.department, u.status = suffix.String, phone.String, company.String, dept.String, status.String
		u.isActive, u.isStaff, u.isSuperuser, u.otp, u.ntf = active != 0, staff != 0, super != 0, otp != 0, ntf != 0
		u.statusBy = statusBy.Int64
		var err error
		if u.lastLogin, err = parseTime(lastLogin); err != nil {
			return u.id, fmt.Errorf("last_login: %w", err)
		}
		if u.joined, err = parseTime(joined); err != nil {
			return u.id, fmt.Errorf("date joined: %w", err)
		}
		if u.statusAt, err = parseTime(statusAt); err != nil {
			return u.id, fmt.Errorf("status_at: %w", err)
		}
		out = append(out, u)
		return u.id, nil
	})
	return out, err
}

// parseTime reads a timestamp as Django stores it: SQLite "2026-12-05 23:40:26.282455" (UTC,
// USE_TZ) or PostgreSQL's text form with an offset ("…+00", session time zone UTC).
func parseTime(s sql.NullString) (time.Time, error) {
	if !s.Valid || s.String == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{
		"2006-01-02 15:04:05.999999999Z07",
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999",
		"2006-01-02T15:04:05.999999999Z07:00",
		"2006-01-02T15:04:05.999999999",
		"2006-01-02",
	} {
		if t, err := time.Parse(layout, s.String); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("unreadable timestamp " + fmt.Sprintf("%q", s.String))
}
