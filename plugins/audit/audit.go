// Package audit writes the audit_log rows of spec/API.md §2.18 and Appendix C. Every plugin that
// records an event calls Log; details must never hold passwords, codes, tokens or secrets.
package audit

import (
	"encoding/json"
	"gatehouse/plugins/jobs"
	"time"
	"unicode/utf8"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Actor types of §2.18 besides the principal types of plugins/realm (staff, employee).
const (
	ActorService   = "service"
	ActorAnonymous = "anonymous"
	ActorSystem    = "system"
)

// Entry is one audit event.
type Entry struct {
	Event      string
	Success    bool
	ActorType  string
	ActorID    string
	TargetType string
	TargetID   string
	System     string
	IP         string
	UserAgent  string
	Details    map[string]any
}

// maxUserAgent is the stored user-agent limit of §7.1.
const maxUserAgent = 512

// FromRequest starts an entry with the request's client IP (PocketBase's RealIP, after the
// trusted-proxy guard) and user agent; the actor is anonymous until the caller says otherwise.
func FromRequest(e *core.RequestEvent, event string, success bool) Entry {
	return Entry{Event: event, Success: success, ActorType: ActorAnonymous, IP: e.RealIP(), UserAgent: e.Request.UserAgent()}
}

// Log stores the entry. Use the transaction app when the audited change runs in one, so that
// the row commits (or rolls back) with it.
func Log(app core.App, entry Entry) error {
	col, err := app.FindCachedCollectionByNameOrId("audit_log")
	if err != nil {
		return err
	}
	r := core.NewRecord(col)
	if entry.ActorType == "" {
		entry.ActorType = ActorSystem
	}
	r.Set("event", entry.Event)
	r.Set("success", entry.Success)
	r.Set("actor_type", entry.ActorType)
	r.Set("actor_id", entry.ActorID)
	r.Set("target_type", entry.TargetType)
	r.Set("target_id", entry.TargetID)
	r.Set("system", entry.System)
	r.Set("ip", entry.IP)
	r.Set("user_agent", TruncateRunes(entry.UserAgent, maxUserAgent))
	if entry.Details != nil {
		r.Set("details", entry.Details)
	}
	if err := app.Save(r); err != nil {
		// Callers that cannot fail their request on a lost audit row ignore the error; it is
		// never silent: logged here, once, for every caller.
		app.Logger().Error("audit: entry not stored", "event", entry.Event, "error", err)
		return err
	}
	return nil
}

// TruncateRunes cuts s to at most n characters without splitting a UTF-8 sequence.
func TruncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}

// InsertQuery is the audit_log row of an entry as one SQL statement with InsertParams, for a
// writer that batches its statements (prepared.RunTx) instead of saving records: the same
// columns and values Log stores, without the record machinery.
const InsertQuery = "INSERT INTO audit_log (id, event, success, actor_type, actor_id, target_type, target_id, system, ip, " +
	"user_agent, details, created, updated) VALUES ({:id}, {:event}, {:success}, {:actor_type}, {:actor_id}, {:target_type}, " +
	"{:target_id}, {:system}, {:ip}, {:user_agent}, {:details}, {:now}, {:now})"

// InsertParams are the parameters of InsertQuery for entry.
func InsertParams(entry Entry) (dbx.Params, error) {
	if entry.ActorType == "" {
		entry.ActorType = ActorSystem
	}
	details := "null"
	if entry.Details != nil {
		raw, err := json.Marshal(entry.Details)
		if err != nil {
			return nil, err
		}
		details = string(raw)
	}
	return dbx.Params{"id": core.GenerateDefaultRandomId(), "event": entry.Event, "success": entry.Success,
		"actor_type": entry.ActorType, "actor_id": entry.ActorID, "target_type": entry.TargetType, "target_id": entry.TargetID,
		"system": entry.System, "ip": entry.IP, "user_agent": TruncateRunes(entry.UserAgent, maxUserAgent),
		"details": details, "now": types.NowDateTime().String()}, nil
}

// CleanupJob applies the audit log's retention of §7.1 (180 days by default), hourly.
const CleanupJob = "audit.cleanup"

// ScheduleCleanup schedules CleanupJob on sched: rows created more than keep ago are deleted.
func ScheduleCleanup(sched *jobs.Scheduler, keep time.Duration) {
	sched.AddRetention(CleanupJob, "0 53 * * * *", jobs.Retention{Table: "audit_log", Columns: []string{"created"}, Keep: keep})
}
