package accounts

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/accountfields"
	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/mailer"
	"gatehouse/plugins/profiles"
	"gatehouse/plugins/realm"
	"gatehouse/plugins/signin"
	"gatehouse/plugins/tokens"
)

// Messages of §5.3.2.
const (
	msgCurrentPasswordRequired  = "Current password is required to change the email address."
	msgCurrentPasswordIncorrect = "Current password is incorrect."
)

// userProfileKeys are the keys of UserProfile (§4.1); with "password" they are the keys the
// profile endpoint rejects when the caller may not write them (§5.3.2).
var userProfileKeys = []string{
	"id", "email", "username", "first_name", "middle_name", "last_name", "suffix",
	"phone_number", "company_id", "department", "status", "notified", "is_active", "is_staff",
	"is_superuser", "is_locked", "profile_picture", "date_joined", "last_login", "otp_enabled",
	"otp_method", "system_roles", "password",
}

// Writable fields of §5.3.2 in the table's order.
var (
	profileFieldsEveryone   = []string{"username", "phone_number", "profile_picture"}
	profileFieldsPrivileged = []string{"username", "phone_number", "profile_picture",
		"first_name", "middle_name", "last_name", "suffix", "email"}
)

// staffCaller returns the caller and its users record. The authenticator read that record from
// the database for this very request (authorization uses the database, §1.5), so it is not
// read again.
func (p *plugin) staffCaller(e *core.RequestEvent) (*apikit.Caller, *core.Record, error) {
	caller := apikit.CallerOf(e)
	if caller == nil || caller.Kind != apikit.KindStaff || caller.Record == nil {
		return nil, nil, apikit.TokenNotValid()
	}
	return caller, caller.Record, nil
}

// getProfile serves GET /api/v1/users/profile/ (§5.3.1).
func (p *plugin) getProfile(e *core.RequestEvent) error {
	_, user, err := p.staffCaller(e)
	if err != nil {
		return err
	}
	out, err := profiles.UserProfileBytes(p.app, p.kit.AppURL(), user, apikit.QueryParam(e.Request, "system"))
	if err != nil {
		return err
	}
	return apikit.WriteRawJSON(e, http.StatusOK, out)
}

// forbiddenProfileKeys returns, sorted, the bound keys that name a UserProfile field or
// "password" and are not in allowed (§5.3.2). Keys are bound case-sensitively (§1.2), so
// "Is_Superuser" is an unknown key, not a forbidden one.
func forbiddenProfileKeys(keys, allowed []string) []string {
	var out []string
	for _, k := range keys {
		if slices.Contains(userProfileKeys, k) && !slices.Contains(allowed, k) && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// profileUpdate is a validated profile change (only the present fields are applied).
type profileUpdate struct {
	set          map[string]string // text/select fields to store, by field name
	email        string            // new email when emailChanged
	emailChanged bool
	picture      any // *filesystem.File to store, "" to clear, nil = unchanged
}

// updateProfile serves PUT (put = true) and PATCH /api/v1/users/profile/ (§5.3.2).
func (p *plugin) updateProfile(put bool) func(e *core.RequestEvent) error {
	return func(e *core.RequestEvent) error {
		caller, user, err := p.staffCaller(e)
		if err != nil {
			return err
		}
		body, err := apikit.ReadBody(e, apikit.BodyMultipart)
		if err != nil {
			return err
		}

		privileged := user.GetBool("is_staff") || user.GetBool("is_superuser")
		allowed := profileFieldsEveryone
		if privileged {
			allowed = profileFieldsPrivileged
		}
		if restricted := forbiddenProfileKeys(body.Keys(), allowed); len(restricted) > 0 {
			return apikit.PermissionDenied("You can only update: " + strings.Join(allowed, ", ") +
				". Attempted to update restricted fields: " + strings.Join(restricted, ", "))
		}

		upd, err := p.validateProfile(e, body, user, put, privileged)
		if err != nil {
			return err
		}
		if err := body.Err(); err != nil {
			return err
		}

		oldEmail := user.Email()
		var saved *core.Record
		err = p.app.RunInTransaction(func(tx core.App) error {
			rec, err := tx.FindRecordById(usersCollection, user.Id)
			if err != nil {
				return err // (a caller deleted meanwhile: 401 from the error writer, apikit.callerGone)
			}
			if upd.emailChanged && !signin.SamePassword(rec, user) {
				// the password proved for the email change was replaced meanwhile (a reset
				// revoked this session): the old one moves no email (§3.5)
				return apikit.InvalidField("current_password", msgCurrentPasswordIncorrect)
			}
			var changed []string
			for _, field := range profileFieldsPrivileged { // stable order for the audit details
				v, ok := upd.set[field]
				if ok && rec.GetString(field) != v {
					rec.Set(field, v)
					changed = append(changed, field)
				}
			}
			if upd.emailChanged {
				rec.SetEmail(upd.email) // the update hook sets verified = false (§2.2)
				changed = append(changed, "email")
			}
			switch pic := upd.picture.(type) {
			case string: // clear
				if rec.GetString("profile_picture") != "" {
					rec.Set("profile_picture", "")
					changed = append(changed, "profile_picture")
				}
			case nil:
			default:
				rec.Set("profile_picture", pic)
				changed = append(changed, "profile_picture")
			}
			saved = rec
			if len(changed) == 0 {
				return nil // nothing to store (e.g. an empty PATCH)
			}
			if err := tx.Save(rec); err != nil {
				return err
			}
			if upd.emailChanged {
				if _, err := tokens.RevokeSessions(tx, realm.TypeStaff, rec.Id, tokens.ReasonSecurityChange, caller.SessionID); err != nil {
					return err
				}
				if _, err := p.mailer.Queue(tx, oldEmail, mailer.TemplateEmailChanged, map[string]any{"new_email": upd.email}); err != nil {
					return err
				}
			}
			entry := p.flows.OwnAccountEntry(e, "user.profile_updated", true, rec.Id, map[string]any{"fields": changed})
			return audit.Log(tx, entry)
		})
		if err != nil {
			// A concurrent write may have taken a unique value after the checks.
			if fe := accountfields.Taken(p.app, realm.Staff, user.Id, upd.email, upd.set["username"], upd.set["phone_number"]); len(fe) > 0 {
				return apikit.Invalid(fe)
			}
			if fe := accountfields.SaveFieldErrors(err); fe != nil {
				return apikit.Invalid(fe)
			}
			return err
		}

		out, err := profiles.UserProfile(p.app, p.kit.AppURL(), saved, "")
		if err != nil {
			return err
		}
		return apikit.WriteJSON(e, http.StatusOK, out)
	}
}

// validateProfile applies the field rules of §5.3.2 (messages go to body.Errors). Only keys
// the caller may write reach this point. An error is returned only for failures that are not
// validation (database, bcrypt pool 429).
func (p *plugin) validateProfile(e *core.RequestEvent, body *apikit.Body, user *core.Record, put, privileged bool) (profileUpdate, error) {
	upd := profileUpdate{set: map[string]string{}}
	str := func(field string, rule apikit.Str) {
		if v, present := body.String(field, rule); present && !body.Errors.Has(field) {
			upd.set[field] = v
		}
	}

	if v, present := body.Username("username", put); present && !body.Errors.Has("username") {
		upd.set["username"] = v
	}
	if v, present := body.Phone("phone_number"); present && !body.Errors.Has("phone_number") {
		upd.set["phone_number"] = v
	}
	if fh, present, clear := body.File("profile_picture"); present && !body.Errors.Has("profile_picture") {
		if clear {
			upd.picture = ""
		} else {
			file, msg, err := profiles.CheckPicture(fh, p.cfg.MaxProfilePictureBytes, p.cfg.MaxProfilePicturePx)
			switch {
			case err != nil:
				return upd, err
			case msg != "":
				body.Errors.Add("profile_picture", msg)
			default:
				upd.picture = file
			}
		}
	}

	var email string
	if privileged {
		str("first_name", apikit.Str{AllowBlank: true, Max: 100})
		str("middle_name", apikit.Str{Nullable: true, Max: 100})
		str("last_name", apikit.Str{AllowBlank: true, Max: 100})
		str("suffix", apikit.Str{Nullable: true, Choices: accountfields.SuffixChoices})
		if v, present := body.Email("email", false); present && !body.Errors.Has("email") {
			email = v
			upd.emailChanged = !strings.EqualFold(v, user.Email())
		}
	}

	taken := accountfields.Taken(p.app, realm.Staff, user.Id, email, upd.set["username"], upd.set["phone_number"])
	for field, msgs := range taken {
		for _, m := range msgs {
			body.Errors.Add(field, m)
		}
	}

	if upd.emailChanged {
		upd.email = email
		current, _ := body.String("current_password", apikit.Str{Required: true, Raw: true, RequiredMsg: msgCurrentPasswordRequired})
		if !body.Errors.Has("current_password") {
			// While the account is locked the answer is "incorrect" without comparing (§6.1
			// item 3); the attempt is recorded all the same.
			ok, _, err := p.flows.CheckCurrentPassword(e, user, current)
			if err != nil {
				return upd, err
			}
			if !ok {
				body.Errors.Add("current_password", msgCurrentPasswordIncorrect)
			}
		}
	}
	return upd, nil
}

var errDeps = errors.New("accounts: Deps.Kit, Pool, Mailer and the staff Flows are required")
