package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"testing"
	"time"
)

// rrSetup creates, through PocketBase's superuser API, n active agents holding the tts role
// "Asset Manager" and an unbound API key with round_robin:write; it returns the agent ids
// (sorted), the role id and the key.
func rrSetup(t *testing.T, s *Server, n int) ([]string, string, string) {
	t.Helper()
	su := s.SuperuserToken(t)
	auth := []string{"Authorization", su}
	call := func(method, path string, body any) map[string]any {
		t.Helper()
		st, _, b := s.Do(t, method, path, body, auth...)
		if st != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, path, st, b)
		}
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		return out
	}
	roles := call(http.MethodGet, "/api/collections/roles/records?perPage=1&filter="+
		url.QueryEscape("system.slug='tts' && name='Asset Manager'"), nil)
	items, _ := roles["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("role Asset Manager: %v", roles)
	}
	role := items[0].(map[string]any)
	roleID, systemID := role["id"].(string), role["system"].(string)
	var agents []string
	for i := 0; i < n; i++ {
		u := call(http.MethodPost, "/api/collections/users/records", map[string]any{
			"email": fmt.Sprintf("agent%d@example.com", i), "password": "violet-harbor-42", "passwordConfirm": "violet-harbor-42",
			"is_active": true, "first_name": fmt.Sprintf("Agent%d", i), "last_name": "E2E",
		})
		id := u["id"].(string)
		call(http.MethodPost, "/api/collections/user_system_roles/records", map[string]any{"user": id, "system": systemID, "role": roleID})
		agents = append(agents, id)
	}
	sort.Strings(agents)
	key := "ak_e2errkey_" + "Q2xQ2xQ2xQ2xQ2xQ2xQ2xQ2xQ2xQ2xQ2"
	sum := sha256.Sum256([]byte(key))
	call(http.MethodPost, "/api/collections/api_keys/records", map[string]any{
		"name": "e2e round-robin", "key_prefix": "e2errkey", "key_hash": hex.EncodeToString(sum[:]),
		"scopes": []string{"round_robin:write", "round_robin:read"}, "is_active": true,
	})
	return agents, roleID, key
}

type pickReply struct {
	status int
	UserID string `json:"user_id"`
	At     string `json:"assigned_at"`
}

// picker sends picks over a pool of keep-alive connections.
type picker struct {
	url, key string
	client   *http.Client
}

func newPicker(s *Server, key string, conns int) *picker {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	return &picker{url: s.URL + "/api/v1/tts/round-robin/", key: key, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (p *picker) pick(ticket string) (pickReply, error) {
	body, _ := json.Marshal(map[string]any{"role_name": "Asset Manager", "ticket_id": ticket})
	req, err := http.NewRequest(http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return pickReply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", p.key)
	res, err := p.client.Do(req)
	if err != nil {
		return pickReply{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return pickReply{}, err
	}
	out := pickReply{status: res.StatusCode}
	if err := json.Unmarshal(raw, &out); err != nil || out.UserID == "" {
		return out, fmt.Errorf("%s: %d %s", ticket, res.StatusCode, raw)
	}
	return out, nil
}

// 32 connections pick 1,000 distinct tickets on the built binary: every answer 201, no ticket
// twice, per-agent counts within 1; one ticket picked by many at once: one 201, the same agent
// for all; the rotation continues where it was after a restart.
func TestRoundRobinOnBinary(t *testing.T) {
	dir := t.TempDir()
	s := Start(t, Options{DataDir: dir, Env: []string{"RATE_LIMITS_ENABLED=false"}})
	agents, roleID, key := rrSetup(t, s, 3)
	p := newPicker(s, key, 32)

	const tickets, conns = 1000, 32
	jobs := make(chan int)
	var mu sync.Mutex
	counts := map[string]int{}
	byTicket := map[string]string{}
	var errs []error
	var wg sync.WaitGroup
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				ticket := fmt.Sprintf("TCK-%04d", i)
				r, err := p.pick(ticket)
				mu.Lock()
				if err == nil && r.status != http.StatusCreated {
					err = fmt.Errorf("%s: status %d", ticket, r.status)
				}
				if err != nil {
					errs = append(errs, err)
				} else {
					counts[r.UserID]++
					byTicket[ticket] = r.UserID
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for i := 0; i < tickets; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	if len(errs) > 0 {
		t.Fatalf("%d failed picks, first: %v", len(errs), errs[0])
	}
	t.Logf("%d picks over %d connections in %v (%.0f/s)", tickets, conns, elapsed, tickets/elapsed.Seconds())
	if len(byTicket) != tickets {
		t.Fatalf("%d tickets answered, want %d", len(byTicket), tickets)
	}
	lo, hi := tickets, 0
	for _, a := range agents {
		lo, hi = min(lo, counts[a]), max(hi, counts[a])
	}
	if hi-lo > 1 || len(counts) != 3 {
		t.Fatalf("per-agent counts %v differ by more than 1", counts)
	}

	// the stored picks: exactly one per ticket
	su := s.SuperuserToken(t)
	st, _, body := s.Do(t, http.MethodGet, "/api/collections/tts_round_robin_picks/records?perPage=1&filter="+url.QueryEscape("role='"+roleID+"'"), nil, "Authorization", su)
	var page struct {
		TotalItems int `json:"totalItems"`
	}
	if st != http.StatusOK || json.Unmarshal(body, &page) != nil || page.TotalItems != tickets {
		t.Fatalf("stored picks: %d %s", st, body)
	}

	// one ticket, 16 requests at once, then once more
	var same []pickReply
	var sameWG sync.WaitGroup
	release := make(chan struct{})
	for i := 0; i < 16; i++ {
		sameWG.Add(1)
		go func() {
			defer sameWG.Done()
			<-release
			r, err := p.pick("TCK-SAME")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			same = append(same, r)
		}()
	}
	close(release)
	sameWG.Wait()
	again, err := p.pick("TCK-SAME")
	if err != nil || len(errs) > 0 {
		t.Fatalf("same ticket: %v %v", err, errs)
	}
	same = append(same, again)
	created := 0
	for _, r := range same {
		if r.status == http.StatusCreated {
			created++
		} else if r.status != http.StatusOK {
			t.Fatalf("same ticket: status %d", r.status)
		}
		if r.UserID != same[0].UserID || r.At != same[0].At {
			t.Fatalf("same ticket answered differently: %+v", same)
		}
	}
	if created != 1 || again.status != http.StatusOK {
		t.Fatalf("same ticket: %d created (want 1), last %d", created, again.status)
	}
	counts[same[0].UserID]++

	// restart: the rotation state is in the database; the next pick goes to the agent that
	// was picked least recently, i.e. (after 1,001 picks over 3) one of those with the fewest
	s.Stop()
	s = Start(t, Options{DataDir: dir, Env: []string{"RATE_LIMITS_ENABLED=false"}})
	p = newPicker(s, key, 1)
	fewest := tickets
	for _, a := range agents {
		fewest = min(fewest, counts[a])
	}
	next, err := p.pick("TCK-AFTER-RESTART")
	if err != nil || next.status != http.StatusCreated || counts[next.UserID] != fewest {
		t.Fatalf("after restart: %+v %v, counts %v", next, err, counts)
	}
	if r, err := p.pick("TCK-0007"); err != nil || r.status != http.StatusOK || r.UserID != byTicket["TCK-0007"] {
		t.Fatalf("a ticket of before the restart: %+v %v, want %s", r, err, byTicket["TCK-0007"])
	}
}
