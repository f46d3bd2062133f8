package accounts

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/passwords"
	"gatehouse/plugins/profiles"
)

// Messages of §5.1.1, §5.3.2 and §1.16.
const (
	msgRegistrationDisabled = "Self-registration is disabled."
	msgEmailTaken           = "A user with this email already exists."
	msgUsernameTaken        = "This username is already taken. Please choose a different one."
	msgPhoneTaken           = "A user with this phone number already exists."
)

// Choices of §1.16.
var (
	suffixChoices     = []string{"Jr.", "Sr.", "II", "III", "IV", "V"}
	departmentChoices = []string{"IT Department", "Asset Department", "Budget Department"}
)

const usersCollection = "users"

// passwordPool is the app's shared bounded bcrypt pool (§7.2).
func (p *plugin) passwordPool() *passwords.Pool { return p.pool }

// passwordPolicy is the policy of §1.13 with this app's configuration.
func (p *plugin) passwordPolicy() *passwords.Policy { return passwords.NewPolicy(p.cfg) }

// registration is a validated registration request.
type registration struct {
	email, password, username       string
	firstName, middleName, lastName string
	suffix, department, phone       string
	notified                        bool
}

// register serves POST /api/v1/users/register/ (§5.1.1).
func (p *plugin) register(e *core.RequestEvent) error {
	if !p.cfg.RegistrationEnabled {
		return apikit.PermissionDenied(msgRegistrationDisabled)
	}
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return err
	}
	// The CAPTCHA gate runs before any validation: the uniqueness messages below reveal
	// whether an email, username or phone number exists, and only the gate slows that probing.
	if err := p.flows.RegistrationCaptchaGate(e, body); err != nil {
		return err
	}

	in, probe := p.validateRegistration(e, body)
	if err := body.Err(); err != nil {
		if probe {
			if perr := p.flows.RecordRegistrationProbe(e); perr != nil {
				return perr
			}
		}
		return err
	}

	users, err := p.app.FindCachedCollectionByNameOrId(usersCollection)
	if err != nil {
		return err
	}
	user := core.NewRecord(users)
	user.SetEmail(in.email)
	user.SetVerified(false)
	user.Set("username", in.username) // "" → derived by the create hook (§2.2)
	user.Set("first_name", in.firstName)
	user.Set("middle_name", in.middleName)
	user.Set("last_name", in.lastName)
	user.Set("suffix", in.suffix)
	user.Set("department", in.department)
	user.Set("phone_number", in.phone)
	user.Set("notified", in.notified)
	user.Set("status", "Pending")
	user.Set("is_active", true)
	user.Set("is_staff", false)
	user.Set("is_superuser", false)
	user.Set("otp_enabled", false)
	// bcrypt runs in the shared pool, outside the write transaction.
	if err := p.passwordPool().SetPassword(e.Request.Context(), user, in.password); err != nil {
		return err
	}

	err = p.app.RunInTransaction(func(tx core.App) error {
		if err := tx.Save(user); err != nil {
			return err
		}
		entry := audit.FromRequest(e, "user.registered", true)
		entry.TargetType, entry.TargetID = "user", user.Id
		return audit.Log(tx, entry)
	})
	if err != nil {
		// A concurrent registration may have taken a value between the checks and the insert.
		if fe := p.uniquenessErrors(p.app, "", in.email, in.username, in.phone); len(fe) > 0 {
			if perr := p.flows.RecordRegistrationProbe(e); perr != nil {
				return perr
			}
			return apikit.Invalid(fe)
		}
		if fe := saveFieldErrors(err); fe != nil {
			return apikit.Invalid(fe)
		}
		return err
	}

	out, err := profiles.UserProfile(p.app, p.kit.AppURL(), user, "")
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusCreated, out)
}

// validateRegistration applies the field rules of §5.1.1 (every field, all failures reported
// together; other keys are ignored). probe reports a rejection for a taken email, username or
// phone number (§6.1).
func (p *plugin) validateRegistration(e *core.RequestEvent, body *apikit.Body) (in registration, probe bool) {
	in.email, _ = body.Email("email", true)
	in.password, _ = body.String("password", apikit.Str{Required: true, Raw: true, BlankMsg: apikit.MsgRequired})
	in.username, _ = body.Username("username", false)
	in.firstName, _ = body.String("first_name", apikit.Str{AllowBlank: true, Max: 100})
	in.middleName, _ = body.String("middle_name", apikit.Str{Nullable: true, Max: 100})
	in.lastName, _ = body.String("last_name", apikit.Str{AllowBlank: true, Max: 100})
	in.suffix, _ = body.String("suffix", apikit.Str{Nullable: true, Choices: suffixChoices})
	in.department, _ = body.String("department", apikit.Str{Nullable: true, Choices: departmentChoices})
	in.phone, _ = body.Phone("phone_number")
	in.notified, _ = body.Bool("notified", false)

	taken := p.uniquenessErrors(p.app, "", in.email, in.username, in.phone)
	for field, msgs := range taken {
		for _, m := range msgs {
			body.Errors.Add(field, m)
		}
	}
	probe = len(taken) > 0

	if !body.Errors.Has("password") {
		// Rules 4 and 5 use the submitted username, else the base the create hook derives
		// from the email (§2.2), and the submitted email.
		submittedEmail := strings.ToLower(submittedString(body, "email"))
		username := submittedString(body, "username")
		if username == "" {
			username = profiles.UsernameBase(submittedEmail)
		}
		for _, m := range p.passwordPolicy().Check(e.Request.Context(), in.password, username, submittedEmail) {
			body.Errors.Add("password", m)
		}
	}
	return in, probe
}

// uniquenessErrors checks the unique fields of §1.16 against the users collection, excluding the
// record exceptID (the one being updated). Empty values are not checked. A database error is
// not reported here: the save that follows fails on it.
func (p *plugin) uniquenessErrors(app core.App, exceptID, email, username, phone string) apikit.FieldErrors {
	fe := apikit.FieldErrors{}
	if email != "" && p.exists(app, "[[email]] = {:v} COLLATE NOCASE", email, exceptID) {
		fe.Add("email", msgEmailTaken)
	}
	if username != "" && p.exists(app, "[[username]] = {:v} COLLATE NOCASE", username, exceptID) {
		fe.Add("username", msgUsernameTaken)
	}
	if phone != "" && p.exists(app, "[[phone_number]] = {:v}", phone, exceptID) {
		fe.Add("phone_number", msgPhoneTaken)
	}
	return fe
}

func (p *plugin) exists(app core.App, cond, value, exceptID string) bool {
	var row struct {
		N int `db:"n"`
	}
	q := app.DB().Select("COUNT(*) AS n").From(usersCollection).
		Where(dbx.NewExp(cond, dbx.Params{"v": value}))
	if exceptID != "" {
		q = q.AndWhere(dbx.Not(dbx.HashExp{"id": exceptID}))
	}
	if err := q.One(&row); err != nil {
		return false
	}
	return row.N > 0
}

// saveFieldErrors maps a record validation error of PocketBase that our own rules let through
// onto the contract's message: PocketBase's email field is stricter than §1.16 (it refuses e.g.
// "user@localhost" and address literals, which Django's validator accepts). nil for any other
// error (a 500).
func saveFieldErrors(err error) apikit.FieldErrors {
	var verrs validation.Errors
	if errors.As(err, &verrs) {
		if _, ok := verrs["email"]; ok {
			return apikit.FieldErrors{"email": {apikit.MsgInvalidEmail}}
		}
	}
	return nil
}

// submittedString is the trimmed value of a JSON string key ("" when absent or not a string),
// whatever its validation result.
func submittedString(body *apikit.Body, name string) string {
	raw, ok := body.Raw(name)
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return strings.TrimSpace(s)
}
