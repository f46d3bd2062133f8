package hdts

import (
	"database/sql"
	"errors"
	"net/http"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/mailer"
	"gatehouse/plugins/realm"
)

const msgUserNotFound = "User not found."

// statusAction is one value of update-status's action (§5.15.3).
type statusAction struct {
	target, event, template, done, already string
}

var statusActions = map[string]statusAction{
	"approve": {realm.StatusApproved, "employee.approved", mailer.TemplateEmployeeApproved, "User approved successfully", "User is already approved."},
	"reject":  {"Rejected", "employee.rejected", mailer.TemplateEmployeeRejected, "User rejected successfully", "User is already rejected."},
}

type statusAnswer struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
	UserID  string `json:"user_id"`
	Status  string `json:"status"`
}

// updateStatus serves POST /api/v1/hdts/user-management/update-status/{id}/ (§5.15.3, §6.13):
// an HDTS admin approves or rejects an employee. Checks in the order of §1.3: HDTS_ADMIN (403)
// → the employee (404) → action (400) → already in the target state (409). The status change,
// the email and the audit row commit together; a rejection revokes the employee's sessions in
// the same transaction (the employees update hook, §3.5). Only employees records are read or
// written: a staff user's id is not found.
func (p *plugin) updateStatus(e *core.RequestEvent) error {
	caller := apikit.CallerOf(e)
	id := e.Request.PathValue("id")
	if _, err := realm.Employee.Find(p.app, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return apikit.NotFound(msgUserNotFound)
		}
		return err
	}
	body, err := apikit.ReadBody(e, apikit.BodyForm|apikit.BodyMultipart)
	if err != nil {
		return err
	}
	name, _ := body.String("action", apikit.Str{Required: true, Choices: []string{"approve", "reject"}})
	if err := body.Err(); err != nil {
		return err
	}
	action := statusActions[name]

	err = p.app.RunInTransaction(func(tx core.App) error {
		employee, err := realm.Employee.Find(tx, id)
		if err != nil {
			return err
		}
		if employee.GetString("status") == action.target {
			return apikit.Conflict(action.already)
		}
		employee.Set("status", action.target)
		employee.Set("status_by", caller.Record.Id)
		employee.Set("status_at", types.NowDateTime())
		if err := tx.Save(employee); err != nil {
			return err
		}
		// employee_approved's login link defaults to APP_URL/login/ (mailer)
		if _, err := p.mailer.Queue(tx, employee.Email(), action.template, nil); err != nil {
			return err
		}
		entry := audit.FromRequest(e, action.event, true)
		entry.ActorType, entry.ActorID = realm.TypeStaff, caller.Record.Id
		entry.TargetType, entry.TargetID = realm.Employee.Noun, employee.Id
		return audit.Log(tx, entry)
	})
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusOK, statusAnswer{Success: true, Message: action.done, UserID: id, Status: action.target})
}
