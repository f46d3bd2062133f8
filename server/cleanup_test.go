package server_test

import (
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/types"

	"gatehouse/plugins/audit"
	"gatehouse/plugins/captcha"
	"gatehouse/plugins/directory"
	"gatehouse/plugins/secondfactor"
	"gatehouse/plugins/signin"
	"gatehouse/plugins/tokens"
	"gatehouse/server"
	"gatehouse/testkit"
)

// The retention jobs of §7.1 keep every table it names bounded (here with retention shortened
// to a minute): rows past retention go, the rest stays. mfa_challenges, otp_codes,
// password_reset_tokens, invitations and audit_log had no job before this test covered them.
func TestCleanupJobsKeepTablesBounded(t *testing.T) {
	t.Parallel()
	cfg := testkit.Config()
	cfg.SessionRetention = time.Minute
	cfg.AuthFailureRetention = time.Minute
	cfg.ExpiredRowRetention = time.Minute
	cfg.InvitationRetention = time.Minute
	cfg.AuditRetention = time.Minute
	var services *server.Services
	app := testkit.NewApp(t, func(app *tests.TestApp) { services = server.Register(app, cfg, server.Options{}) })

	now := time.Now()
	d := func(ago time.Duration) string { return now.Add(-ago).UTC().Format(types.DefaultDateLayout) }
	old, recent, future := d(2*time.Minute), d(30*time.Second), d(-time.Hour)
	insert := func(table string, rows ...dbx.Params) {
		for _, r := range rows {
			if _, err := app.DB().Insert(table, r).Execute(); err != nil {
				t.Fatal(table, err)
			}
		}
	}
	insert("sessions",
		dbx.Params{"id": "sessrevokedold1", "user_type": "staff", "refresh_jti_hash": "a", "revoked_at": old, "expires_at": future, "absolute_expires_at": future},
		dbx.Params{"id": "sessidleold0001", "user_type": "staff", "refresh_jti_hash": "b", "expires_at": old, "absolute_expires_at": future},
		dbx.Params{"id": "sessabsold00001", "user_type": "staff", "refresh_jti_hash": "c", "expires_at": future, "absolute_expires_at": old},
		dbx.Params{"id": "sessrevokednew1", "user_type": "staff", "refresh_jti_hash": "d", "revoked_at": recent, "expires_at": future, "absolute_expires_at": future},
		dbx.Params{"id": "sesslive0000001", "user_type": "staff", "refresh_jti_hash": "e", "expires_at": future, "absolute_expires_at": future},
	)
	insert("auth_failures",
		dbx.Params{"id": "failold00000001", "kind": "password", "email": "x@example.com", "occurred_at": old},
		dbx.Params{"id": "failnew00000001", "kind": "password", "email": "x@example.com", "occurred_at": recent},
	)
	insert("captcha_challenges",
		dbx.Params{"id": "captold00000001", "answer_hash": "h", "expires_at": old},
		dbx.Params{"id": "captnew00000001", "answer_hash": "h", "expires_at": recent},
		dbx.Params{"id": "captlive0000001", "answer_hash": "h", "expires_at": future},
	)

	for table, unique := range map[string]string{"mfa_challenges": "jti_hash", "otp_codes": "code_hash", "password_reset_tokens": "token_hash"} {
		for age, at := range map[string]string{"old0000000001": old, "new0000000001": recent, "live000000001": future} {
			insert(table, dbx.Params{"id": table[:4] + age, "expires_at": at, unique: table + age})
		}
	}
	insert("invitations",
		dbx.Params{"id": "invacceptedold1", "token_hash": "t1", "accepted_at": old, "expires_at": future},
		dbx.Params{"id": "invrevokedold01", "token_hash": "t2", "revoked_at": old, "expires_at": future},
		dbx.Params{"id": "invexpiredold01", "token_hash": "t3", "expires_at": old},
		dbx.Params{"id": "invacceptednew1", "token_hash": "t4", "accepted_at": recent, "expires_at": future},
		dbx.Params{"id": "invpending00001", "token_hash": "t5", "expires_at": future},
	)
	insert("audit_log",
		dbx.Params{"id": "auditold0000001", "event": "x", "created": old, "updated": old},
		dbx.Params{"id": "auditnew0000001", "event": "x", "created": recent, "updated": recent},
	)

	for _, job := range []string{tokens.CleanupJob, captcha.CleanupJob, secondfactor.CleanupJob, signin.CleanupJob, directory.CleanupJob, audit.CleanupJob} {
		if err := services.Jobs.Run(job); err != nil {
			t.Fatal(err)
		}
	}
	for table, want := range map[string][]string{
		"sessions":              {"sessrevokednew1", "sesslive0000001"},
		"auth_failures":         {"failnew00000001"},
		"captcha_challenges":    {"captnew00000001", "captlive0000001"},
		"mfa_challenges":        {"mfa_new0000000001", "mfa_live000000001"},
		"otp_codes":             {"otp_new0000000001", "otp_live000000001"},
		"password_reset_tokens": {"passnew0000000001", "passlive000000001"},
		"invitations":           {"invacceptednew1", "invpending00001"},
		"audit_log":             {"auditnew0000001"},
	} {
		var ids []string
		if err := app.DB().Select("id").From(table).OrderBy("id").Column(&ids); err != nil {
			t.Fatal(err)
		}
		if len(ids) != len(want) {
			t.Fatalf("%s after cleanup: %v, want %v", table, ids, want)
		}
		for _, id := range want {
			found := false
			for _, got := range ids {
				found = found || got == id
			}
			if !found {
				t.Fatalf("%s after cleanup: %v, want %v", table, ids, want)
			}
		}
	}
}
