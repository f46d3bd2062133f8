package tts

import (
	"errors"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/permissions"
	"gatehouse/plugins/prepared"
	"gatehouse/plugins/profiles"
)

// Messages of §5.13.7 and §5.15.4.
const (
	msgRoleRequired  = "Either role_id or role_name parameter is required."
	msgRoleAmbiguous = "Role name is ambiguous; use role_id."
	msgRoleNotFound  = "Role not found."
	maxTicketID      = 100
)

// role is a role of system tts.
type role struct {
	ID, Name string
}

const ttsRolesQuery = "SELECT r.id AS id, r.name AS name FROM roles r JOIN systems s ON s.id = r.system " +
	"WHERE s.slug = 'tts' ORDER BY r.name, r.id"

// ttsRoles are every role of system tts, sorted by name (byte order), then id.
func ttsRoles(app core.App) ([]role, error) {
	rows, err := prepared.Rows(app, ttsRolesQuery, nil)
	if err != nil {
		return nil, err
	}
	out := make([]role, 0, len(rows))
	for _, r := range rows {
		out = append(out, role{ID: r["id"].String, Name: r["name"].String})
	}
	return out, nil
}

// roleQuery is a role named by role_id or role_name (§5.13.7); role_id wins when both are given.
type roleQuery struct {
	id, name string
}

// resolve finds the role in system tts: by id; or by name, an exact match first, otherwise a
// unique case-insensitive one. errs gets the 400s (ambiguous name); a role that does not exist
// (or a role_id of another system) is nil.
func (q roleQuery) resolve(app core.App, field string, errs apikit.FieldErrors) (*role, error) {
	roles, err := ttsRoles(app)
	if err != nil {
		return nil, err
	}
	if q.id != "" {
		for i := range roles {
			if roles[i].ID == q.id {
				return &roles[i], nil
			}
		}
		return nil, nil
	}
	var folded []*role
	for i := range roles {
		if roles[i].Name == q.name {
			return &roles[i], nil
		}
		if strings.EqualFold(roles[i].Name, q.name) {
			folded = append(folded, &roles[i])
		}
	}
	switch len(folded) {
	case 0:
		return nil, nil
	case 1:
		return folded[0], nil
	}
	errs.Add(field, msgRoleAmbiguous)
	return nil, nil
}

// agent is one holder of a role with its rotation state (§5.13.7).
type agent struct {
	permissions.Holder
	LastAssigned types.DateTime // zero: never assigned
	Count        int
	Eligible     bool
}

// rotation orders agents as §5.13.7 defines: eligible ones by last_assigned_at ascending
// (never-assigned first), then user id; then the ineligible ones by user id.
func rotation(agents []agent) {
	sort.SliceStable(agents, func(i, j int) bool {
		a, b := &agents[i], &agents[j]
		if a.Eligible != b.Eligible {
			return a.Eligible
		}
		if a.Eligible {
			if za, zb := a.LastAssigned.IsZero(), b.LastAssigned.IsZero(); za != zb {
				return za
			}
			if !a.LastAssigned.Time().Equal(b.LastAssigned.Time()) {
				return a.LastAssigned.Time().Before(b.LastAssigned.Time())
			}
		}
		return a.UserID < b.UserID
	})
}

// stateQuery reads, for every assignment of a role, what eligibility needs beyond the shared
// reader (the assignment's flag and settings.is_deployed, NULL when absent) and the role's
// rotation state of its user.
const stateQuery = "SELECT a.id AS id, a.is_active AS is_active, " +
	"CASE WHEN json_valid(a.settings) THEN json_extract(a.settings, '$.is_deployed') END AS deployed, " +
	"COALESCE(s.last_assigned_at, '') AS last_assigned_at, COALESCE(s.assigned_count, 0) AS assigned_count " +
	"FROM user_system_roles a LEFT JOIN tts_round_robin_state s ON s.role = a.role AND s.user = a.user " +
	"WHERE a.role = {:role}"

// agentsOf returns every holder of the role with its state, in rotation order: the holders
// from the shared assignments reader, and what eligibility needs beyond it (the assignment's
// flag and settings, the rotation state) from readState. A pick passes the reader of its
// transaction, so an assignment deactivated or undeployed before the transaction began is
// never eligible, and the state includes the picks made before it in the same transaction.
func agentsOf(app core.App, roleID string, readState func(query string, params dbx.Params) ([]dbx.NullStringMap, error)) ([]agent, error) {
	holders, err := permissions.RoleHolders(app, roleID)
	if err != nil {
		return nil, err
	}
	rows, err := readState(stateQuery, dbx.Params{"role": roleID})
	if err != nil {
		return nil, err
	}
	byID := make(map[string]dbx.NullStringMap, len(rows))
	for _, r := range rows {
		byID[r["id"].String] = r
	}
	out := make([]agent, 0, len(holders))
	for _, h := range holders {
		a := agent{Holder: h}
		if r, ok := byID[h.AssignmentID]; ok {
			a.LastAssigned, _ = types.ParseDateTime(r["last_assigned_at"].String)
			a.Count, _ = strconv.Atoi(r["assigned_count"].String)
			active := r["is_active"].String == "1" || r["is_active"].String == "true"
			deployed := !r["deployed"].Valid || (r["deployed"].String != "0" && r["deployed"].String != "false")
			a.Eligible = h.UserIsActive && h.IsActive && active && deployed
		}
		out = append(out, a)
	}
	rotation(out)
	return out, nil
}

// GET /api/v1/tts/round-robin/ (§5.13.7): the rotation of one role, no state change.
func (p *plugin) roundRobinStatus(e *core.RequestEvent) error {
	tts, err := ttsSystem(e.App)
	if err != nil {
		return err
	}
	if err := serviceBoundElsewhere(e, tts); err != nil {
		return err
	}
	query := apikit.Query(e)
	q := roleQuery{id: strings.TrimSpace(query.Get("role_id")), name: strings.TrimSpace(query.Get("role_name"))}
	errs := apikit.FieldErrors{}
	if q.id == "" && q.name == "" {
		return apikit.InvalidField("non_field_errors", msgRoleRequired)
	}
	r, err := q.resolve(e.App, "role_name", errs)
	if err != nil {
		return err
	}
	if err := errs.Err(); err != nil {
		return err
	}
	if r == nil {
		return apikit.NotFound(msgRoleNotFound)
	}
	agents, err := agentsOf(e.App, r.ID, func(q string, params dbx.Params) ([]dbx.NullStringMap, error) {
		return prepared.Rows(e.App, q, params)
	})
	if err != nil {
		return err
	}
	type agentJSON struct {
		UserID         string  `json:"user_id"`
		Email          string  `json:"email"`
		FullName       string  `json:"full_name"`
		LastAssignedAt *string `json:"last_assigned_at"`
		AssignedCount  int     `json:"assigned_count"`
		Eligible       bool    `json:"eligible"`
	}
	out := struct {
		Role       roleBrief   `json:"role"`
		NextUserID *string     `json:"next_user_id"`
		UserIDs    []string    `json:"user_ids"`
		Agents     []agentJSON `json:"agents"`
	}{Role: roleBrief{ID: r.ID, Name: r.Name}, UserIDs: []string{}, Agents: make([]agentJSON, 0, len(agents))}
	for _, a := range agents {
		if a.Eligible {
			out.UserIDs = append(out.UserIDs, a.UserID)
		}
		out.Agents = append(out.Agents, agentJSON{UserID: a.UserID, Email: a.Email, FullName: fullName(a.FirstName, a.LastName),
			LastAssignedAt: profiles.NullTimestamp(a.LastAssigned), AssignedCount: a.Count, Eligible: a.Eligible})
	}
	if len(out.UserIDs) > 0 {
		out.NextUserID = &out.UserIDs[0]
	}
	return apikit.WriteJSON(e, http.StatusOK, out)
}

type roleBrief struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// pickAnswer is the response of §5.15.4.
type pickAnswer struct {
	Role       roleBrief `json:"role"`
	TicketID   string    `json:"ticket_id"`
	UserID     string    `json:"user_id"`
	Email      string    `json:"email"`
	FullName   string    `json:"full_name"`
	AssignedAt string    `json:"assigned_at"`
	Created    bool      `json:"created"`
}

// errNoEligible rolls the pick's transaction back (nothing recorded).
var errNoEligible = errors.New("tts: no eligible agent")

// POST /api/v1/tts/round-robin/ (§5.15.4): pick the next agent for a ticket, once per
// (role, ticket_id).
func (p *plugin) roundRobinPick(e *core.RequestEvent) error {
	tts, err := ttsSystem(e.App)
	if err != nil {
		return err
	}
	if err := serviceBoundElsewhere(e, tts); err != nil {
		return err
	}
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return err
	}
	var q roleQuery
	q.id, _ = body.String("role_id", apikit.Str{AllowBlank: true, Nullable: true})
	q.name, _ = body.String("role_name", apikit.Str{AllowBlank: true, Nullable: true})
	ticket := readTicketID(body)
	var r *role
	if !body.Errors.Has("role_id") && !body.Errors.Has("role_name") {
		if q.id == "" && q.name == "" {
			body.Errors.Add("non_field_errors", msgRoleRequired)
		} else if r, err = q.resolve(e.App, "role_name", body.Errors); err != nil {
			return err
		}
	}
	if err := body.Err(); err != nil {
		return err
	}
	if r == nil {
		return apikit.NotFound(msgRoleNotFound)
	}

	entry := audit.FromRequest(e, "roundrobin.assigned", true)
	actor(e, &entry)
	entry.TargetType, entry.System = "user", tts.Slug
	entry.Details = map[string]any{"role_id": r.ID, "role_name": r.Name, "ticket_id": ticket}
	job := &pickJob{role: r, entry: entry, ans: pickAnswer{Role: roleBrief{ID: r.ID, Name: r.Name}, TicketID: ticket}}
	p.picks.do(e.App, job)
	if errors.Is(job.err, errNoEligible) {
		return apikit.NewError(http.StatusConflict, apikit.CodeNoEligibleAgent, "No eligible agent for role '"+r.Name+"'.")
	}
	if job.err != nil {
		return job.err
	}
	ans := job.ans
	status := http.StatusOK
	if ans.Created {
		status = http.StatusCreated
	}
	return apikit.WriteJSON(e, status, ans)
}

// readTicketID reads ticket_id: a string, or an integer converted to its decimal string;
// 1–100 characters after trimming. Any JSON integer counts, of any size (§5.15.4 sets no range,
// only the length of the string), written as Body.Int takes it (`5`, `-3`, `5.0`); other
// numbers (`1.5`, `1e3`) are "A valid integer is required.".
func readTicketID(b *apikit.Body) string {
	if raw, ok := b.Raw("ticket_id"); ok && len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		m := jsonInteger.FindSubmatch(raw)
		if m == nil {
			b.Errors.Add("ticket_id", apikit.MsgNotInt)
			return ""
		}
		digits := string(m[1]) // JSON allows no leading zeros: already the decimal string, but for -0
		if strings.Trim(digits, "-0") == "" {
			digits = "0"
		}
		if len(digits) > maxTicketID {
			b.Errors.Add("ticket_id", apikit.MsgMaxLength(maxTicketID))
			return ""
		}
		return digits
	}
	s, _ := b.String("ticket_id", apikit.Str{Required: true, Max: maxTicketID})
	return s
}

// jsonInteger is a JSON number with an integral value written without exponent, as
// apikit.Body.Int reads one, without its int64 range.
var jsonInteger = regexp.MustCompile(`^(-?\d+)(?:\.0+)?$`)

const existingPickQuery = "SELECT p.id AS id, COALESCE(u.id, '') AS user_id, COALESCE(u.email, '') AS email, " +
	"COALESCE(u.first_name, '') AS first_name, COALESCE(u.last_name, '') AS last_name, p.created AS created " +
	"FROM tts_round_robin_picks p LEFT JOIN users u ON u.id = p.user " +
	"WHERE p.role = {:role} AND p.ticket_id = {:ticket}"

const deletePickQuery = "DELETE FROM tts_round_robin_picks WHERE id = {:id}"

const upsertStateQuery = "INSERT INTO tts_round_robin_state (id, role, user, last_assigned_at, assigned_count, created, updated) " +
	"VALUES ({:id}, {:role}, {:user}, {:at}, 1, {:now}, {:now}) " +
	"ON CONFLICT (role, user) DO UPDATE SET last_assigned_at = excluded.last_assigned_at, " +
	"assigned_count = tts_round_robin_state.assigned_count + 1, updated = excluded.updated"

const insertPickQuery = "INSERT INTO tts_round_robin_picks (id, role, ticket_id, user, created, updated) " +
	"VALUES ({:id}, {:role}, {:ticket}, {:user}, {:at}, {:at})"

// pickQueries are every statement a pick transaction runs (prepared.RunTx).
var pickQueries = []string{existingPickQuery, stateQuery, deletePickQuery, upsertStateQuery, insertPickQuery, audit.InsertQuery}

// pickJob is one request's pick: its role, ticket and audit entry in; its answer or error out.
type pickJob struct {
	role  *role
	entry audit.Entry
	ans   pickAnswer
	err   error
	done  chan struct{}
}

// pick runs steps 2–4 of §5.15.4 in the transaction tx: the existing pick of (role, ticket) if
// its user still exists (created = false), else the first eligible agent, whose state, the
// pick and its audit row are written (created = true). With no eligible agent it writes
// nothing and returns errNoEligible, so the picks before it in the same transaction stand.
//
// The new last_assigned_at is now, or 1 ms after the latest one of the role when now is not
// later (picks in the same millisecond, a clock stepped back): the rotation order must follow
// the order of the picks, or an agent picked in the same millisecond as another could come
// first again.
func pick(app core.App, tx *prepared.Tx, j *pickJob) error {
	ans, r := &j.ans, j.role
	found, err := tx.Rows(existingPickQuery, dbx.Params{"role": r.ID, "ticket": ans.TicketID})
	if err != nil {
		return err
	}
	stale := ""
	if len(found) > 0 {
		prev := found[0]
		if prev["user_id"].String != "" {
			ans.UserID, ans.Email = prev["user_id"].String, prev["email"].String
			ans.FullName = fullName(prev["first_name"].String, prev["last_name"].String)
			at, _ := types.ParseDateTime(prev["created"].String)
			ans.AssignedAt, ans.Created = profiles.Timestamp(at), false
			return nil
		}
		stale = prev["id"].String // its user was deleted: the pick is made again
	}

	// The holders come from the read pool: no write can commit while tx holds the write
	// connection, so it reads the committed assignments; the state is read by tx.
	agents, err := agentsOf(app, r.ID, tx.Rows)
	if err != nil {
		return err
	}
	if len(agents) == 0 || !agents[0].Eligible {
		return errNoEligible
	}
	chosen := agents[0]
	at := time.Now().UTC().Truncate(time.Millisecond)
	for _, a := range agents {
		if last := a.LastAssigned.Time(); !a.LastAssigned.IsZero() && !at.After(last) {
			at = last.Add(time.Millisecond)
		}
	}
	atText := at.Format(types.DefaultDateLayout)
	if stale != "" {
		if _, err := tx.Exec(deletePickQuery, dbx.Params{"id": stale}); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(upsertStateQuery, dbx.Params{"id": core.GenerateDefaultRandomId(), "role": r.ID,
		"user": chosen.UserID, "at": atText, "now": types.NowDateTime().String()}); err != nil {
		return err
	}
	if _, err := tx.Exec(insertPickQuery, dbx.Params{"id": core.GenerateDefaultRandomId(), "role": r.ID,
		"ticket": ans.TicketID, "user": chosen.UserID, "at": atText}); err != nil {
		return err
	}
	entry := j.entry
	entry.TargetID = chosen.UserID
	params, err := audit.InsertParams(entry)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(audit.InsertQuery, params); err != nil {
		return err
	}
	ans.UserID, ans.Email, ans.FullName = chosen.UserID, chosen.Email, fullName(chosen.FirstName, chosen.LastName)
	ans.AssignedAt, ans.Created = profiles.FormatTime(at), true
	return nil
}

// picker runs concurrent picks in shared write transactions, in arrival order: a pick is
// queued, and one goroutine runs whatever is queued as one transaction, then the next batch,
// until the queue is empty (no pick waits for a batch to fill). PocketBase has one write
// connection, so every pick waits for it anyway; one commit for the picks that arrived
// meanwhile instead of one each. A batch whose transaction fails is retried pick by pick, so
// one pick's error is never another's.
type picker struct {
	mu      sync.Mutex
	pending []*pickJob
	active  bool
}

// maxPickBatch bounds one transaction (how long it holds the write connection).
const maxPickBatch = 64

// do runs j in the next batch and returns when it is done (j.ans, j.err).
func (b *picker) do(app core.App, j *pickJob) {
	j.done = make(chan struct{})
	b.mu.Lock()
	b.pending = append(b.pending, j)
	if !b.active {
		b.active = true
		go b.run(app)
	}
	b.mu.Unlock()
	<-j.done
}

func (b *picker) run(app core.App) {
	for {
		b.mu.Lock()
		batch := b.pending
		if len(batch) > maxPickBatch {
			batch = batch[:maxPickBatch]
		}
		b.pending = b.pending[len(batch):]
		if len(batch) == 0 {
			b.active, b.pending = false, nil
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		b.execute(app, batch)
	}
}

func (b *picker) execute(app core.App, batch []*pickJob) {
	defer func() {
		if rec := recover(); rec != nil { // never leave a request waiting
			for _, j := range batch {
				if j.err == nil {
					j.err = errors.New("tts: pick panicked")
				}
			}
			app.Logger().Error("tts: pick panicked", "panic", rec)
		}
		for _, j := range batch {
			close(j.done)
		}
	}()
	err := prepared.RunTx(app, pickQueries, func(tx *prepared.Tx) error {
		for _, j := range batch {
			j.err = pick(app, tx, j)
			if j.err != nil && !errors.Is(j.err, errNoEligible) {
				return j.err
			}
		}
		return nil
	})
	if err == nil {
		return
	}
	if len(batch) == 1 {
		batch[0].err = err
		return
	}
	for _, j := range batch {
		j.err = prepared.RunTx(app, pickQueries, func(tx *prepared.Tx) error { return pick(app, tx, j) })
	}
}
