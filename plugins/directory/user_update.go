package directory

import (
	"net/http"
	"slices"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"gatehouse/plugins/accountfields"
	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/mailer"
	"gatehouse/plugins/permissions"
	"gatehouse/plugins/profiles"
	"gatehouse/plugins/realm"
	"gatehouse/plugins/signin"
	"gatehouse/plugins/tokens"
)

// Messages of §5.3.6.
const (
	msgAdminsCannotEditAdmins = "Admins cannot edit other admins' profiles"
	msgOnlyFalse              = "Only false is accepted."
	msgSystemRoleNotFound     = "System role not found or access denied."
	msgCurrentPwdRequired     = "Current password is required to change the email address."
	msgCurrentPwdIncorrect    = "Current password is incorrect."
)

// editCase is who edits whom (§5.3.6): A the caller itself, B a superuser, C a system admin.
type editCase int

const (
	caseSelf editCase = iota
	caseSuperuser
	caseAdmin
)

// writable fields per case; PUT-required ones are listed in putRequired.
var (
	selfEveryone   = []string{"username", "phone_number", "profile_picture"}
	selfPrivileged = []string{"username", "phone_number", "profile_picture", "first_name", "middle_name", "last_name", "suffix", "email"}
	superuserEdits = []string{"email", "username", "first_name", "last_name", "middle_name", "suffix", "phone_number",
		"department", "notified", "profile_picture", "status", "is_active", "is_staff", "is_superuser", "is_locked"}
	adminEdits = []string{"first_name", "last_name", "middle_name", "suffix", "phone_number", "department",
		"notified", "profile_picture", "status"}
)

func putRequired(c editCase) []string {
	switch c {
	case caseSelf:
		return []string{"username"}
	case caseSuperuser:
		return []string{"email", "username", "first_name", "last_name"}
	}
	return []string{"first_name", "last_name"}
}

// updateUser serves PUT and PATCH /api/v1/users/{id}/ and /api/v1/users/management/{id}/
// (§5.3.6). Fields the caller may not write are ignored (never bound): a system admin cannot
// set is_superuser, is_staff, is_active, is_locked, email, company_id or verified, and nobody
// gives roles through this endpoint except the assignment flag of an assignment in scope.
func (p *plugin) updateUser(put bool) func(e *core.RequestEvent) error {
	return func(e *core.RequestEvent) error {
		target, err := p.userInScope(e)
		if err != nil {
			return err
		}
		s, err := permissions.For(e)
		if err != nil {
			return err
		}
		caller := apikit.CallerOf(e)
		var c editCase
		switch {
		case target.Id == s.UserID():
			c = caseSelf
		case s.IsSuperuser():
			c = caseSuperuser
		default:
			c = caseAdmin
			if err := refuseEditingAnAdmin(p.app, target); err != nil {
				return err
			}
		}
		body, err := apikit.ReadBody(e, apikit.BodyMultipart)
		if err != nil {
			return err
		}
		var allowed []string
		switch c {
		case caseSelf:
			allowed = selfEveryone
			if target.GetBool("is_staff") || target.GetBool("is_superuser") {
				allowed = selfPrivileged
			}
		case caseSuperuser:
			allowed = superuserEdits
		default:
			allowed = adminEdits
		}
		required := putRequired(c)
		set := map[string]any{}
		can := func(f string) bool { return slices.Contains(allowed, f) }
		req := func(f string) bool { return put && slices.Contains(required, f) }
		str := func(f string, rule apikit.Str) {
			if !can(f) {
				return
			}
			rule.Required = req(f)
			if v, ok := body.String(f, rule); ok && !body.Errors.Has(f) {
				set[f] = v
			}
		}
		if can("username") {
			if v, ok := body.Username("username", req("username")); ok && !body.Errors.Has("username") {
				set["username"] = v
			}
		}
		str("first_name", apikit.Str{AllowBlank: true, Max: 100})
		str("middle_name", apikit.Str{Nullable: true, Max: 100})
		str("last_name", apikit.Str{AllowBlank: true, Max: 100})
		str("suffix", apikit.Str{Nullable: true, Choices: suffixChoices})
		str("department", apikit.Str{Nullable: true, Choices: departmentChoices})
		str("status", apikit.Str{Choices: statusChoices})
		if can("phone_number") {
			if v, ok := body.Phone("phone_number"); ok && !body.Errors.Has("phone_number") {
				set["phone_number"] = v
			}
		}
		for _, f := range []string{"notified", "is_active", "is_staff", "is_superuser"} {
			if can(f) {
				if v, ok := body.Bool(f, false); ok && !body.Errors.Has(f) {
					set[f] = v
				}
			}
		}
		unlock := false
		if can("is_locked") {
			if v, ok := body.Bool("is_locked", false); ok && !body.Errors.Has("is_locked") {
				if v {
					body.Errors.Add("is_locked", msgOnlyFalse)
				} else {
					unlock = true
				}
			}
		}
		var newEmail string
		emailChanged := false
		if can("email") {
			if v, ok := body.Email("email", req("email")); ok && !body.Errors.Has("email") {
				newEmail, emailChanged = v, !strings.EqualFold(v, target.Email())
			}
		}
		var picture any
		if can("profile_picture") {
			if fh, present, clear := body.File("profile_picture"); present && !body.Errors.Has("profile_picture") {
				if clear {
					picture = ""
				} else {
					file, msg, err := profiles.CheckPicture(fh, p.cfg.MaxProfilePictureBytes, p.cfg.MaxProfilePicturePx)
					switch {
					case err != nil:
						return err
					case msg != "":
						body.Errors.Add("profile_picture", msg)
					default:
						picture = file
					}
				}
			}
		}
		// system_role_id + system_role_is_active (cases B and C).
		var roleAssignment *core.Record
		var roleActive bool
		if c != caseSelf {
			id, hasID := body.String("system_role_id", apikit.Str{})
			active, hasActive := body.Bool("system_role_is_active", false)
			switch {
			case hasID && !hasActive && !body.Errors.Has("system_role_is_active"):
				body.Errors.Add("system_role_is_active", apikit.MsgRequired)
			case hasActive && !hasID && !body.Errors.Has("system_role_id"):
				body.Errors.Add("system_role_id", apikit.MsgRequired)
			case hasID && hasActive && !body.Errors.Has("system_role_id") && !body.Errors.Has("system_role_is_active"):
				a, err := findByID(p.app, colAssignments, id)
				if err != nil {
					return err
				}
				if a == nil || a.GetString("user") != target.Id || (c == caseAdmin && !s.IsAdmin(a.GetString("system"))) {
					body.Errors.Add("system_role_id", msgSystemRoleNotFound)
				} else {
					roleAssignment, roleActive = a, active
				}
			}
		}
		username, _ := set["username"].(string)
		phone, _ := set["phone_number"].(string)
		addAll(body.Errors, p.uniquenessErrors(target.Id, map[bool]string{true: newEmail}[emailChanged], username, phone))
		if c == caseSelf && emailChanged {
			current, _ := body.String("current_password", apikit.Str{Required: true, Raw: true, RequiredMsg: msgCurrentPwdRequired})
			if !body.Errors.Has("current_password") {
				ok, _, err := p.flows.CheckCurrentPassword(e, target, current)
				if err != nil {
					return err
				}
				if !ok {
					body.Errors.Add("current_password", msgCurrentPwdIncorrect)
				}
			}
		}
		if err := body.Err(); err != nil {
			return err
		}

		oldEmail := target.Email()
		var saved *core.Record
		err = p.app.RunInTransaction(func(tx core.App) error {
			rec, err := findByID(tx, colUsers, target.Id)
			if err != nil {
				return err
			}
			if rec == nil {
				return apikit.NotFound(msgUserNotFoundOrDenied) // deleted since it was read
			}
			if c == caseSelf && emailChanged && !signin.SamePassword(rec, target) {
				// the password proved for the email change was replaced meanwhile (§3.5)
				return apikit.InvalidField("current_password", msgCurrentPwdIncorrect)
			}
			if c == caseAdmin {
				// again on the row as it is now: made a superuser or given an Admin role since
				if err := refuseEditingAnAdmin(tx, rec); err != nil {
					return err
				}
			}
			var changed []string
			for _, f := range superuserEdits {
				v, ok := set[f]
				if ok && rec.Get(f) != v {
					rec.Set(f, v)
					changed = append(changed, f)
				}
			}
			statusChanged := slices.Contains(changed, "status")
			if statusChanged {
				rec.Set("status_by", s.UserID())
				rec.Set("status_at", types.NowDateTime())
			}
			if emailChanged {
				rec.SetEmail(newEmail) // the update hook sets verified = false (§2.2)
				changed = append(changed, "email")
			}
			switch pic := picture.(type) {
			case nil:
			case string:
				if rec.GetString("profile_picture") != "" {
					rec.Set("profile_picture", "")
					changed = append(changed, "profile_picture")
				}
			default:
				rec.Set("profile_picture", pic)
				changed = append(changed, "profile_picture")
			}
			if unlock {
				rec.Set("locked_until", "")
				rec.Set("lock_counter_reset_at", types.NowDateTime())
				changed = append(changed, "is_locked")
			}
			saved = rec
			if len(changed) > 0 {
				if err := tx.Save(rec); err != nil {
					return err
				}
			}
			deactivated := slices.Contains(changed, "is_active") && !rec.GetBool("is_active")
			if emailChanged {
				if c == caseSelf {
					sid := ""
					if caller != nil {
						sid = caller.SessionID
					}
					if _, err := tokens.RevokeSessions(tx, realm.TypeStaff, rec.Id, tokens.ReasonSecurityChange, sid); err != nil {
						return err
					}
				}
				if _, err := p.mailer.Queue(tx, oldEmail, mailer.TemplateEmailChanged, map[string]any{"new_email": newEmail}); err != nil {
					return err
				}
			}
			if roleAssignment != nil {
				if err := setAssignmentActive(tx, e, roleAssignment.Id, roleActive); err != nil {
					return err
				}
			}
			events := []string{"user.updated"}
			if deactivated {
				events = append(events, "user.deactivated")
			}
			if unlock {
				events = append(events, "user.unlocked")
			}
			if statusChanged {
				events = append(events, "user.status_changed")
			}
			for _, ev := range events {
				entry := actorEntry(e, ev, "user", rec.Id, "")
				entry.Details = map[string]any{"fields": changed}
				if err := audit.Log(tx, entry); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			if fe := p.uniquenessErrors(target.Id, map[bool]string{true: newEmail}[emailChanged], username, phone); len(fe) > 0 {
				return apikit.Invalid(fe)
			}
			if fe := accountfields.SaveFieldErrors(err); fe != nil {
				return apikit.Invalid(fe) // an address PocketBase's email field refuses
			}
			return err
		}
		systems, err := callerSystems(e)
		if err != nil {
			return err
		}
		prof, err := p.scopedProfile(saved, systems)
		if err != nil {
			return err
		}
		return apikit.WriteJSON(e, http.StatusOK, prof)
	}
}

// setAssignmentActive sets an assignment's is_active inside the caller's transaction, compared
// on the row as it is now (a change committed since the request checked it must not make the
// request skip its write, or repeat one): unchanged rows are left alone, a change is audited.
func setAssignmentActive(tx core.App, e *core.RequestEvent, id string, active bool) error {
	a, err := findByID(tx, colAssignments, id)
	if err != nil {
		return err
	}
	if a == nil { // deleted since the request found it: the field's answer for an unknown id
		return apikit.InvalidField("system_role_id", msgSystemRoleNotFound)
	}
	if a.GetBool("is_active") == active {
		return nil
	}
	a.Set("is_active", active)
	if err := tx.Save(a); err != nil {
		return err
	}
	return audit.Log(tx, actorEntry(e, "assignment.updated", "assignment", a.Id, slugOf(tx, a.GetString("system"))))
}

// refuseEditingAnAdmin is case C's protection (§5.3.6): a system admin may not edit a superuser
// or a holder of an Admin assignment (403 "Admins cannot edit other admins' profiles").
func refuseEditingAnAdmin(app core.App, target *core.Record) error {
	if target.GetBool("is_superuser") {
		return apikit.PermissionDenied(msgAdminsCannotEditAdmins)
	}
	rows, err := permissions.Assignments(app, target.Id)
	if err != nil {
		return err
	}
	for _, a := range rows {
		if a.RoleName == permissions.AdminRole {
			return apikit.PermissionDenied(msgAdminsCannotEditAdmins)
		}
	}
	return nil
}
