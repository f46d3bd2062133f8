package signin

import (
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/captcha"
	"gatehouse/plugins/mailer"
	"gatehouse/plugins/realm"
	"gatehouse/plugins/tokens"
)

// Reset tokens (§2.11, §7.1).
const (
	resetTokensCollection = "password_reset_tokens"
	resetTokenBytes       = 32        // 43 characters of unpadded URL-safe base64
	resetTokenMaxLen      = 256       // longer values are not looked up
	resetEmailWindow      = time.Hour // ResetEmailsPerHour counts in this window
)

// errResetTokenGone: the token was spent or its user deactivated between the checks and the
// transaction (a concurrent reset); answered like any invalid token.
var errResetTokenGone = errors.New("signin: reset token no longer valid")

// newResetToken returns a fresh token: 32 random bytes as 43 characters of unpadded URL-safe
// base64.
func newResetToken() (string, error) {
	b := make([]byte, resetTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// hashResetToken is how a reset token is stored and looked up: hex SHA-256 (§2.1, §2.11).
func hashResetToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func resetDBTime(t time.Time) string { return t.UTC().Format(types.DefaultDateLayout) }

// findValidResetToken returns the token row and its account when token is a currently valid
// reset token of this realm (§2.11: unused, unexpired, the account exists and may reset its
// password); (nil, nil, nil) otherwise.
func (p *Flows) findValidResetToken(app core.App, token string, now time.Time) (*core.Record, *core.Record, error) {
	if token == "" || len(token) > resetTokenMaxLen {
		return nil, nil, nil
	}
	row, err := app.FindFirstRecordByData(resetTokensCollection, "token_hash", hashResetToken(token))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	expires := row.GetDateTime("expires_at")
	if row.GetString("user_type") != p.realm.Type || !row.GetDateTime("used_at").IsZero() ||
		expires.IsZero() || !expires.Time().After(now) || row.GetString(p.realm.Relation) == "" {
		return nil, nil, nil
	}
	user, err := app.FindRecordById(p.realm.Collection, row.GetString(p.realm.Relation))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if !p.spec.mayReset(user) {
		return nil, nil, nil
	}
	return row, user, nil
}

// invalidateResetTokens marks the user's unused reset tokens as used (InvalidateResetTokens).
func (p *Flows) invalidateResetTokens(app core.App, userID string, now time.Time) (int64, error) {
	return InvalidateResetTokens(app, p.realm, userID, now)
}

// InvalidateResetTokens marks the unused reset tokens of a principal of realm r as used and
// returns how many: a new token, a password change and a completed reset do (§2.11, §5.6.1,
// §5.6.4), and so does an email change (hooks): a completed reset sets `verified`, the proof
// that the principal holds the mailbox of its email (§2.2), so a link sent to the old address
// must not vouch for the new one.
func InvalidateResetTokens(app core.App, r *realm.Realm, principalID string, now time.Time) (int64, error) {
	at := resetDBTime(now)
	res, err := app.DB().Update(resetTokensCollection,
		dbx.Params{"used_at": at, "updated": at},
		dbx.HashExp{"user_type": r.Type, r.Relation: principalID, "used_at": ""},
	).Execute()
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// resetEmailsInWindow counts the reset tokens issued to the user in the last hour: each one was
// queued with exactly one password_reset email. The window is measured on expires_at (issued +
// ResetTokenTTL), an editable date field (§1.15), rather than on the autodate created.
func (p *Flows) resetEmailsInWindow(app core.App, userID string, now time.Time) (int, error) {
	since := now.Add(-resetEmailWindow).Add(p.cfg.ResetTokenTTL)
	var n int
	err := app.DB().Select("COUNT(*)").From(resetTokensCollection).Where(dbx.And(
		dbx.HashExp{"user_type": p.realm.Type, p.realm.Relation: userID},
		dbx.NewExp("[[expires_at]] > {:since}", dbx.Params{"since": resetDBTime(since)}),
	)).Row(&n)
	return n, err
}

// ForgotPassword serves forgot-password (§5.6.2, §5.12.10, §6.9). The answer is the same for
// existing, unknown, inactive and locked accounts and for throttled requests, and so is its
// time: the per-account work runs after it.
func (p *Flows) ForgotPassword(e *core.RequestEvent) error {
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return err
	}
	email, _ := body.Email("email", true)
	captchaID, _ := body.String("captcha_id", apikit.Str{Raw: true, AllowBlank: true, Nullable: true})
	captchaAnswer, _ := body.String("captcha_answer", apikit.Str{Raw: true, AllowBlank: true, Nullable: true})
	if err := body.Err(); err != nil {
		return err
	}

	// CAPTCHA only in the client IP's state (§6.1); failing it records no password failure.
	required, err := captcha.RequiredForIP(e.App, p.cfg, e.RealIP())
	if err != nil {
		return err
	}
	if err := p.captchaGate(e, required, captchaID, captchaAnswer); err != nil {
		return err
	}

	// Everything that depends on the account happens after the answer (afterAnswer), so known
	// and unknown emails are answered in the same time.
	app, entry := e.App, audit.FromRequest(e, "password.reset_requested", true)
	if err := p.afterAnswer.Enqueue(e.Request.Context(), func() error {
		return p.sendResetLink(app, entry, email)
	}); err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusOK, p.spec.forgotAnswer)
}

// sendResetLink issues a reset token and queues the password_reset email when email belongs to
// an account of this realm that may reset its password (staff: active) and got fewer than
// ResetEmailsPerHour reset emails in the last hour. It
// runs after the answer (forgotPassword), which never tells the caller which case applied;
// entry is the request's audit entry.
func (p *Flows) sendResetLink(app core.App, entry audit.Entry, email string) error {
	col, err := app.FindCachedCollectionByNameOrId(p.realm.Collection)
	if err != nil {
		return err
	}
	user, err := app.FindAuthRecordByEmail(col, email)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // unknown email: no mail
	}
	if err != nil {
		return err
	}
	if !p.spec.mayReset(user) {
		return nil // e.g. inactive staff accounts get no mail
	}
	m := p.mailer
	now := time.Now().UTC()
	return app.RunInTransaction(func(tx core.App) error {
		// Counted inside the (serialised) write transaction, so concurrent requests cannot
		// exceed the limit together.
		sent, err := p.resetEmailsInWindow(tx, user.Id, now)
		if err != nil {
			return err
		}
		if sent >= p.cfg.ResetEmailsPerHour {
			return nil // throttled: silently no mail (§7.2)
		}
		if _, err := p.invalidateResetTokens(tx, user.Id, now); err != nil {
			return err
		}
		token, err := newResetToken()
		if err != nil {
			return err
		}
		rows, err := tx.FindCachedCollectionByNameOrId(resetTokensCollection)
		if err != nil {
			return err
		}
		row := core.NewRecord(rows)
		row.Set("user_type", p.realm.Type)
		row.Set(p.realm.Relation, user.Id)
		row.Set("token_hash", hashResetToken(token))
		row.Set("expires_at", resetDBTime(now.Add(p.cfg.ResetTokenTTL)))
		if err := tx.Save(row); err != nil {
			return err
		}
		// The token travels only in the fragment, which browsers never send (§1.11); the base
		// is the configured APP_URL, never the request's Host.
		link := p.kit.URL(p.spec.resetLinkPath) + "#token=" + token
		if _, err := m.Queue(tx, user.Email(), mailer.TemplatePasswordReset, map[string]any{"link": link}); err != nil {
			return err
		}
		entry.TargetType, entry.TargetID = p.realm.Noun, user.Id
		return audit.Log(tx, entry)
	})
}

// ResetPasswordPage serves GET /api/v1/users/password/reset/ (§5.6.3), a page endpoint
// (§1.11): the reset page for browsers, else the JSON token check. The route is a SecretQuery
// route: the query string left the request URL before anything could log it.
func (p *Flows) ResetPasswordPage(e *core.RequestEvent) error {
	query := apikit.Query(e)
	if apikit.WantsHTML(e) {
		return p.kit.ServePage(e, resetPageFile)
	}
	token := query.Get("token")
	if token == "" {
		return apikit.InvalidField("token", apikit.MsgRequired)
	}
	row, _, err := p.findValidResetToken(e.App, token, time.Now().UTC())
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusOK, map[string]bool{"valid": row != nil})
}

// ResetPassword serves the password reset (§5.6.4, §5.12.11, §6.9; field names from the
// realm's Spec).
//
// Stages, only the first failing one answers: (1) required fields; (2) token; (3) the
// confirmation; (4) the policy of §1.13 with the token owner's username and email.
func (p *Flows) ResetPassword(e *core.RequestEvent) error {
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return err
	}
	token, _ := body.String("token", apikit.Str{Required: true, Raw: true})
	fields := p.spec.reset
	password, _ := body.String(fields.password, apikit.Str{Required: true, Raw: true, BlankMsg: apikit.MsgRequired})
	confirm, _ := body.String(fields.confirm, apikit.Str{Required: true, Raw: true})
	if err := body.Err(); err != nil {
		return err
	}

	row, user, err := p.findValidResetToken(e.App, token, time.Now().UTC())
	if err != nil {
		return err
	}
	if row == nil {
		return apikit.InvalidField("token", msgResetTokenInvalid)
	}
	if confirm != password {
		return apikit.InvalidField(fields.confirm, msgPasswordsDoNotMatch)
	}
	if msgs := p.passwordPolicy().Check(e.Request.Context(), password, user.GetString("username"), user.Email()); len(msgs) > 0 {
		return apikit.Invalid(apikit.FieldErrors{fields.password: msgs})
	}

	hashed, err := p.hashPassword(e.Request.Context(), user, password)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	err = e.App.RunInTransaction(func(tx core.App) error {
		// Spend the token first; a concurrent reset with the same token loses here.
		res, err := tx.DB().Update(resetTokensCollection,
			dbx.Params{"used_at": resetDBTime(now), "updated": resetDBTime(now)},
			dbx.And(dbx.HashExp{"id": row.Id, "used_at": ""},
				dbx.NewExp("[[expires_at]] > {:now}", dbx.Params{"now": resetDBTime(now)})),
		).Execute()
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			if err == nil {
				err = errResetTokenGone
			}
			return err
		}
		rec, err := tx.FindRecordById(p.realm.Collection, user.Id)
		if err != nil {
			return err
		}
		if !p.spec.mayReset(rec) {
			return errResetTokenGone
		}
		setHashedPassword(rec, hashed)
		rec.SetVerified(true) // the reset proved the mailbox (§2.2, §8.6 statement 89)
		if err := tx.Save(rec); err != nil {
			return err
		}
		// A reset ends a password lock and restarts the lockout counter (§6.1 item 4).
		if err := captcha.Unlock(tx, rec); err != nil {
			return err
		}
		return p.passwordReplaced(e, tx, rec, "password.reset", tokens.ReasonPasswordReset, "")
	})
	if errors.Is(err, errResetTokenGone) {
		return apikit.InvalidField("token", msgResetTokenInvalid)
	}
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusOK, fields.done)
}
