// Package profiles builds the shared response objects of spec/API.md §4 that describe a staff
// user or an employee: UserProfile (§4.1), LoginUser (§4.2), Redirect (§4.3) and
// EmployeeProfile (§4.8). Every object is a struct whose fields follow the contract's key order
// (encoding/json keeps struct order), every listed key is always present, nullable strings are
// null when empty, and timestamps use the format of §1.9.
//
// The serializers read a user's assignments from permissions.Assignments: one SQL join over
// user_system_roles, systems and roles (never one query per row), cached under the write epoch.
package profiles

import (
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// TimestampLayout is the timestamp format of §1.9: UTC, millisecond precision, "Z" suffix.
const TimestampLayout = "2006-01-02T15:04:05.000Z"

// Timestamp formats dt as §1.9 requires ("" for the zero value).
func Timestamp(dt types.DateTime) string {
	if dt.IsZero() {
		return ""
	}
	return FormatTime(dt.Time())
}

// NullTimestamp formats dt as §1.9 requires, or nil (JSON null) for the zero value: the ts|null
// fields of §4.
func NullTimestamp(dt types.DateTime) *string {
	if dt.IsZero() {
		return nil
	}
	s := FormatTime(dt.Time())
	return &s
}

// FormatTime formats t in UTC with millisecond precision (§1.9).
func FormatTime(t time.Time) string {
	return string(AppendTime(make([]byte, 0, len(TimestampLayout)), t))
}

// AppendTime appends t as FormatTime writes it (TimestampLayout) without time's general layout
// interpreter: validate writes two of them per request.
func AppendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, TimestampLayout)
	}
	ms := t.Nanosecond() / int(time.Millisecond)
	pad := func(b []byte, v, width int) []byte {
		var buf [4]byte
		for i := width - 1; i >= 0; i-- {
			buf[i] = byte('0' + v%10)
			v /= 10
		}
		return append(b, buf[:width]...)
	}
	dst = pad(dst, year, 4)
	dst = append(dst, '-')
	dst = pad(dst, int(month), 2)
	dst = append(dst, '-')
	dst = pad(dst, day, 2)
	dst = append(dst, 'T')
	dst = pad(dst, hour, 2)
	dst = append(dst, ':')
	dst = pad(dst, minute, 2)
	dst = append(dst, ':')
	dst = pad(dst, sec, 2)
	dst = append(dst, '.')
	dst = pad(dst, ms, 3)
	return append(dst, 'Z')
}

// NullString is nil (JSON null) for "", else a pointer to s: the string|null fields of §1.9.
func NullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// FileURL is the absolute URL of a file of a record (§4.1, §4.8):
// <appURL>/api/files/<collection>/<id>/<filename>, or nil when filename is empty.
func FileURL(appURL, collection, recordID, filename string) *string {
	if filename == "" {
		return nil
	}
	u := strings.TrimRight(appURL, "/") + "/api/files/" + url.PathEscape(collection) + "/" +
		url.PathEscape(recordID) + "/" + url.PathEscape(filename)
	return &u
}

// IsLocked reports whether a users or employees record is in its password lockout:
// locked_until > now (§2.2).
func IsLocked(record *core.Record) bool {
	until := record.GetDateTime("locked_until")
	return !until.IsZero() && until.Time().After(time.Now())
}

var usernameStrip = regexp.MustCompile(`[^a-z0-9._-]+`)

// UsernameBase is the base of a username derived from an email (§2.2): the local part,
// lower-cased, characters outside [a-z0-9._-] removed, at most 30 characters, "user" when
// empty. The create hook appends 2…99 or 6 random digits when the base is taken.
func UsernameBase(email string) string {
	local, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(email)), "@")
	base := usernameStrip.ReplaceAllString(local, "")
	if len(base) > 30 {
		base = base[:30]
	}
	if base == "" {
		base = "user"
	}
	return base
}
