package signin

import (
	"net/http"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/profiles"
	"gatehouse/plugins/realm"
	"gatehouse/plugins/tokens"
)

// Spec is what the contract makes differ between the sign-in of staff users and of employees.
// Everything else (the order of checks, counters, codes, tokens, sessions) is the same code.
type Spec struct {
	Realm *realm.Realm

	// afterPassword judges an account whose password was just proven (§5.1.2 step 5–6,
	// §5.12.4): "" lets it in; a failure reason makes it a recorded failure answered like a
	// wrong password (staff inactive); a non-nil error is answered as it is (employee pending or
	// rejected: 403, no tokens, counters already reset).
	afterPassword func(rec *core.Record) (failure string, answer error)
	// writeTokens writes the success answer of a login or second-factor step (§4.14).
	writeTokens func(p *Flows, e *core.RequestEvent, rec *core.Record, issued *tokens.Issued) error
	// onLogin runs in the session's transaction of a successful login: last_login and, for
	// staff, the assignments' last_logged_on.
	onLogin func(tx core.App, rec *core.Record, now string) error

	change        changeSpec
	reset         resetSpec
	forgotAnswer  any
	resetLinkPath string // APP_URL + this + "#token=<token>"
	// mayReset: the accounts that get reset emails and whose reset tokens are valid.
	mayReset     func(rec *core.Record) bool
	logoutAnswer any
}

// changeSpec: the fields, messages and answer of the password change (§5.6.1, §5.12.9).
type changeSpec struct {
	current, newPassword, confirm string // field names
	incorrect, mismatch, same     string // messages
	sameBeforePolicy              bool   // employee: "different" is checked before the policy
	done                          any    // the 200 answer
}

// resetSpec: the fields and answer of the password reset (§5.6.4, §5.12.11).
type resetSpec struct {
	password, confirm string
	done              any
}

type detailAnswer struct {
	Detail string `json:"detail"`
}

type messageAnswer struct {
	Message string `json:"message"`
}

type successAnswer struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
}

// Messages shared by both realms.
const (
	msgPasswordsDoNotMatch = "Passwords do not match."
	msgResetTokenInvalid   = "Invalid or expired reset token."
	// MsgCurrentPasswordIncorrect is the staff "incorrect" text, shared with the profile's
	// email change (§5.3.2).
	MsgCurrentPasswordIncorrect = "Current password is incorrect."
)

// Staff is the sign-in of staff users (§5.1–§5.7).
var Staff = &Spec{
	Realm: realm.Staff,
	afterPassword: func(rec *core.Record) (string, error) {
		if !rec.GetBool("is_active") {
			return failureInactive, nil
		}
		return "", nil
	},
	writeTokens: func(p *Flows, e *core.RequestEvent, rec *core.Record, issued *tokens.Issued) error {
		loginUser, redirect, err := profiles.ForLogin(e.App, p.cfg, rec)
		if err != nil {
			return err
		}
		return apikit.WriteJSON(e, http.StatusOK, tokenResponse{
			Access: issued.Access, AccessHS256: issued.AccessHS256, Refresh: issued.Refresh, TokenType: "Bearer",
			ExpiresIn: int(p.cfg.AccessTokenTTL.Seconds()), User: loginUser, Redirect: redirect,
		})
	},
	onLogin: func(tx core.App, rec *core.Record, now string) error {
		if _, err := tx.DB().Update(realm.CollectionStaff, dbx.Params{"last_login": now, "updated": now}, dbx.HashExp{"id": rec.Id}).Execute(); err != nil {
			return err
		}
		_, err := tx.DB().Update("user_system_roles", dbx.Params{"last_logged_on": now}, dbx.HashExp{"user": rec.Id}).Execute()
		return err
	},
	change: changeSpec{
		current: "current_password", newPassword: "new_password", confirm: "new_password_confirm",
		incorrect: MsgCurrentPasswordIncorrect, mismatch: msgPasswordsDoNotMatch,
		same: "New password must be different from the current password.",
		done: detailAnswer{"Password changed successfully."},
	},
	reset: resetSpec{password: "password", confirm: "password_confirm",
		done: successAnswer{true, "Password has been reset successfully. You can now log in with your new password."}},
	forgotAnswer:  messageAnswer{"If an account with that email exists, a password reset link has been sent."},
	resetLinkPath: "/api/v1/users/password/reset/",
	mayReset:      func(rec *core.Record) bool { return rec.GetBool("is_active") },
	logoutAnswer:  messageAnswer{"Logout successful"},
}

// Employee is the sign-in of HDTS employees (§5.12): the staff flows with the approval gate,
// EmployeeTokenResponse and the employee field names and messages.
var Employee = &Spec{
	Realm: realm.Employee,
	afterPassword: func(rec *core.Record) (string, error) {
		switch rec.GetString("status") {
		case realm.StatusApproved:
			return "", nil
		case "Rejected":
			return "", apikit.NewError(http.StatusForbidden, apikit.CodeAccountRejected,
				"Your account has been rejected by the HDTS system administrator.")
		}
		return "", apikit.NewError(http.StatusForbidden, apikit.CodeAccountPending,
			"Your account is pending approval. Please wait for admin approval before logging in.")
	},
	writeTokens: func(p *Flows, e *core.RequestEvent, rec *core.Record, issued *tokens.Issued) error {
		// The answer shows the login it reports (§5.12.4: last_login updated, also in the
		// synthetic item's last_logged_on): onLogin stored it with a plain UPDATE, so read the
		// row as committed.
		fresh, err := e.App.FindRecordById(realm.CollectionEmployee, rec.Id)
		if err != nil {
			return err
		}
		employee, err := profiles.EmployeeProfile(e.App, p.kit.AppURL(), fresh)
		if err != nil {
			return err
		}
		return apikit.WriteJSON(e, http.StatusOK, employeeTokenResponse{
			Access: issued.Access, AccessHS256: issued.AccessHS256, Refresh: issued.Refresh, TokenType: "Bearer",
			ExpiresIn: int(p.cfg.AccessTokenTTL.Seconds()), Employee: employee,
		})
	},
	onLogin: func(tx core.App, rec *core.Record, now string) error {
		_, err := tx.DB().Update(realm.CollectionEmployee, dbx.Params{"last_login": now, "updated": now}, dbx.HashExp{"id": rec.Id}).Execute()
		return err
	},
	change: changeSpec{
		current: "old_password", newPassword: "new_password", confirm: "confirm_password",
		incorrect: "Old password is incorrect.", mismatch: "New passwords do not match.",
		same: "New password must be different from old password.", sameBeforePolicy: true,
		done: messageAnswer{"Password changed successfully"},
	},
	reset: resetSpec{password: "new_password", confirm: "confirm_password",
		done: successAnswer{true, "Password reset successfully. Please log in with your new password."}},
	forgotAnswer:  successAnswer{true, "If an account with that email exists, you will receive password reset instructions."},
	resetLinkPath: "/reset-password/?kind=employee",
	mayReset:      func(*core.Record) bool { return true }, // any status (§5.12.10)
	logoutAnswer:  messageAnswer{"Successfully logged out"},
}

// employeeTokenResponse is EmployeeTokenResponse (§4.14).
type employeeTokenResponse struct {
	Access      string                       `json:"access"`
	AccessHS256 string                       `json:"access_hs256,omitempty"`
	Refresh     string                       `json:"refresh"`
	TokenType   string                       `json:"token_type"`
	ExpiresIn   int                          `json:"expires_in"`
	Employee    profiles.EmployeeProfileJSON `json:"employee"`
}
