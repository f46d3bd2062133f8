package directory

import (
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
	"github.com/spf13/cast"

	"gatehouse/plugins/permissions"
	"gatehouse/plugins/prepared"
	"gatehouse/plugins/profiles"
	"gatehouse/plugins/writeepoch"
)

// The page build of the user lists: the UserProfiles of a page's users in two queries (their
// rows, the columns a UserProfile shows, and all their assignments), read into plain values, not
// records, and built exactly as profiles.UserProfile builds one (scopedProfile of each record:
// the same JSON, TestPageProfilesMatchUserProfile). The ids travel as one JSON array
// (json_each), so the SQL text is the same for every page: prepared statements (plugins/prepared).

const pageUsersQuery = "SELECT u.id AS id, u.email AS email, u.username AS username, u.first_name AS first_name, " +
	"u.middle_name AS middle_name, u.last_name AS last_name, u.suffix AS suffix, u.phone_number AS phone_number, " +
	"u.company_id AS company_id, u.department AS department, u.status AS status, u.notified AS notified, " +
	"u.is_active AS is_active, u.is_staff AS is_staff, u.is_superuser AS is_superuser, u.locked_until AS locked_until, " +
	"u.profile_picture AS profile_picture, u.created AS created, u.last_login AS last_login, " +
	"u.otp_enabled AS otp_enabled, u.otp_method AS otp_method " +
	"FROM json_each({:ids}) j CROSS JOIN users u ON u.id = j.value"

// pageAssignmentsQuery reads the assignments of many users; their systems and roles come from
// permissions.Catalogue, and the order of permissions.Assignments (system slug, role name,
// assignment id) is made here.
const pageAssignmentsQuery = "SELECT a.user AS user, a.id AS id, a.system AS system, a.role AS role, " +
	"a.assigned_at AS assigned_at, COALESCE(a.last_logged_on, '') AS last_logged_on, a.is_active AS is_active " +
	"FROM json_each({:ids}) j CROSS JOIN user_system_roles a ON a.user = j.value"

// pageProfiles returns the UserProfiles of the users ids in that order (unknown ids are left
// out), with system_roles limited to systems (nil = all).
func (p *plugin) pageProfiles(ids []string, systems map[string]bool) ([]profiles.UserProfileJSON, error) {
	out := make([]profiles.UserProfileJSON, 0, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	idsJSON, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	params := dbx.Params{"ids": string(idsJSON)}
	arows, err := prepared.Rows(p.app, pageAssignmentsQuery, params)
	if err != nil {
		return nil, err
	}
	catalog, err := permissions.Catalogue(p.app, false)
	if err != nil {
		return nil, err
	}
	roles := make(map[string][]profiles.SystemRoleItem, len(ids))
	for _, r := range arows {
		sysID, roleID := r["system"].String, r["role"].String
		if systems != nil && !systems[sysID] {
			continue
		}
		sys, okSys := catalog.Systems[sysID]
		roleName, okRole := catalog.Roles[roleID]
		if !okSys || !okRole { // created after the catalog was read: read it again
			if catalog, err = permissions.Catalogue(p.app, true); err != nil {
				return nil, err
			}
			sys, okSys = catalog.Systems[sysID]
			roleName, okRole = catalog.Roles[roleID]
			if !okSys || !okRole { // deleted meanwhile: as the inner join of Assignments
				continue
			}
		}
		at, _ := types.ParseDateTime(r["assigned_at"].String)
		last, _ := types.ParseDateTime(r["last_logged_on"].String)
		active := r["is_active"].String
		user := r["user"].String
		roles[user] = append(roles[user], profiles.SystemRoleItem{
			ID: r["id"].String, SystemID: sysID, SystemName: sys.Name, SystemSlug: sys.Slug,
			RoleID: &roleID, RoleName: roleName, AssignedAt: profiles.Timestamp(at),
			LastLoggedOn: profiles.NullTimestamp(last), IsActive: active == "1" || active == "true",
		})
	}
	for _, items := range roles {
		slices.SortFunc(items, func(a, b profiles.SystemRoleItem) int {
			if c := strings.Compare(a.SystemSlug, b.SystemSlug); c != 0 {
				return c
			}
			if c := strings.Compare(a.RoleName, b.RoleName); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
	}

	col, err := p.app.FindCachedCollectionByNameOrId(colUsers)
	if err != nil {
		return nil, err
	}
	pictureField := col.Fields.GetByName("profile_picture")
	appURL := p.kit.AppURL()
	now := time.Now()
	urows, err := prepared.Rows(p.app, pageUsersQuery, params)
	if err != nil {
		return nil, err
	}
	at := make(map[string]int, len(ids)) // the page's order (json_each's, without a sort)
	for i, id := range ids {
		if _, dup := at[id]; !dup {
			at[id] = i
		}
	}
	slices.SortFunc(urows, func(a, b dbx.NullStringMap) int { return at[a["id"].String] - at[b["id"].String] })
	for _, v := range urows {
		str := func(k string) string { return v[k].String }
		boolean := func(k string) bool { return v[k].Valid && cast.ToBool(v[k].String) }
		date := func(k string) types.DateTime {
			dt, _ := types.ParseDateTime(v[k].String)
			return dt
		}
		uid := str("id")
		picture := str("profile_picture")
		if picture != "" && pictureField != nil { // the file field's own reading of the stored value
			pv, err := pictureField.PrepareValue(nil, picture)
			if err != nil {
				return nil, err
			}
			picture = cast.ToString(pv)
		}
		locked := date("locked_until")
		items := roles[uid]
		if items == nil {
			items = []profiles.SystemRoleItem{}
		}
		out = append(out, profiles.UserProfileJSON{
			ID:             uid,
			Email:          str("email"),
			Username:       str("username"),
			FirstName:      str("first_name"),
			MiddleName:     profiles.NullString(str("middle_name")),
			LastName:       str("last_name"),
			Suffix:         profiles.NullString(str("suffix")),
			PhoneNumber:    profiles.NullString(str("phone_number")),
			CompanyID:      str("company_id"),
			Department:     profiles.NullString(str("department")),
			Status:         str("status"),
			Notified:       boolean("notified"),
			IsActive:       boolean("is_active"),
			IsStaff:        boolean("is_staff"),
			IsSuperuser:    boolean("is_superuser"),
			IsLocked:       !locked.IsZero() && locked.Time().After(now),
			ProfilePicture: profiles.FileURL(appURL, col.Name, uid, picture),
			DateJoined:     profiles.Timestamp(date("created")),
			LastLogin:      profiles.NullTimestamp(date("last_login")),
			OTPEnabled:     boolean("otp_enabled"),
			OTPMethod:      profiles.NullString(str("otp_method")),
			SystemRoles:    items,
		})
	}
	return out, nil
}

// cachedCount is countRows(q) kept under the write epoch (plugins/writeepoch): the exact count
// of §4.13, read again after any write to the main tables (a user, an assignment, anything
// else) and after writeepoch.MaxAge at most, keyed by the query's SQL and parameters. Searches
// repeat their count on every page, and a frequent term's count decodes long trigram lists
// (30–45 ms for `example.org` at 100,000 users). Inside a transaction (which may see its own
// writes) the cache is not used; without the epoch's write watch nothing is stored (fail closed).
//
// A count served when it is older than the cache's refreshAfter (but still fresh) is read again
// in the background, once at a time per key, and stored if nothing was written meanwhile: a
// count in use is then renewed before MaxAge ends it, instead of one request reading it again
// while the user lists' queue waits behind it (the 5 s bound on another process's writes holds:
// the served value is never older than MaxAge).
func cachedCount(app core.App, q *dbx.SelectQuery) (int, error) {
	if app.IsTransactional() {
		return countRows(q)
	}
	built := q.Select("COUNT(*) AS n").Build()
	params := built.Params()
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString(built.SQL())
	for _, k := range names {
		fmt.Fprintf(&b, "\x00%s=%T:%q", k, params[k], fmt.Sprint(params[k]))
	}
	key := b.String()
	cache := app.Store().GetOrSet(countCacheKey, func() any { return newCountCache() }).(*countCache)
	if n, age, ok := cache.counts.GetAge(app, key); ok {
		if age >= cache.refreshAfter {
			cache.refresh(app, key, built.SQL(), params)
		}
		return n, nil
	}
	before := writeepoch.Epoch(app)
	n, err := countRows(q)
	if err != nil {
		return 0, err
	}
	cache.counts.Put(app, key, before, n)
	return n, nil
}

const countCacheKey = "gatehouse.directory.counts"

// countCache is cachedCount's cache and its background reads: at most one per key, and at
// most maxCountReads at once (beyond that a count is left to expire and is read by the next
// request, inside the lists' gate), so the reads outside the gate stay bounded.
type countCache struct {
	counts       writeepoch.SnapshotCache[int]
	refreshAfter time.Duration
	reading      sync.Map // key → struct{}: a background read of it runs
	running      atomic.Int32

	mu       sync.Mutex // guards closed and the calls to inflight.Add
	closed   bool       // the app terminates: no new background read
	inflight sync.WaitGroup
}

// close stops new background reads and waits for the running ones: they use the app's read
// pool, which PocketBase closes once OnTerminate's handlers have run.
func (c *countCache) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.inflight.Wait()
}

// closeCounts ends app's background count reads, if it has a count cache (OnTerminate).
func closeCounts(app core.App) {
	if c, ok := app.Store().Get(countCacheKey).(*countCache); ok {
		c.close()
	}
}

// maxCountReads bounds the background count reads of one cache running at once.
var maxCountReads = int32(max(1, runtime.NumCPU()/2))

func newCountCache() *countCache {
	return &countCache{refreshAfter: writeepoch.MaxAge * 3 / 5}
}

// refresh reads the count of key again in the background (unless a read of it runs).
func (c *countCache) refresh(app core.App, key, sql string, params dbx.Params) {
	if c.running.Add(1) > maxCountReads {
		c.running.Add(-1)
		return
	}
	if _, running := c.reading.LoadOrStore(key, struct{}{}); running {
		c.running.Add(-1)
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.reading.Delete(key)
		c.running.Add(-1)
		return
	}
	c.inflight.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.inflight.Done()
		defer c.running.Add(-1)
		defer c.reading.Delete(key)
		before := writeepoch.Epoch(app)
		var n int
		if err := app.DB().NewQuery(sql).Bind(params).Row(&n); err != nil {
			return // the next request past MaxAge reads it itself
		}
		c.counts.Put(app, key, before, n)
	}()
}
