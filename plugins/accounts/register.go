package accounts

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/accountfields"
	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/passwords"
	"gatehouse/plugins/profiles"
	"gatehouse/plugins/realm"
)

// msgRegistrationDisabled is the answer of §5.1.1 while self-registration is off.
const msgRegistrationDisabled = "Self-registration is disabled."

const usersCollection = "users"

// passwordPool is the app's shared bounded bcrypt pool (§7.2).
func (p *plugin) passwordPool() *passwords.Pool { return p.pool }

// passwordPolicy is the policy of §1.13 with this app's configuration.
func (p *plugin) passwordPolicy() *passwords.Policy { return passwords.NewPolicy(p.cfg) }

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
	done, err := p.flows.RegistrationCaptchaGate(e, body)
	if err != nil {
		return err
	}
	defer done() // after the probe row or the account is written

	in, probe := accountfields.ReadRegistration(e.Request.Context(), p.app, realm.Staff, p.passwordPolicy(), body)
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
	in.Apply(user)
	user.Set("is_active", true)
	user.Set("is_staff", false)
	user.Set("is_superuser", false)
	// bcrypt runs in the shared pool, outside the write transaction.
	if err := p.passwordPool().SetPassword(e.Request.Context(), user, in.Password); err != nil {
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
		if fe := accountfields.Taken(p.app, realm.Staff, "", in.Email, in.Username, in.Phone); len(fe) > 0 {
			if perr := p.flows.RecordRegistrationProbe(e); perr != nil {
				return perr
			}
			return apikit.Invalid(fe)
		}
		if fe := accountfields.SaveFieldErrors(err); fe != nil {
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
