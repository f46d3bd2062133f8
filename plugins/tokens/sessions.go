package tokens

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"gatehouse/plugins/realm"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Revocation reasons of §2.7 / §3.5.
const (
	ReasonLogout           = "logout"
	ReasonReuseDetected    = "reuse_detected"
	ReasonPasswordChange   = "password_change"
	ReasonPasswordReset    = "password_reset"
	ReasonSecurityChange   = "security_change"
	ReasonUserDeactivated  = "user_deactivated"
	ReasonEmployeeRejected = "employee_rejected"
	ReasonUserRevoked      = "user_revoked"
	ReasonSlugRenamed      = "slug_renamed"
)

// Login methods of §2.7.
const (
	MethodPassword             = "password"
	MethodPasswordTOTP         = "password+totp"
	MethodPasswordEmail        = "password+email"
	MethodPasswordRecoveryCode = "password+recovery_code"
)

const sessionsTable = "sessions"

// principalColumn is the sessions relation column of a principal type.
func principalColumn(userType string) string {
	if r, err := realm.ByType(userType); err == nil {
		return r.Relation
	}
	return realm.Staff.Relation
}

// hashJTI is how a refresh token id is stored (§2.7: SHA-256 hex, never the jti itself).
func hashJTI(jti string) string {
	sum := sha256.Sum256([]byte(jti))
	return hex.EncodeToString(sum[:])
}

// RevokeSessions revokes every session of a principal not already revoked (expired ones too),
// except the session exceptSID when it is not empty, and returns how many were revoked. Use the
// transaction app when the revocation belongs to a larger change.
func RevokeSessions(app core.App, userType, principalID, reason, exceptSID string) (int, error) {
	return revokeOf(app, userType, principalID, reason, exceptSID, false)
}

// RevokeLiveSessions is RevokeSessions limited to sessions that have not expired either (the
// live sessions LiveSessions lists): what a user ending their other sessions sees counted
// (§5.15.6). The security revocations use RevokeSessions, which ends expired ones too.
func RevokeLiveSessions(app core.App, userType, principalID, reason, exceptSID string) (int, error) {
	return revokeOf(app, userType, principalID, reason, exceptSID, true)
}

func revokeOf(app core.App, userType, principalID, reason, exceptSID string, liveOnly bool) (int, error) {
	if _, err := realm.ByType(userType); err != nil {
		return 0, errors.New("tokens: unknown user type " + userType)
	}
	where := dbx.And(
		dbx.HashExp{"user_type": userType, principalColumn(userType): principalID},
		dbx.NewExp("[[revoked_at]] = ''"),
	)
	if liveOnly {
		where = dbx.And(where, dbx.NewExp("[[expires_at]] > {:now} AND [[absolute_expires_at]] > {:now}", dbx.Params{"now": nowDT()}))
	}
	if exceptSID != "" {
		where = dbx.And(where, dbx.Not(dbx.HashExp{"id": exceptSID}))
	}
	return revokeWhere(app, where, reason)
}

// RevokeSession revokes one session by id (no-op when already revoked); it reports whether this
// call revoked it.
func RevokeSession(app core.App, sid, reason string) (bool, error) {
	n, err := revokeWhere(app, dbx.And(dbx.HashExp{"id": sid}, dbx.NewExp("[[revoked_at]] = ''")), reason)
	return n > 0, err
}

func revokeWhere(app core.App, where dbx.Expression, reason string) (int, error) {
	now := types.NowDateTime().String()
	res, err := app.DB().Update(sessionsTable, dbx.Params{
		"revoked_at": now, "revoked_reason": reason, "updated": now,
	}, where).Execute()
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// sessionExpiry is exp of a new refresh token: min(now + REFRESH_TOKEN_TTL, absolute expiry).
func sessionExpiry(now time.Time, refreshTTL time.Duration, absolute time.Time) time.Time {
	exp := now.Add(refreshTTL)
	if absolute.Before(exp) {
		return absolute
	}
	return exp
}

// EndSession revokes the session named by a verified token's sid when it belongs to the token's
// principal (logout, §5.1.4).
func (s *Service) EndSession(app core.App, c *Claims, reason string) (bool, error) {
	sess, err := app.FindRecordById(sessionsTable, c.SessionID)
	if err != nil || !sessionBelongs(sess, c.UserType, c.Subject) {
		return false, nil
	}
	return RevokeSession(app, sess.Id, reason)
}

// LiveSessions lists a principal's sessions that are neither revoked nor expired, most recently
// used first (§5.15.6).
func LiveSessions(app core.App, userType, principalID string, limit, offset int) ([]*core.Record, int, error) {
	now := nowDT()
	where := dbx.And(
		dbx.HashExp{"user_type": userType, principalColumn(userType): principalID},
		dbx.NewExp("[[revoked_at]] = ''"),
		dbx.NewExp("[[expires_at]] > {:now} AND [[absolute_expires_at]] > {:now}", dbx.Params{"now": now}),
	)
	var count struct {
		N int `db:"n"`
	}
	if err := app.DB().Select("COUNT(*) AS n").From(sessionsTable).Where(where).One(&count); err != nil {
		return nil, 0, err
	}
	var out []*core.Record
	err := app.RecordQuery(sessionsTable).AndWhere(where).
		OrderBy("last_used_at DESC", "id ASC").Limit(int64(limit)).Offset(int64(offset)).All(&out)
	return out, count.N, err
}

// IsLiveSessionOf reports whether sid is a live session of the principal.
func IsLiveSessionOf(app core.App, sid, userType, principalID string) bool {
	sess, err := app.FindRecordById(sessionsTable, sid)
	if err != nil || !sessionBelongs(sess, userType, principalID) {
		return false
	}
	now := time.Now()
	return sessionLive(sess, now) && now.Before(sess.GetDateTime("expires_at").Time())
}
