package accounts

import (
	"context"
	"net/http"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/mailer"
	"gatehouse/plugins/realm"
	"gatehouse/plugins/secondfactor"
	"gatehouse/plugins/tokens"
)

// Messages of §5.6.1 and §5.6.4 (the "incorrect" text is msgCurrentPasswordIncorrect, shared
// with the profile's email change).
const (
	msgPasswordsDoNotMatch     = "Passwords do not match."
	msgNewPasswordSameAsOld    = "New password must be different from the current password."
	detailPasswordChanged      = "Password changed successfully."
	passwordFailureBadPassword = "bad_password"
	passwordFailureLocked      = "locked"
)

// changePassword serves POST /api/v1/users/password/change/ and its duplicate
// POST /api/v1/users/profile/reset-password/ (§5.6.1, §5.6.5, §6.10).
//
// Stages, only the first failing one answers: (1) required fields; (2) current_password
// (a wrong one, or any one while the account is locked, is a recorded password failure,
// §6.1 item 3); (3) new_password_confirm; (4) the policy of §1.13 and "different from the
// current password".
func (p *plugin) changePassword(e *core.RequestEvent) error {
	caller, _, err := p.staffCaller(e)
	if err != nil {
		return err
	}
	// Read the account again: the lock state and the hash must be the stored ones, and the
	// caller's record is not ours to modify.
	user, err := p.app.FindRecordById(usersCollection, caller.Record.Id)
	if err != nil {
		return apikit.TokenNotValid()
	}
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return err
	}

	// (1) A password that is only checked and empty is "may not be blank"; a new password
	// being set that is empty is "required" (§1.4).
	current, _ := body.String("current_password", apikit.Str{Required: true, Raw: true})
	newPassword, _ := body.String("new_password", apikit.Str{Required: true, Raw: true, BlankMsg: apikit.MsgRequired})
	confirm, _ := body.String("new_password_confirm", apikit.Str{Required: true, Raw: true})
	if err := body.Err(); err != nil {
		return err
	}

	// (2) While locked the answer is "incorrect" without comparing (§6.1 item 3).
	ctx := e.Request.Context()
	ok, locked, err := p.checkCurrentPassword(e, user, current)
	if !ok && err == nil {
		reason := passwordFailureBadPassword
		if locked {
			reason = passwordFailureLocked
		}
		p.auditPasswordChangeFailure(e, user, reason)
		return apikit.InvalidField("current_password", msgCurrentPasswordIncorrect)
	}
	if err != nil {
		return err
	}

	// (3)
	if confirm != newPassword {
		return apikit.InvalidField("new_password_confirm", msgPasswordsDoNotMatch)
	}

	// (4) Policy messages first, then the table's own rule. current_password was just proved
	// to be the stored password, so comparing the two strings answers "different".
	msgs := p.passwordPolicy().Check(ctx, newPassword, user.GetString("username"), user.Email())
	if newPassword == current {
		msgs = append(msgs, msgNewPasswordSameAsOld)
	}
	if len(msgs) > 0 {
		return apikit.Invalid(apikit.FieldErrors{"new_password": msgs})
	}

	// bcrypt runs in the shared pool, outside the write transaction.
	hashed, err := p.hashPassword(ctx, user, newPassword)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	err = p.app.RunInTransaction(func(tx core.App) error {
		rec, err := tx.FindRecordById(usersCollection, user.Id)
		if err != nil {
			return err
		}
		setHashedPassword(rec, hashed)
		if err := tx.Save(rec); err != nil {
			return err
		}
		revoked, err := tokens.RevokeSessions(tx, realm.TypeStaff, rec.Id, tokens.ReasonPasswordChange, caller.SessionID)
		if err != nil {
			return err
		}
		// pending second-factor logins started with the old password die with it
		if err := secondfactor.CancelChallenges(tx, realm.TypeStaff, rec.Id); err != nil {
			return err
		}
		if err := secondfactor.InvalidateEmailCodes(tx, realm.TypeStaff, rec.Id); err != nil {
			return err
		}
		if _, err := invalidateResetTokens(tx, rec.Id, now); err != nil {
			return err
		}
		if err := p.queuePasswordChanged(e, tx, rec, now); err != nil {
			return err
		}
		entry := ownAccountEntry(e, "password.change", true, rec.Id, map[string]any{"sessions_revoked": revoked})
		return audit.Log(tx, entry)
	})
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusOK, map[string]string{"detail": detailPasswordChanged})
}

// auditPasswordChangeFailure writes password.change with success false (a wrong current
// password, or any while locked); details never hold the password.
func (p *plugin) auditPasswordChangeFailure(e *core.RequestEvent, user *core.Record, reason string) {
	entry := ownAccountEntry(e, "password.change", false, user.Id, map[string]any{"reason": reason})
	_ = audit.Log(e.App, entry)
}

// hashPassword bcrypt-hashes plain for user's collection in the shared pool (429 when no slot
// frees up in time) and returns the stored value, without touching user.
func (p *plugin) hashPassword(ctx context.Context, user *core.Record, plain string) (any, error) {
	scratch := user.Clone()
	if err := p.passwordPool().SetPassword(ctx, scratch, plain); err != nil {
		return nil, err
	}
	return scratch.GetRaw(core.FieldNamePassword), nil
}

// setHashedPassword stores a value returned by hashPassword on rec, and rotates the record's
// tokenKey as PocketBase's own SetPassword does.
func setHashedPassword(rec *core.Record, hashed any) {
	rec.SetRaw(core.FieldNamePassword, hashed)
	rec.RefreshTokenKey()
}

// queuePasswordChanged queues the password_changed email (Appendix B: time in UTC and the client
// IP) in the transaction tx.
func (p *plugin) queuePasswordChanged(e *core.RequestEvent, tx core.App, user *core.Record, at time.Time) error {
	m := mailer.For(tx)
	if m == nil {
		return errNoMailer
	}
	_, err := m.Queue(tx, user.Email(), mailer.TemplatePasswordChanged, map[string]any{"time_utc": at, "ip": e.RealIP()})
	return err
}
