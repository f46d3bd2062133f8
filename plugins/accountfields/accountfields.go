// Package accountfields holds the account field rules that staff and employee endpoints share
// (spec/API.md §1.16, §5.1.1, §5.12.3): the choices, uniqueness within a realm with the realm's
// messages, the fields of a self-registration with the password policy applied to the
// submitted username and email, and the mapping of PocketBase's stricter record validation.
// The feature plugins (accounts for staff, hdts for employees) build their own records and
// answers from these; neither imports the other.
package accountfields

import (
	"context"
	"errors"
	"strings"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/passwords"
	"gatehouse/plugins/profiles"
	"gatehouse/plugins/realm"
)

// Choices of §1.16.
var (
	SuffixChoices     = []string{"Jr.", "Sr.", "II", "III", "IV", "V"}
	DepartmentChoices = []string{"IT Department", "Asset Department", "Budget Department"}
)

// MsgUsernameTaken is the username uniqueness message of §1.16 (both realms).
const MsgUsernameTaken = "This username is already taken. Please choose a different one."

// takenMessages are the realm's uniqueness messages of §1.16, §5.1.1 and §5.12.3.
type takenMessages struct{ email, phone string }

var taken = map[string]takenMessages{
	realm.TypeStaff:    {"A user with this email already exists.", "A user with this phone number already exists."},
	realm.TypeEmployee: {"An employee with this email already exists.", "An employee with this phone number already exists."},
}

// Taken checks the unique fields of §1.16 within r's collection (the other realm is never
// considered: an email may exist in both, §2.3), excluding the record exceptID (the one being
// updated). Empty values are not checked. A database error is not reported here: the save that
// follows fails on it.
func Taken(app core.App, r *realm.Realm, exceptID, email, username, phone string) apikit.FieldErrors {
	msgs := taken[r.Type]
	fe := apikit.FieldErrors{}
	if email != "" && exists(app, r.Collection, "[[email]] = {:v} COLLATE NOCASE", email, exceptID) {
		fe.Add("email", msgs.email)
	}
	if username != "" && exists(app, r.Collection, "[[username]] = {:v} COLLATE NOCASE", username, exceptID) {
		fe.Add("username", MsgUsernameTaken)
	}
	if phone != "" && exists(app, r.Collection, "[[phone_number]] = {:v}", phone, exceptID) {
		fe.Add("phone_number", msgs.phone)
	}
	return fe
}

func exists(app core.App, table, cond, value, exceptID string) bool {
	var row struct {
		N int `db:"n"`
	}
	q := app.DB().Select("COUNT(*) AS n").From(table).Where(dbx.NewExp(cond, dbx.Params{"v": value}))
	if exceptID != "" {
		q = q.AndWhere(dbx.Not(dbx.HashExp{"id": exceptID}))
	}
	if err := q.One(&row); err != nil {
		return false
	}
	return row.N > 0
}

// Registration is a self-registration's account fields (§5.1.1, §5.12.3), valid when the body
// recorded no error.
type Registration struct {
	Email, Password, Username       string
	FirstName, MiddleName, LastName string
	Suffix, Department, Phone       string
	Notified                        bool
}

// ReadRegistration applies the field rules of a self-registration to body (every field, all
// failures reported together in body.Errors; other keys are ignored): §1.16, uniqueness within
// r (probe reports a rejection for a taken email, username or phone number, §6.1), then the
// password policy of §1.13 with the submitted username (or the base the create hook derives
// from the email, §2.2) and the submitted email.
func ReadRegistration(ctx context.Context, app core.App, r *realm.Realm, policy *passwords.Policy, body *apikit.Body) (in Registration, probe bool) {
	in.Email, _ = body.Email("email", true)
	in.Password, _ = body.String("password", apikit.Str{Required: true, Raw: true, BlankMsg: apikit.MsgRequired})
	in.Username, _ = body.Username("username", false)
	in.FirstName, _ = body.String("first_name", apikit.Str{AllowBlank: true, Max: 100})
	in.MiddleName, _ = body.String("middle_name", apikit.Str{Nullable: true, Max: 100})
	in.LastName, _ = body.String("last_name", apikit.Str{AllowBlank: true, Max: 100})
	in.Suffix, _ = body.String("suffix", apikit.Str{Nullable: true, Choices: SuffixChoices})
	in.Department, _ = body.String("department", apikit.Str{Nullable: true, Choices: DepartmentChoices})
	in.Phone, _ = body.Phone("phone_number")
	in.Notified, _ = body.Bool("notified", false)

	fe := Taken(app, r, "", in.Email, in.Username, in.Phone)
	for field, msgs := range fe {
		for _, m := range msgs {
			body.Errors.Add(field, m)
		}
	}
	probe = len(fe) > 0

	if !body.Errors.Has("password") {
		submittedEmail := strings.ToLower(body.Text("email"))
		username := body.Text("username")
		if username == "" {
			username = profiles.UsernameBase(submittedEmail)
		}
		for _, m := range policy.Check(ctx, in.Password, username, submittedEmail) {
			body.Errors.Add("password", m)
		}
	}
	return in, probe
}

// Apply sets the registration's fields on a new record (the password is set by the caller,
// through the bcrypt pool, outside any transaction). An empty username is derived by the
// create hook (§2.2).
func (in Registration) Apply(rec *core.Record) {
	rec.SetEmail(in.Email)
	rec.SetVerified(false)
	rec.Set("username", in.Username)
	rec.Set("first_name", in.FirstName)
	rec.Set("middle_name", in.MiddleName)
	rec.Set("last_name", in.LastName)
	rec.Set("suffix", in.Suffix)
	rec.Set("department", in.Department)
	rec.Set("phone_number", in.Phone)
	rec.Set("notified", in.Notified)
	rec.Set("status", "Pending")
	rec.Set("otp_enabled", false)
}

// SaveFieldErrors maps a record validation error of PocketBase that our own rules let through
// onto the contract's message: PocketBase's email field is stricter than §1.16 (it refuses e.g.
// "user@localhost" and address literals, which Django's validator accepts). nil for any other
// error (a 500).
func SaveFieldErrors(err error) apikit.FieldErrors {
	var verrs validation.Errors
	if errors.As(err, &verrs) {
		if _, ok := verrs["email"]; ok {
			return apikit.FieldErrors{"email": {apikit.MsgInvalidEmail}}
		}
		if _, ok := verrs["profile_picture"]; ok { // CheckPicture lets through only what the field takes
			return apikit.FieldErrors{"profile_picture": {profiles.MsgPictureInvalid}}
		}
	}
	return nil
}
