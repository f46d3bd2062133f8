package hooks

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/passwords"
	"gatehouse/plugins/profiles"
	"gatehouse/plugins/realm"
	"gatehouse/plugins/secondfactor"
	"gatehouse/plugins/signin"
	"gatehouse/plugins/tokens"
)

// normaliseEmail trims and lower-cases email-like fields before any write (§1.9), whoever writes.
func normaliseEmail(field string) func(e *core.RecordEvent) error {
	return func(e *core.RecordEvent) error {
		if v := e.Record.GetString(field); v != "" {
			if n := strings.ToLower(strings.TrimSpace(v)); n != v {
				e.Record.Set(field, n)
			}
		}
		return e.Next()
	}
}

// MaxEmailLength is §2.2's limit on an account's email, which PocketBase's email field does not
// have.
const MaxEmailLength = 254

// checkEmailLength refuses an account email over MaxEmailLength characters (§2.2) with the
// endpoints' message, whoever writes (the endpoints check it first, in apikit's Body.Email).
func checkEmailLength(e *core.RecordEvent) error {
	if utf8.RuneCountInString(e.Record.Email()) > MaxEmailLength {
		return validation.Errors{"email": validation.NewError("validation_max_text_constraint", apikit.MsgMaxLength(MaxEmailLength))}
	}
	return e.Next()
}

// createAccount fills what a new staff user or employee gets whoever creates it (our API, the
// dashboard, the records API): a derived username when none was given, the next company_id,
// status Pending, emailVisibility off. The reads and the INSERT run in one transaction on
// PocketBase's single write connection, so concurrent creates never pick the same values.
func createAccount(e *core.RecordEvent) error {
	r, err := realm.Of(e.Record)
	if err != nil {
		return err
	}
	prefix := r.CompanyPrefix
	return e.App.RunInTransaction(func(tx core.App) error {
		e.App = tx // the INSERT below e.Next() now runs in this transaction

		if strings.TrimSpace(e.Record.GetString("username")) == "" {
			name, err := deriveUsername(tx, e.Record.Collection().Name, e.Record.Email())
			if err != nil {
				return err
			}
			e.Record.Set("username", name)
		}

		next, err := nextCompanyID(tx, e.Record.Collection().Name, prefix)
		if err != nil {
			return err
		}
		e.Record.Set("company_id", next)

		if e.Record.GetString("status") == "" {
			e.Record.Set("status", "Pending")
		}
		e.Record.SetEmailVisibility(false)
		return e.Next()
	})
}

// updateAccount keeps the read-only fields read-only, clears `verified` when the email changes
// (§2.2: a new address is not proven) and spends the unused reset tokens with it, leaves an
// account whose otp_enabled is switched off as the API's 2FA disable does (§2.2, §2.10: method
// and secrets cleared, recovery codes deleted, unused email codes spent), and ends every session of a staff user set inactive or
// of an employee set to Rejected (§3.5), whoever makes the change (our endpoints or the
// dashboard). The update and the revocation commit together; the stored row is read once.
func updateAccount(e *core.RecordEvent) error {
	orig, err := storedRecord(e)
	if err != nil {
		return err
	}
	if e.Record.GetString("company_id") != orig.GetString("company_id") {
		e.Record.Set("company_id", orig.GetString("company_id"))
	}
	emailChanged := !strings.EqualFold(e.Record.Email(), orig.Email())
	if emailChanged {
		e.Record.SetVerified(false)
	}
	e.Record.SetEmailVisibility(false)
	// Any new password (login re-hash, change, reset, dashboard) ends an imported account's
	// Django hash, which plugins/passwords verifies while it is set.
	if e.Record.GetString(passwords.LegacyHashField) != "" &&
		e.Record.GetString(core.FieldNamePassword+":hash") != orig.GetString(core.FieldNamePassword+":hash") {
		e.Record.Set(passwords.LegacyHashField, "")
	}

	// otp_enabled switched off (the dashboard's "turn off 2FA"): the API's own disable writes
	// with SQL and never gets here.
	otpOff := orig.GetBool("otp_enabled") && !e.Record.GetBool("otp_enabled")
	if otpOff {
		for k, v := range secondfactor.DisabledFields() {
			e.Record.Set(k, v)
		}
	}

	userType, reason := "", ""
	switch e.Record.Collection().Name {
	case realm.CollectionStaff:
		if orig.GetBool("is_active") && !e.Record.GetBool("is_active") {
			userType, reason = realm.TypeStaff, tokens.ReasonUserDeactivated
		}
	case realm.CollectionEmployee:
		if orig.GetString("status") != "Rejected" && e.Record.GetString("status") == "Rejected" {
			userType, reason = realm.TypeEmployee, tokens.ReasonEmployeeRejected
		}
	}
	if reason == "" && !emailChanged && !otpOff {
		return e.Next()
	}
	return e.App.RunInTransaction(func(tx core.App) error {
		e.App = tx
		if err := e.Next(); err != nil {
			return err
		}
		if emailChanged {
			// A reset link sent to the old address would set `verified` for the new one
			// (a completed reset proves the mailbox, §2.2): it dies with the change.
			r, err := realm.Of(e.Record)
			if err != nil {
				return err
			}
			if _, err := signin.InvalidateResetTokens(tx, r, e.Record.Id, time.Now()); err != nil {
				return err
			}
		}
		if otpOff {
			r, err := realm.Of(e.Record)
			if err != nil {
				return err
			}
			if err := secondfactor.DropCodes(tx, r.Type, e.Record.Id); err != nil {
				return err
			}
		}
		if reason == "" {
			return nil
		}
		_, err := tokens.RevokeSessions(tx, userType, e.Record.Id, reason, "")
		return err
	})
}

// nextCompanyID is the largest numeric suffix among values matching ^<prefix>\d+$, plus one,
// zero-padded to at least 4 digits (§2.2).
func nextCompanyID(app core.App, table, prefix string) (string, error) {
	var max struct {
		N int64 `db:"n"`
	}
	err := app.DB().NewQuery(fmt.Sprintf(
		"SELECT COALESCE(MAX(CAST(SUBSTR([[company_id]], %d) AS INTEGER)), 0) AS n FROM {{%s}} "+
			"WHERE [[company_id]] GLOB {:glob} AND SUBSTR([[company_id]], %d) NOT GLOB '*[^0-9]*'",
		len(prefix)+1, table, len(prefix)+1)).
		Bind(dbx.Params{"glob": prefix + "[0-9]*"}).One(&max)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s%04d", prefix, max.N+1), nil
}

// deriveUsername builds a username from the email local part (§2.2): lower-cased, characters
// outside [a-z0-9._-] removed, at most 30 characters, "user" when empty; when taken, the first
// free of <base>2…<base>99, then <base> + 6 random digits. It never fails on a collision.
func deriveUsername(app core.App, table, email string) (string, error) {
	base := profiles.UsernameBase(email)
	candidates := []string{base}
	for i := 2; i <= 99; i++ {
		candidates = append(candidates, base+strconv.Itoa(i))
	}
	taken, err := takenUsernames(app, table, base)
	if err != nil {
		return "", err
	}
	for _, c := range candidates {
		if !taken[c] {
			return c, nil
		}
	}
	for range 20 {
		n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
		if err != nil {
			return "", err
		}
		c := fmt.Sprintf("%s%06d", base, n.Int64())
		if ok, err := usernameFree(app, table, c); err != nil || ok {
			return c, err
		}
	}
	return "", fmt.Errorf("hooks: no free username for base %q", base)
}

// takenUsernames loads, in one query, which of base, base2 … base99 exist (case-insensitively).
func takenUsernames(app core.App, table, base string) (map[string]bool, error) {
	var rows []struct {
		U string `db:"u"`
	}
	err := app.DB().NewQuery(fmt.Sprintf(
		"SELECT LOWER([[username]]) AS u FROM {{%s}} WHERE [[username]] = {:base} COLLATE NOCASE "+
			"OR ([[username]] LIKE {:like} ESCAPE '\\' AND LENGTH([[username]]) <= {:maxlen})", table)).
		Bind(dbx.Params{"base": base, "like": escapeLike(base) + "%", "maxlen": len(base) + 2}).All(&rows)
	if err != nil {
		return nil, err
	}
	taken := make(map[string]bool, len(rows))
	for _, r := range rows {
		taken[r.U] = true
	}
	return taken, nil
}

func usernameFree(app core.App, table, name string) (bool, error) {
	var n struct {
		C int `db:"c"`
	}
	err := app.DB().NewQuery(fmt.Sprintf("SELECT COUNT(*) AS c FROM {{%s}} WHERE [[username]] = {:u} COLLATE NOCASE", table)).
		Bind(dbx.Params{"u": name}).One(&n)
	return n.C == 0, err
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// trueOnDashboardCreate sets the bool field to true for records created through PocketBase's
// records API or dashboard when the request body does not mention it: PocketBase bool fields
// have no defaults, and the contract's is true — is_active (§2.2, §2.6, §2.14), and is_custom of
// a role created through an API (§2.5; default roles come only from migrations, seed and system
// creation, which save records directly).
func trueOnDashboardCreate(field string) func(e *core.RecordRequestEvent) error {
	return func(e *core.RecordRequestEvent) error {
		if info, err := e.RequestInfo(); err == nil {
			if _, ok := info.Body[field]; !ok {
				e.Record.Set(field, true)
			}
		}
		return e.Next()
	}
}

// storedRecord loads the row as stored. Record.Original() is not enough: a record created in
// memory and saved keeps its pre-create original, so a later update would compare against empty.
func storedRecord(e *core.RecordEvent) (*core.Record, error) {
	return e.App.FindRecordById(e.Record.Collection(), e.Record.Id)
}

// Messages of checkSecondFactorFields.
const (
	MsgOTPNoMethod     = "Two-factor authentication cannot be turned on without a method: set otp_method to totp or email."
	MsgOTPNoTOTPSecret = "The totp method needs a TOTP secret: the user sets up an authenticator app through the API (or choose email)."
)

// checkSecondFactorFields keeps a records-API or dashboard write of an account's 2FA fields a
// combination the sign-in can complete (§2.2): on needs the method totp (with a secret) or
// email; off leaves no method nor active TOTP secret; the email method no TOTP secret (as the
// API's email enable). The transition from on to off is updateAccount's (for every writer).
// Bound to the request events: the service's own code writes these fields with SQL
// (secondfactor), and its tests may set them one at a time.
func checkSecondFactorFields(e *core.RecordRequestEvent) error {
	r := e.Record
	method := r.GetString("otp_method")
	switch {
	case !r.GetBool("otp_enabled"):
		r.Set("otp_method", "")
		r.Set("totp_secret", "")
	case method != secondfactor.MethodTOTP && method != secondfactor.MethodEmail:
		return validation.Errors{"otp_method": validation.NewError("validation_otp_method_required", MsgOTPNoMethod)}
	case method == secondfactor.MethodTOTP && r.GetString("totp_secret") == "":
		return validation.Errors{"otp_method": validation.NewError("validation_totp_secret_required", MsgOTPNoTOTPSecret)}
	case method == secondfactor.MethodEmail:
		r.Set("totp_secret", "")
	}
	return e.Next()
}

// revokeOnDashboardSecurityChange ends the sessions an account's security change ends (§3.5)
// when a superuser makes it through PocketBase's records API or dashboard: a new password is a
// reset (every session, password_reset: the operator who resets a compromised account must end
// the attacker's sessions too), 2FA turned on or off a security change (every session: there is
// no caller's session to keep). The save and the revocation are one transaction. Our endpoints
// make these changes themselves, with their own exceptions (the caller's session), so this is
// bound to the records API's request event only.
func revokeOnDashboardSecurityChange(e *core.RecordRequestEvent) error {
	r, err := realm.Of(e.Record)
	if err != nil {
		return e.Next()
	}
	return e.App.RunInTransaction(func(tx core.App) error {
		e.App = tx
		orig, err := tx.FindRecordById(e.Record.Collection(), e.Record.Id)
		if err != nil {
			return err
		}
		if err := e.Next(); err != nil {
			return err
		}
		hash := core.FieldNamePassword + ":hash"
		reason := ""
		switch {
		case e.Record.GetString(hash) != orig.GetString(hash):
			reason = tokens.ReasonPasswordReset
		case e.Record.GetBool("otp_enabled") != orig.GetBool("otp_enabled"):
			reason = tokens.ReasonSecurityChange
		default:
			return nil
		}
		_, err = tokens.RevokeSessions(tx, r.Type, e.Record.Id, reason, "")
		return err
	})
}
