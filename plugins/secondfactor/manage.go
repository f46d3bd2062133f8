package secondfactor

import (
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// EnableEmailMethod switches the principal to the email method after its setup code was
// verified: otp_enabled = true, otp_method = "email", and any TOTP secret (active or pending)
// is cleared. Recovery codes are the caller's business (GenerateRecoveryCodes).
func EnableEmailMethod(app core.App, principal *core.Record) error {
	if _, err := PrincipalType(principal); err != nil {
		return err
	}
	params := dbx.Params{
		"otp_enabled":          true,
		"otp_method":           MethodEmail,
		"totp_secret":          "",
		"totp_pending_secret":  "",
		"totp_pending_expires": "",
		"updated":              dbTime(time.Now()), // a visible change (EmployeeProfile's updated_at)
	}
	if _, err := updateRow(app, principal.Collection().Name, params, dbx.HashExp{"id": principal.Id}); err != nil {
		return err
	}
	setAll(principal, params)
	return nil
}

// DisabledFields are the account fields of a principal whose second factor is off (§2.2):
// otp_enabled = false, otp_method empty, TOTP secrets (active and pending) cleared.
// totp_last_step is kept (it only ever grows).
func DisabledFields() dbx.Params {
	return dbx.Params{
		"otp_enabled":          false,
		"otp_method":           "",
		"totp_secret":          "",
		"totp_pending_secret":  "",
		"totp_pending_expires": "",
		"updated":              dbTime(time.Now()),
	}
}

// DropCodes removes what a second factor leaves besides the account fields when it is turned
// off: the recovery codes are deleted (§2.10) and the unused email codes invalidated. Run it in
// the transaction that writes DisabledFields (Disable, or the dashboard's hook in hooks/).
func DropCodes(tx core.App, principalType, principalID string) error {
	if err := DeleteRecoveryCodes(tx, principalType, principalID); err != nil {
		return err
	}
	return InvalidateEmailCodes(tx, principalType, principalID)
}

// Disable turns the second factor off (§6.11 step 4): DisabledFields and DropCodes in one
// transaction. The lock history is kept.
func Disable(app core.App, principal *core.Record) error {
	principalType, err := PrincipalType(principal)
	if err != nil {
		return err
	}
	params := DisabledFields()
	err = app.RunInTransaction(func(tx core.App) error {
		if _, err := updateRow(tx, principal.Collection().Name, params, dbx.HashExp{"id": principal.Id}); err != nil {
			return err
		}
		return DropCodes(tx, principalType, principal.Id)
	})
	if err != nil {
		return err
	}
	setAll(principal, params)
	return nil
}
