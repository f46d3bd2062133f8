package signin

import (
	"context"
	"net/http"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/mailer"
	"gatehouse/plugins/secondfactor"
	"gatehouse/plugins/tokens"
)

const (
	passwordFailureBadPassword = "bad_password"
	passwordFailureLocked      = "locked"
)

// ChangePassword serves the password change of the caller (§5.6.1 and its duplicate §5.6.5 for
// staff, §5.12.9 for employees; field names and messages from the realm's Spec, §6.10).
//
// Stages, only the first failing one answers: (1) required fields; (2) the current password (a
// wrong one, or any one while the account is locked, is a recorded password failure, §6.1
// item 3); (3) the confirmation; (4) the policy of §1.13 and "different from the current
// password" (employees: "different" first).
func (p *Flows) ChangePassword(e *core.RequestEvent) error {
	caller, err := p.Caller(e)
	if err != nil {
		return err
	}
	// Read the account again: the lock state and the hash must be the stored ones, and the
	// caller's record is not ours to modify.
	user, err := p.app.FindRecordById(p.realm.Collection, caller.Record.Id)
	if err != nil {
		return apikit.TokenNotValid()
	}
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return err
	}
	spec := p.spec.change

	// (1) A password that is only checked and empty is "may not be blank"; a new password
	// being set that is empty is "required" (§1.4).
	current, _ := body.String(spec.current, apikit.Str{Required: true, Raw: true})
	newPassword, _ := body.String(spec.newPassword, apikit.Str{Required: true, Raw: true, BlankMsg: apikit.MsgRequired})
	confirm, _ := body.String(spec.confirm, apikit.Str{Required: true, Raw: true})
	if err := body.Err(); err != nil {
		return err
	}

	// (2) While locked the answer is "incorrect" without comparing (§6.1 item 3).
	ctx := e.Request.Context()
	ok, locked, err := p.CheckCurrentPassword(e, user, current)
	if !ok && err == nil {
		reason := passwordFailureBadPassword
		if locked {
			reason = passwordFailureLocked
		}
		p.auditPasswordChangeFailure(e, user, reason)
		return apikit.InvalidField(spec.current, spec.incorrect)
	}
	if err != nil {
		return err
	}

	// (3)
	if confirm != newPassword {
		return apikit.InvalidField(spec.confirm, spec.mismatch)
	}

	// (4) The current password was just proved to be the stored one, so comparing the two
	// strings answers "different".
	var msgs []string
	if spec.sameBeforePolicy && newPassword == current {
		msgs = append(msgs, spec.same)
	}
	msgs = append(msgs, p.passwordPolicy().Check(ctx, newPassword, user.GetString("username"), user.Email())...)
	if !spec.sameBeforePolicy && newPassword == current {
		msgs = append(msgs, spec.same)
	}
	if len(msgs) > 0 {
		return apikit.Invalid(apikit.FieldErrors{spec.newPassword: msgs})
	}

	// bcrypt runs in the shared pool, outside the write transaction.
	hashed, err := p.hashPassword(ctx, user, newPassword)
	if err != nil {
		return err
	}
	err = p.app.RunInTransaction(func(tx core.App) error {
		rec, err := tx.FindRecordById(p.realm.Collection, user.Id)
		if err != nil {
			return err
		}
		if !SamePassword(rec, user) {
			// a reset (or another change) committed while this one hashed: the current password
			// given is no longer the stored one, and the newer password stays (§3.5)
			return apikit.InvalidField(spec.current, spec.incorrect)
		}
		setHashedPassword(rec, hashed)
		if err := tx.Save(rec); err != nil {
			return err
		}
		return p.passwordReplaced(e, tx, rec, "password.change", tokens.ReasonPasswordChange, caller.SessionID)
	})
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusOK, spec.done)
}

// passwordReplaced is what follows a new password of both realms, change and reset alike, in
// the transaction tx that stored it: every session but keepSession revoked (reason), pending
// second-factor logins started with the old password cancelled, live email codes and unused
// reset tokens invalidated, the password_changed email, the audit entry event.
func (p *Flows) passwordReplaced(e *core.RequestEvent, tx core.App, rec *core.Record, event, reason, keepSession string) error {
	now := time.Now().UTC()
	revoked, err := tokens.RevokeSessions(tx, p.realm.Type, rec.Id, reason, keepSession)
	if err != nil {
		return err
	}
	if err := secondfactor.CancelChallenges(tx, p.realm.Type, rec.Id); err != nil {
		return err
	}
	if err := secondfactor.InvalidateEmailCodes(tx, p.realm.Type, rec.Id); err != nil {
		return err
	}
	if _, err := p.invalidateResetTokens(tx, rec.Id, now); err != nil {
		return err
	}
	if err := p.queuePasswordChanged(e, tx, rec, now); err != nil {
		return err
	}
	return audit.Log(tx, p.OwnAccountEntry(e, event, true, rec.Id, map[string]any{"sessions_revoked": revoked}))
}

// auditPasswordChangeFailure writes password.change with success false (a wrong current
// password, or any while locked); details never hold the password.
func (p *Flows) auditPasswordChangeFailure(e *core.RequestEvent, user *core.Record, reason string) {
	entry := p.OwnAccountEntry(e, "password.change", false, user.Id, map[string]any{"reason": reason})
	_ = audit.Log(e.App, entry)
}

// hashPassword bcrypt-hashes plain for user's collection in the shared pool (429 when no slot
// frees up in time) and returns the stored value, without touching user.
func (p *Flows) hashPassword(ctx context.Context, user *core.Record, plain string) (any, error) {
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
func (p *Flows) queuePasswordChanged(e *core.RequestEvent, tx core.App, user *core.Record, at time.Time) error {
	_, err := p.mailer.Queue(tx, user.Email(), mailer.TemplatePasswordChanged, map[string]any{"time_utc": at, "ip": e.RealIP()})
	return err
}
