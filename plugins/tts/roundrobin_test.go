package tts_test

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/testkit"
)

// rrFixture: a TTS role "Asset Manager" with three agents A, B, C (user ids in that order) and
// a service key holding round_robin:write and round_robin:read.
type rrFixture struct {
	*fixture
	role    *core.Record
	agents  []*core.Record // sorted by id
	assigns map[string]*core.Record
	key     []string
}

func newRR(t testing.TB) *rrFixture {
	f := &rrFixture{fixture: newFixture(t), assigns: map[string]*core.Record{}}
	var err error
	if f.role, err = f.app.FindFirstRecordByFilter("roles", "system = {:s} && name = 'Asset Manager'", dbx.Params{"s": f.tts.Id}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		f.addAgent(fmt.Sprintf("Agent%d", i))
	}
	f.key = f.apiKey(nil, "round_robin:write", "round_robin:read")
	return f
}

func (f *rrFixture) addAgent(first string) *core.Record {
	u := f.user(first, "Tester", false)
	f.assigns[u.Id] = f.assign(u, f.role)
	f.agents = append(f.agents, u)
	sort.Slice(f.agents, func(i, j int) bool { return f.agents[i].Id < f.agents[j].Id })
	return u
}

func (f *rrFixture) pickTicket(ticket string) testkit.Reply {
	f.t.Helper()
	return f.pick(f.key, map[string]any{"role_name": "Asset Manager", "ticket_id": ticket})
}

// Fairness (§5.13.7, §6.14): 300 picks over 3 agents give exactly 100 each, in rotation order.
func TestRoundRobinFairness(t *testing.T) {
	t.Parallel()
	f := newRR(t)
	counts := map[string]int{}
	for i := 0; i < 300; i++ {
		r := f.pickTicket(fmt.Sprintf("T%d", i))
		if r.Status != http.StatusCreated || r.JSON["created"] != true {
			t.Fatalf("pick %d: %d %s", i, r.Status, r.Body)
		}
		want := f.agents[i%3].Id
		if got := r.Str("user_id"); got != want {
			t.Fatalf("pick %d went to %s, want %s (rotation order)", i, got, want)
		}
		counts[r.Str("user_id")]++
	}
	for _, a := range f.agents {
		if counts[a.Id] != 100 {
			t.Errorf("agent %s: %d picks, want 100 (%v)", a.Id, counts[a.Id], counts)
		}
	}
	if n := f.count("tts_round_robin_picks", nil); n != 300 {
		t.Errorf("%d pick rows, want 300", n)
	}
	for _, a := range f.agents {
		var c int
		if err := f.app.DB().Select("assigned_count").From("tts_round_robin_state").
			Where(dbx.HashExp{"role": f.role.Id, "user": a.Id}).Row(&c); err != nil || c != 100 {
			t.Errorf("state of %s: assigned_count %d (%v), want 100", a.Id, c, err)
		}
	}
	if n := f.count("audit_log", dbx.HashExp{"event": "roundrobin.assigned", "system": "tts"}); n != 300 {
		t.Errorf("%d roundrobin.assigned audit rows, want 300", n)
	}
}

// The flow of §6.14: repeat → 200 same agent; an undeployed agent is skipped; a new agent is
// picked next; a deactivated assignment or user is skipped; none eligible → 409, nothing stored.
func TestRoundRobinFlow(t *testing.T) {
	t.Parallel()
	f := newRR(t)
	a, b, c := f.agents[0], f.agents[1], f.agents[2]
	for i, want := range []*core.Record{a, b, c, a} {
		if r := f.pickTicket(fmt.Sprintf("T%d", i+1)); r.Status != 201 || r.Str("user_id") != want.Id {
			t.Fatalf("T%d: %d %s, want %s", i+1, r.Status, r.Body, want.Id)
		}
	}
	// repeat T2: 200, B, created false, the first pick's time
	first := f.pick(f.key, map[string]any{"role_id": f.role.Id, "ticket_id": "T2"})
	again := f.pickTicket("T2")
	if first.Status != 200 || again.Status != 200 || again.Str("user_id") != b.Id || again.JSON["created"] != false ||
		again.Str("assigned_at") != first.Str("assigned_at") || again.Str("email") != b.Email() ||
		again.Str("full_name") != b.GetString("first_name")+" Tester" || again.Str("ticket_id") != "T2" {
		t.Fatalf("repeat: %d %s / %d %s", first.Status, first.Body, again.Status, again.Body)
	}
	if n := f.count("tts_round_robin_picks", nil); n != 4 {
		t.Fatalf("%d picks after a repeat, want 4", n)
	}

	// B undeployed (through the endpoint): skipped until re-enabled
	adminUser := f.user("Tts", "Admin", false)
	f.assign(adminUser, f.admin["tts"])
	admin := f.bearer(adminUser)
	put := func(id string, body map[string]any) {
		t.Helper()
		r := f.client.Do(http.MethodPut, "/api/v1/tts/update-assignment/"+id+"/", body, admin...)
		if r.Status != 200 {
			t.Fatalf("update-assignment: %d %s", r.Status, r.Body)
		}
	}
	put(f.assigns[b.Id].Id, map[string]any{"is_active": true, "settings": map[string]any{"is_deployed": false}})
	// order now: B (skipped), C, A → C
	if r := f.pickTicket("T5"); r.Str("user_id") != c.Id {
		t.Fatalf("T5 with B undeployed: %s, want C %s", r.Body, c.Id)
	}
	// D joins: never assigned, so next
	d := f.addAgent("AgentD")
	if r := f.pickTicket("T6"); r.Str("user_id") != d.Id {
		t.Fatalf("T6 after D joined: %s, want D %s", r.Body, d.Id)
	}
	// A's assignment deactivated, C's user deactivated: D picked last, so … only nobody? A and C
	// out, B undeployed, D the only one left
	put(f.assigns[a.Id].Id, map[string]any{"is_active": false})
	testkit.SetField(t, f.app, c, "is_active", false)
	for _, ticket := range []string{"T7", "T8"} {
		if r := f.pickTicket(ticket); r.Str("user_id") != d.Id {
			t.Fatalf("%s: %s, want D (the only eligible agent)", ticket, r.Body)
		}
	}
	// the status endpoint agrees
	st := f.client.Do(http.MethodGet, "/api/v1/tts/round-robin/?role_name=asset%20manager", nil, f.key...)
	if st.Status != 200 || st.Str("next_user_id") != d.Id || fmt.Sprint(st.JSON["user_ids"]) != "["+d.Id+"]" {
		t.Fatalf("status: %d %s", st.Status, st.Body)
	}

	// D undeployed too: nobody eligible → 409, nothing recorded
	put(f.assigns[d.Id].Id, map[string]any{"is_active": true, "settings": map[string]any{"is_deployed": false, "note": "away"}})
	picks, audits := f.count("tts_round_robin_picks", nil), f.count("audit_log", dbx.HashExp{"event": "roundrobin.assigned"})
	var stateBefore []dbx.NullStringMap
	if err := f.app.DB().NewQuery("SELECT user, last_assigned_at, assigned_count FROM tts_round_robin_state ORDER BY user").All(&stateBefore); err != nil {
		t.Fatal(err)
	}
	r := f.pickTicket("T9")
	expect(t, "none eligible", r, 409, `{"detail":"No eligible agent for role 'Asset Manager'.","code":"no_eligible_agent"}`)
	var stateAfter []dbx.NullStringMap
	if err := f.app.DB().NewQuery("SELECT user, last_assigned_at, assigned_count FROM tts_round_robin_state ORDER BY user").All(&stateAfter); err != nil {
		t.Fatal(err)
	}
	if f.count("tts_round_robin_picks", nil) != picks || f.count("audit_log", dbx.HashExp{"event": "roundrobin.assigned"}) != audits ||
		fmt.Sprint(stateBefore) != fmt.Sprint(stateAfter) {
		t.Fatalf("a refused pick recorded something")
	}
	// T2 still answers its pick (idempotency does not re-check eligibility)
	if r := f.pickTicket("T2"); r.Status != 200 || r.Str("user_id") != b.Id {
		t.Fatalf("T2 after all ineligible: %d %s", r.Status, r.Body)
	}
	// a pick whose user was deleted is made again
	if err := f.app.Delete(testkit.Reload(t, f.app, b)); err != nil {
		t.Fatal(err)
	}
	put(f.assigns[d.Id].Id, map[string]any{"is_active": true, "settings": map[string]any{"is_deployed": true}})
	if r := f.pickTicket("T2"); r.Status != 201 || r.Str("user_id") != d.Id {
		t.Fatalf("T2 after its agent was deleted: %d %s", r.Status, r.Body)
	}
}

// Concurrent picks: distinct tickets spread evenly with no ticket twice; one ticket picked by
// many requests at once gives one 201, the rest 200 with the same agent, and one row.
func TestRoundRobinConcurrent(t *testing.T) {
	t.Parallel()
	f := newRR(t)
	testkit.KeepErrorLogs(f.app) // a failure prints the cause of any 500 (it showed "database is locked" before c577d3b)
	var mu sync.Mutex
	counts := map[string]int{}
	var seq int
	testkit.Concurrently(t, 60, func() (bool, error) {
		mu.Lock()
		seq++
		ticket := fmt.Sprintf("C%d", seq)
		mu.Unlock()
		r := f.pickTicket(ticket)
		if r.Status != 201 {
			return false, fmt.Errorf("%s: %d %s", ticket, r.Status, r.Body)
		}
		mu.Lock()
		counts[r.Str("user_id")]++
		mu.Unlock()
		return true, nil
	})
	for _, a := range f.agents {
		if counts[a.Id] != 20 {
			t.Errorf("60 concurrent picks over 3 agents: %v, want 20 each", counts)
			break
		}
	}
	var users []string
	var created int
	wins := testkit.Concurrently(t, 16, func() (bool, error) {
		r := f.pickTicket("SAME")
		if r.Status != 201 && r.Status != 200 {
			return false, fmt.Errorf("%d %s", r.Status, r.Body)
		}
		mu.Lock()
		users = append(users, r.Str("user_id"))
		if r.Status == 201 {
			created++
		}
		mu.Unlock()
		return true, nil
	})
	if wins != 16 || created != 1 || f.count("tts_round_robin_picks", dbx.HashExp{"ticket_id": "SAME"}) != 1 {
		t.Fatalf("same ticket at once: %d answers, %d created, rows %d", wins, created, f.count("tts_round_robin_picks", dbx.HashExp{"ticket_id": "SAME"}))
	}
	for _, u := range users {
		if u != users[0] {
			t.Fatalf("same ticket went to several agents: %v", users)
		}
	}

	// one burst mixing new tickets, repeats and picks of a role nobody holds (409): each pick
	// gets its own answer whatever else shares its transaction
	var n int
	before := f.count("tts_round_robin_picks", nil)
	testkit.Concurrently(t, 48, func() (bool, error) {
		mu.Lock()
		n++
		i := n
		mu.Unlock()
		switch i % 3 {
		case 0:
			r := f.pick(f.key, map[string]any{"role_name": "Budget Manager", "ticket_id": fmt.Sprint("M", i)})
			if r.Status != 409 || r.Str("code") != "no_eligible_agent" {
				return false, fmt.Errorf("no holder: %d %s", r.Status, r.Body)
			}
		case 1:
			if r := f.pickTicket("SAME"); r.Status != 200 || r.Str("user_id") != users[0] {
				return false, fmt.Errorf("repeat: %d %s", r.Status, r.Body)
			}
		default:
			if r := f.pickTicket(fmt.Sprint("M", i)); r.Status != 201 {
				return false, fmt.Errorf("new: %d %s", r.Status, r.Body)
			}
		}
		return true, nil
	})
	if got := f.count("tts_round_robin_picks", nil) - before; got != 16 {
		t.Fatalf("mixed burst stored %d picks, want 16", got)
	}
}

// Who may pick (§5.15.4, §8.7 statement 92) and who may read the rotation (§8.7 statement 62).
func TestRoundRobinAccess(t *testing.T) {
	t.Parallel()
	f := newRR(t)
	agent := f.agents[0] // holds a tts role other than Admin
	hdtsAdmin := f.user("Hdts", "Admin", false)
	f.assign(hdtsAdmin, f.admin["hdts"])
	ttsAdmin := f.user("Tts", "Admin", false)
	f.assign(ttsAdmin, f.admin["tts"])
	super := f.user("Super", "User", true)
	plain := f.user("Plain", "Staff", false)

	const denied = `{"detail":"You do not have permission to perform this action.","code":"permission_denied"}`
	body := func(ticket string) map[string]any {
		return map[string]any{"role_name": "Asset Manager", "ticket_id": ticket}
	}
	refused := []struct {
		label   string
		headers []string
		status  int
		body    string
	}{
		{"anonymous", nil, 401, `{"detail":"Authentication credentials were not provided.","code":"not_authenticated"}`},
		{"bad key", []string{"X-API-Key", "ak_zzzzzzzz_" + "Zq7Zq7Zq7Zq7Zq7Zq7Zq7Zq7Zq7Zq7ab"}, 401, `{"detail":"Invalid API key.","code":"token_not_valid"}`},
		{"tts agent", f.bearer(agent), 403, denied},
		{"hdts admin", f.bearer(hdtsAdmin), 403, denied},
		{"plain staff", f.bearer(plain), 403, denied},
		{"key without the scope", f.apiKey(nil, "round_robin:read", "users:read"), 403, denied},
		{"key bound to hdts", f.apiKey(f.hdts, "round_robin:write"), 403, denied},
	}
	for _, c := range refused {
		expect(t, "pick by "+c.label, f.pick(c.headers, body("X-"+c.label)), c.status, c.body)
	}
	if n := f.count("tts_round_robin_picks", nil); n != 0 {
		t.Fatalf("refused picks recorded %d rows", n)
	}
	allowed := []struct {
		label   string
		headers []string
	}{
		{"tts admin", f.bearer(ttsAdmin)},
		{"superuser", f.bearer(super)},
		{"unbound key", f.key},
		{"key bound to tts", f.apiKey(f.tts, "round_robin:write")},
	}
	for _, c := range allowed {
		if r := f.pick(c.headers, body("OK-"+c.label)); r.Status != 201 {
			t.Errorf("pick by %s: %d %s", c.label, r.Status, r.Body)
		}
	}
	if n := f.count("tts_round_robin_picks", nil); n != len(allowed) {
		t.Fatalf("%d picks, want %d", n, len(allowed))
	}
	// the audit row names the actor
	if n := f.count("audit_log", dbx.HashExp{"event": "roundrobin.assigned", "actor_type": "service"}); n != 2 {
		t.Errorf("%d service picks audited, want 2", n)
	}

	// GET: MEMBER(tts) or a key with round_robin:read (unbound or bound to tts)
	status := "/api/v1/tts/round-robin/?role_id=" + f.role.Id
	for label, h := range map[string][]string{"agent": f.bearer(agent), "read key": f.apiKey(nil, "round_robin:read"),
		"tts-bound key": f.apiKey(f.tts, "round_robin:read"), "superuser": f.bearer(super)} {
		if r := f.client.Do(http.MethodGet, status, nil, h...); r.Status != 200 {
			t.Errorf("status by %s: %d %s", label, r.Status, r.Body)
		}
	}
	expect(t, "status anonymous", f.client.Do(http.MethodGet, status, nil), 401, "")
	expect(t, "status, key lacking round_robin:read", f.client.Do(http.MethodGet, status, nil, f.apiKey(nil, "round_robin:write")...), 403, denied)
	expect(t, "status, key bound to hdts", f.client.Do(http.MethodGet, status, nil, f.apiKey(f.hdts, "round_robin:read")...), 403, denied)
	expect(t, "status, hdts admin", f.client.Do(http.MethodGet, status, nil, f.bearer(hdtsAdmin)...), 403, denied)
}

// The status document of §5.13.7 and the role and ticket rules shared with the pick.
func TestRoundRobinStatusAndValidation(t *testing.T) {
	t.Parallel()
	f := newRR(t)
	a, b, c := f.agents[0], f.agents[1], f.agents[2]
	f.pickTicket("T1") // → A
	testkit.SetField(t, f.app, f.assigns[c.Id], "is_active", false)

	r := f.client.Do(http.MethodGet, "/api/v1/tts/round-robin/?role_name=ASSET%20MANAGER", nil, f.key...)
	if r.Status != 200 {
		t.Fatalf("status: %d %s", r.Status, r.Body)
	}
	agents, _ := r.JSON["agents"].([]any)
	order := []string{}
	for _, x := range agents {
		m := x.(map[string]any)
		order = append(order, fmt.Sprint(m["user_id"], ":", m["eligible"], ":", m["assigned_count"], ":", m["last_assigned_at"] != nil))
	}
	want := []string{b.Id + ":true:0:false", a.Id + ":true:1:true", c.Id + ":false:0:false"}
	if fmt.Sprint(order) != fmt.Sprint(want) || r.Str("next_user_id") != b.Id ||
		fmt.Sprint(r.JSON["role"]) != fmt.Sprint(map[string]any{"id": f.role.Id, "name": "Asset Manager"}) ||
		agents[0].(map[string]any)["full_name"] != b.GetString("first_name")+" Tester" || agents[0].(map[string]any)["email"] != b.Email() {
		t.Fatalf("status document: %s\n\twant order %v", r.Body, want)
	}

	// two roles differing only in case: the exact name wins, another case is ambiguous
	f.fixture.role(f.tts, "asset manager")
	const ambiguous = `{"detail":"Invalid input.","code":"invalid","errors":{"role_name":["Role name is ambiguous; use role_id."]}}`
	expect(t, "ambiguous GET", f.client.Do(http.MethodGet, "/api/v1/tts/round-robin/?role_name=ASSET%20MANAGER", nil, f.key...), 400, ambiguous)
	expect(t, "ambiguous POST", f.pick(f.key, map[string]any{"role_name": "Asset MANAGER", "ticket_id": "X"}), 400, ambiguous)
	if r := f.client.Do(http.MethodGet, "/api/v1/tts/round-robin/?role_name=Asset%20Manager", nil, f.key...); r.Status != 200 {
		t.Fatalf("exact name among case variants: %d %s", r.Status, r.Body)
	}
	const neither = `{"detail":"Invalid input.","code":"invalid","errors":{"non_field_errors":["Either role_id or role_name parameter is required."]}}`
	expect(t, "GET neither", f.client.Do(http.MethodGet, "/api/v1/tts/round-robin/", nil, f.key...), 400, neither)
	expect(t, "POST neither", f.pick(f.key, map[string]any{"ticket_id": "X"}), 400, neither)
	const notFound = `{"detail":"Role not found.","code":"not_found"}`
	expect(t, "unknown name", f.pick(f.key, map[string]any{"role_name": "Nope", "ticket_id": "X"}), 404, notFound)
	expect(t, "role of hdts", f.pick(f.key, map[string]any{"role_id": f.admin["hdts"].Id, "ticket_id": "X"}), 404, notFound)
	expect(t, "GET role of hdts", f.client.Do(http.MethodGet, "/api/v1/tts/round-robin/?role_id="+f.admin["hdts"].Id, nil, f.key...), 404, notFound)
	// role_id wins over role_name
	if r := f.pick(f.key, map[string]any{"role_id": f.role.Id, "role_name": "Nope", "ticket_id": 42}); r.Status != 201 || r.Str("ticket_id") != "42" {
		t.Fatalf("role_id + integer ticket: %d %s", r.Status, r.Body)
	}
	long := make([]byte, 101)
	for i := range long {
		long[i] = 'x'
	}
	for label, c := range map[string]struct {
		body map[string]any
		want string
	}{
		"missing ticket": {map[string]any{"role_id": f.role.Id}, `{"ticket_id":["This field is required."]}`},
		"blank ticket":   {map[string]any{"role_id": f.role.Id, "ticket_id": "  "}, `{"ticket_id":["This field may not be blank."]}`},
		"long ticket":    {map[string]any{"role_id": f.role.Id, "ticket_id": string(long)}, `{"ticket_id":["Ensure this field has no more than 100 characters."]}`},
		"bool ticket":    {map[string]any{"role_id": f.role.Id, "ticket_id": true}, `{"ticket_id":["Not a valid string."]}`},
		"float ticket":   {map[string]any{"role_id": f.role.Id, "ticket_id": 1.5}, `{"ticket_id":["A valid integer is required."]}`},
		"numeric role":   {map[string]any{"role_id": 7, "ticket_id": "X"}, `{"role_id":["Not a valid string."]}`},
	} {
		expect(t, label, f.pick(f.key, c.body), 400, `{"detail":"Invalid input.","code":"invalid","errors":`+c.want+`}`)
	}
	if n := f.count("tts_round_robin_picks", nil); n != 2 {
		t.Fatalf("%d picks after the refused requests, want 2", n)
	}

	// §5.15.4: any JSON integer becomes its decimal string, beyond int64 too (it was "A valid
	// integer is required."); the 100-character rule applies to that string; the same ticket as
	// a string is the same pick. Exponents and fractions stay refused.
	big := "123456789012345678901234567890"
	r = f.pick(f.key, `{"role_id":"`+f.role.Id+`","ticket_id":`+big+`}`)
	if r.Status != 201 || r.Str("ticket_id") != big || f.count("tts_round_robin_picks", dbx.HashExp{"ticket_id": big}) != 1 {
		t.Fatalf("integer beyond int64: %d %s", r.Status, r.Body)
	}
	if again := f.pick(f.key, map[string]any{"role_id": f.role.Id, "ticket_id": big}); again.Status != 200 || again.Str("user_id") != r.Str("user_id") {
		t.Fatalf("the same ticket as a string: %d %s", again.Status, again.Body)
	}
	digits100 := strings.Repeat("9", 100)
	if r := f.pick(f.key, `{"role_id":"`+f.role.Id+`","ticket_id":-`+digits100[1:]+`.00}`); r.Status != 201 || r.Str("ticket_id") != "-"+digits100[1:] {
		t.Fatalf("negative 100-character integer: %d %s", r.Status, r.Body)
	}
	for label, c := range map[string]struct{ ticket, want string }{
		"101 digits": {"1" + digits100, `{"ticket_id":["Ensure this field has no more than 100 characters."]}`},
		"exponent":   {"1e3", `{"ticket_id":["A valid integer is required."]}`},
		"fraction":   {big + ".5", `{"ticket_id":["A valid integer is required."]}`},
	} {
		expect(t, label, f.pick(f.key, `{"role_id":"`+f.role.Id+`","ticket_id":`+c.ticket+`}`), 400,
			`{"detail":"Invalid input.","code":"invalid","errors":`+c.want+`}`)
	}
	if n := f.count("tts_round_robin_picks", nil); n != 4 {
		t.Fatalf("%d picks, want 4", n)
	}
}
