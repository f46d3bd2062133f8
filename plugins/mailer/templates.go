package mailer

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/pocketbase/pocketbase/tools/types"
)

// Template names of spec/API.md Appendix B. The data keys each one needs are listed in the
// comment at the top of its files under templates/ (and in Appendix B's "Must contain").
const (
	TemplateOTPCode          = "otp_code"           // code; expires_minutes (default 5)
	TemplatePasswordReset    = "password_reset"     // link; expires_minutes (default 60)
	TemplatePasswordChanged  = "password_changed"   // time_utc, ip
	TemplateAccountLocked    = "account_locked"     // lock_until_utc, ip
	TemplateMFALocked        = "mfa_locked"         // window_minutes, ip
	Template2FAEnabled       = "2fa_enabled"        // method
	Template2FADisabled      = "2fa_disabled"       // time_utc
	TemplateRecoveryCodeUsed = "recovery_code_used" // remaining
	TemplateEmailChanged     = "email_changed"      // new_email (send to the previous address)
	TemplateInvitation       = "invitation"         // system_name, role_name, inviter_name, link; expires_minutes (default 4320)
	TemplateAccessGranted    = "access_granted"     // system_name, role_name; login_url (default APP_URL/login/)
	TemplateEmployeeWelcome  = "employee_welcome"   // —
	TemplateEmployeeApproved = "employee_approved"  // login_url (default APP_URL/login/)
	TemplateEmployeeRejected = "employee_rejected"  // —
)

// OverrideDir is the folder under the data dir whose <name>.subject, <name>.txt and <name>.html
// files replace the embedded templates.
const OverrideDir = "email_templates"

// Templates lists every template name, in Appendix B order.
var Templates = []string{
	TemplateOTPCode, TemplatePasswordReset, TemplatePasswordChanged, TemplateAccountLocked,
	TemplateMFALocked, Template2FAEnabled, Template2FADisabled, TemplateRecoveryCodeUsed,
	TemplateEmailChanged, TemplateInvitation, TemplateAccessGranted, TemplateEmployeeWelcome,
	TemplateEmployeeApproved, TemplateEmployeeRejected,
}

//go:embed templates/*
var embedded embed.FS

// Rendered is one rendered email.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
}

var funcs = map[string]any{
	"duration": humanMinutes,
	"utc":      formatUTC,
}

// Render renders the named template with data (which must already hold every key the template
// uses: a missing key is an error, never an empty hole in a mail). Files in overrideDir
// (<name>.subject, <name>.txt, <name>.html; overrideDir may be empty) replace the embedded ones.
func Render(overrideDir, name string, data map[string]any) (Rendered, error) {
	if !isTemplate(name) {
		return Rendered{}, fmt.Errorf("mailer: unknown template %q", name)
	}
	subjectSrc, err := source(overrideDir, name+".subject")
	if err != nil {
		return Rendered{}, err
	}
	textSrc, err := source(overrideDir, name+".txt")
	if err != nil {
		return Rendered{}, err
	}
	htmlSrc, err := source(overrideDir, name+".html")
	if err != nil {
		return Rendered{}, err
	}

	var out Rendered
	if out.Subject, err = renderText(name+".subject", subjectSrc, data); err != nil {
		return Rendered{}, err
	}
	// One header line: no CR/LF can reach the Subject header.
	out.Subject = strings.Join(strings.Fields(out.Subject), " ")
	if out.Subject == "" {
		return Rendered{}, fmt.Errorf("mailer: template %s: empty subject", name)
	}
	if out.Text, err = renderText(name+".txt", textSrc, data); err != nil {
		return Rendered{}, err
	}
	out.Text = strings.TrimSpace(out.Text) + "\n"

	t, err := htmltemplate.New(name + ".html").Option("missingkey=error").Funcs(funcs).Parse(htmlSrc)
	if err != nil {
		return Rendered{}, fmt.Errorf("mailer: template %s.html: %w", name, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return Rendered{}, fmt.Errorf("mailer: template %s.html: %w", name, err)
	}
	out.HTML = strings.TrimSpace(buf.String()) + "\n"
	return out, nil
}

func renderText(file, src string, data map[string]any) (string, error) {
	t, err := texttemplate.New(file).Option("missingkey=error").Funcs(funcs).Parse(src)
	if err != nil {
		return "", fmt.Errorf("mailer: template %s: %w", file, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return "", fmt.Errorf("mailer: template %s: %w", file, err)
	}
	return buf.String(), nil
}

// source reads overrideDir/file when it exists, else the embedded file.
func source(overrideDir, file string) (string, error) {
	if overrideDir != "" {
		b, err := os.ReadFile(filepath.Join(overrideDir, file))
		if err == nil {
			return string(b), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("mailer: template override %s: %w", file, err)
		}
	}
	b, err := embedded.ReadFile("templates/" + file)
	if err != nil {
		return "", fmt.Errorf("mailer: template %s: %w", file, err)
	}
	return string(b), nil
}

func isTemplate(name string) bool {
	for _, t := range Templates {
		if t == name {
			return true
		}
	}
	return false
}

// humanMinutes writes a number of minutes (an integer, a numeric string or a time.Duration)
// the way the contract words it: "5 minutes", "1 hour", "72 hours" (a duration that is not
// whole minutes, as tests with lowered TTLs use, in seconds).
func humanMinutes(v any) (string, error) {
	var minutes int64
	switch x := v.(type) {
	case time.Duration:
		if x%time.Minute != 0 {
			secs := int64(x / time.Second)
			if secs == 1 {
				return "1 second", nil
			}
			return strconv.FormatInt(secs, 10) + " seconds", nil
		}
		minutes = int64(x / time.Minute)
	case int:
		minutes = int64(x)
	case int32:
		minutes = int64(x)
	case int64:
		minutes = x
	case float64:
		minutes = int64(x)
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return "", fmt.Errorf("duration: %q is not a number of minutes", x)
		}
		minutes = n
	default:
		return "", fmt.Errorf("duration: unsupported value %T", v)
	}
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.FormatInt(n, 10) + " " + unit + "s"
	}
	if minutes >= 60 && minutes%60 == 0 {
		return plural(minutes/60, "hour"), nil
	}
	return plural(minutes, "minute"), nil
}

// formatUTC writes a time as "2006-01-02 15:04:05 UTC". Strings that parse as RFC 3339 or
// PocketBase dates are reformatted; other strings are printed as given.
func formatUTC(v any) (string, error) {
	const layout = "2006-01-02 15:04:05 UTC"
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(layout), nil
	case *time.Time:
		if x == nil {
			return "", errors.New("utc: nil time")
		}
		return x.UTC().Format(layout), nil
	case types.DateTime:
		return x.Time().UTC().Format(layout), nil
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return t.UTC().Format(layout), nil
		}
		if t, err := types.ParseDateTime(x); err == nil && !t.IsZero() {
			return t.Time().UTC().Format(layout), nil
		}
		return x, nil
	}
	return "", fmt.Errorf("utc: unsupported value %T", v)
}
