package hdts

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/accountfields"
	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/profiles"
	"gatehouse/plugins/realm"
)

// Fields of §5.12.8.
var (
	// profileWritable are the writable fields in the order the 403 text lists them.
	profileWritable = []string{"first_name", "middle_name", "last_name", "suffix", "phone_number", "department", "profile_picture"}
	// profileRestricted are the EmployeeProfile keys that are not writable, and "password".
	profileRestricted = []string{"id", "email", "username", "company_id", "status", "otp_enabled", "otp_method",
		"last_login", "created_at", "updated_at", "full_name", "system_roles", "password"}
)

const (
	msgFirstNameEmpty = "First name cannot be empty."
	msgLastNameEmpty  = "Last name cannot be empty."
)

// me serves GET /api/v1/hdts/employees/api/me/ (§5.12.6): the answer of GET /api/me/.
func (p *plugin) me(e *core.RequestEvent) error {
	caller := apikit.CallerOf(e)
	if caller == nil || caller.Record == nil || caller.Kind == apikit.KindService {
		return apikit.TokenNotValid()
	}
	body, err := profiles.MeJSON(p.app, p.kit.AppURL(), caller.Record)
	if err != nil {
		return err
	}
	return apikit.WriteRawJSON(e, http.StatusOK, body)
}

// getProfile serves GET /api/v1/hdts/employees/api/profile/ (§5.12.7).
func (p *plugin) getProfile(e *core.RequestEvent) error {
	caller, err := p.flows.Caller(e)
	if err != nil {
		return err
	}
	out, err := profiles.EmployeeProfile(p.app, p.kit.AppURL(), caller.Record)
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusOK, out)
}

type patchAnswer struct {
	Employee      profiles.EmployeeProfileJSON `json:"employee"`
	UpdatedFields []string                     `json:"updated_fields"`
	Message       string                       `json:"message"`
}

type putAnswer struct {
	Employee profiles.EmployeeProfileJSON `json:"employee"`
	Message  string                       `json:"message"`
}

// updateProfile serves PUT (put = true) and PATCH /api/v1/hdts/employees/api/profile/ (§5.12.8).
func (p *plugin) updateProfile(put bool) func(e *core.RequestEvent) error {
	return func(e *core.RequestEvent) error {
		caller, err := p.flows.Caller(e)
		if err != nil {
			return err
		}
		body, err := apikit.ReadBody(e, apikit.BodyMultipart)
		if err != nil {
			return err
		}
		keys := body.Keys()
		var restricted []string
		for _, k := range keys {
			if slices.Contains(profileRestricted, k) {
				restricted = append(restricted, k)
			}
		}
		if len(restricted) > 0 {
			slices.Sort(restricted)
			return apikit.PermissionDenied("You can only update: " + strings.Join(profileWritable, ", ") +
				". Attempted to update restricted fields: " + strings.Join(restricted, ", "))
		}

		set := map[string]string{}
		str := func(field string, rule apikit.Str) {
			if v, present := body.String(field, rule); present && !body.Errors.Has(field) {
				set[field] = v
			}
		}
		str("first_name", apikit.Str{Required: put, Max: 100, BlankMsg: msgFirstNameEmpty})
		str("middle_name", apikit.Str{Nullable: true, Max: 100})
		str("last_name", apikit.Str{Required: put, Max: 100, BlankMsg: msgLastNameEmpty})
		str("suffix", apikit.Str{Nullable: true, Choices: accountfields.SuffixChoices})
		if v, present := body.Phone("phone_number"); present && !body.Errors.Has("phone_number") {
			set["phone_number"] = v
		}
		str("department", apikit.Str{Nullable: true, Choices: accountfields.DepartmentChoices})
		picture, err := p.readPicture(body)
		if err != nil {
			return err
		}
		for field, msgs := range accountfields.Taken(p.app, realm.Employee, caller.Record.Id, "", "", set["phone_number"]) {
			for _, m := range msgs {
				body.Errors.Add(field, m)
			}
		}
		if err := body.Err(); err != nil {
			return err
		}

		var saved *core.Record
		err = p.app.RunInTransaction(func(tx core.App) error {
			rec, err := tx.FindRecordById(realm.CollectionEmployee, caller.Record.Id)
			if err != nil {
				return err
			}
			var changed []string
			for _, field := range profileWritable {
				if v, ok := set[field]; ok && rec.GetString(field) != v {
					rec.Set(field, v)
					changed = append(changed, field)
				}
			}
			switch pic := picture.(type) {
			case nil:
			case string: // clear
				if rec.GetString("profile_picture") != "" {
					rec.Set("profile_picture", "")
					changed = append(changed, "profile_picture")
				}
			default:
				rec.Set("profile_picture", pic)
				changed = append(changed, "profile_picture")
			}
			saved = rec
			if len(changed) == 0 {
				return nil
			}
			if err := tx.Save(rec); err != nil {
				return err
			}
			return audit.Log(tx, p.flows.OwnAccountEntry(e, "employee.profile_updated", true, rec.Id, map[string]any{"fields": changed}))
		})
		if err != nil {
			// A concurrent write may have taken the phone number after the check.
			if fe := accountfields.Taken(p.app, realm.Employee, caller.Record.Id, "", "", set["phone_number"]); len(fe) > 0 {
				return apikit.Invalid(fe)
			}
			if fe := accountfields.SaveFieldErrors(err); fe != nil {
				return apikit.Invalid(fe)
			}
			return err
		}

		out, err := profiles.EmployeeProfile(p.app, p.kit.AppURL(), saved)
		if err != nil {
			return err
		}
		if put {
			return apikit.WriteJSON(e, http.StatusOK, putAnswer{Employee: out, Message: "Profile fully updated successfully"})
		}
		updated := []string{}
		for _, k := range keys {
			if slices.Contains(profileWritable, k) {
				updated = append(updated, k)
			}
		}
		slices.Sort(updated)
		return apikit.WriteJSON(e, http.StatusOK, patchAnswer{
			Employee: out, UpdatedFields: updated,
			Message: "Successfully updated " + strconv.Itoa(len(updated)) + " field(s)",
		})
	}
}
