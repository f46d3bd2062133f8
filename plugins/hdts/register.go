package hdts

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/accountfields"
	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/mailer"
	"gatehouse/plugins/profiles"
	"gatehouse/plugins/realm"
)

// register serves POST /api/v1/hdts/employees/api/register/ (§5.12.3, §6.13 step 1): the
// staff registration's rules (accountfields) within the employees collection, plus the
// profile picture; the employee starts Pending and gets the employee_welcome email.
func (p *plugin) register(e *core.RequestEvent) error {
	body, err := apikit.ReadBody(e, apikit.BodyMultipart)
	if err != nil {
		return err
	}
	// The CAPTCHA gate (the client IP's state only) runs before any validation, as for staff:
	// the uniqueness messages reveal taken values, and only the gate slows that probing.
	done, err := p.flows.RegistrationCaptchaGate(e, body)
	if err != nil {
		return err
	}
	defer done() // after the probe row or the account is written
	in, probe := accountfields.ReadRegistration(e.Request.Context(), p.app, realm.Employee, p.passwordPolicy(), body)
	picture, err := p.readPicture(body)
	if err != nil {
		return err
	}
	if err := body.Err(); err != nil {
		if probe {
			if perr := p.flows.RecordRegistrationProbe(e); perr != nil {
				return perr
			}
		}
		return err
	}

	col, err := p.app.FindCachedCollectionByNameOrId(realm.CollectionEmployee)
	if err != nil {
		return err
	}
	employee := core.NewRecord(col)
	in.Apply(employee) // status Pending: no tokens until approved (§5.15.3)
	if picture != nil {
		employee.Set("profile_picture", picture)
	}
	// bcrypt runs in the shared pool, outside the write transaction.
	if err := p.pool.SetPassword(e.Request.Context(), employee, in.Password); err != nil {
		return err
	}

	err = p.app.RunInTransaction(func(tx core.App) error {
		if err := tx.Save(employee); err != nil {
			return err
		}
		if _, err := p.mailer.Queue(tx, employee.Email(), mailer.TemplateEmployeeWelcome, nil); err != nil {
			return err
		}
		entry := audit.FromRequest(e, "employee.registered", true)
		entry.TargetType, entry.TargetID = realm.Employee.Noun, employee.Id
		return audit.Log(tx, entry)
	})
	if err != nil {
		// A concurrent registration may have taken a value between the checks and the insert.
		if fe := accountfields.Taken(p.app, realm.Employee, "", in.Email, in.Username, in.Phone); len(fe) > 0 {
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

	out, err := profiles.EmployeeProfile(p.app, p.kit.AppURL(), employee)
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusCreated, out)
}

// readPicture reads profile_picture (§1.16): the file to store, nil when absent or cleared;
// a rule failure goes to body.Errors. An error only when the part cannot be read.
func (p *plugin) readPicture(body *apikit.Body) (any, error) {
	fh, present, clear := body.File("profile_picture")
	if !present || body.Errors.Has("profile_picture") {
		return nil, nil
	}
	if clear {
		return "", nil
	}
	file, msg, err := profiles.CheckPicture(fh, p.cfg.MaxProfilePictureBytes, p.cfg.MaxProfilePicturePx)
	if err != nil {
		return nil, err
	}
	if msg != "" {
		body.Errors.Add("profile_picture", msg)
		return nil, nil
	}
	return file, nil
}
