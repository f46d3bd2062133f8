package directory

import (
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/accountfields"
	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/passwords"
	"gatehouse/plugins/permissions"
	"gatehouse/plugins/profiles"
)

// Messages of §5.3.
const (
	msgUserNotFoundOrDenied = "User not found or access denied"
	msgOnlySuperusersDelUsr = "Only superusers can delete users"
	msgNoDeleteSuperusers   = "Cannot delete other superusers"
	msgEmailTaken           = "A user with this email already exists."
	msgUsernameTaken        = "This username is already taken. Please choose a different one."
	msgPhoneTaken           = "A user with this phone number already exists."
)

// userOrdering: emails are stored lower-cased (§1.9), so their NOCASE order is their byte
// order, and the unique NOCASE email index serves it.
var userOrdering = map[string]string{
	"email": "[[users.email]] COLLATE NOCASE", "username": "[[users.username]]", "first_name": "[[users.first_name]]",
	"last_name": "[[users.last_name]]", "company_id": "[[users.company_id]]",
	"date_joined": "[[users.created]]", "last_login": "[[users.last_login]]",
}

var userSearchColumns = []string{"[[users.email]]", "[[users.username]]", "[[users.first_name]]",
	"[[users.last_name]]", "[[users.company_id]]", "[[users.phone_number]]"}

// matchedUsers selects from the trigram index of pb_migrations/1764115600_users_search.go
// (`_users_search` s, the rows whose lower-cased columns contain the phrase of matchExp) joined
// through `_users_search_ids` m to their users rows, in that order (CROSS JOIN fixes SQLite's
// join order: the matches drive).
func matchedUsers(db dbx.Builder, cols ...string) *dbx.SelectQuery {
	return db.Select(cols...).From("_users_search s").
		Join("CROSS JOIN", "_users_search_ids m", dbx.NewExp("m.n = s.rowid")).
		Join("CROSS JOIN", colUsers, dbx.NewExp("[[users.id]] = m.id"))
}

// matchExp is the trigram-index condition of a phrase (trigramPhrase), on `_users_search`.
func matchExp(phrase string) dbx.Expression {
	return dbx.NewExp("_users_search MATCH {:phrase}", dbx.Params{"phrase": phrase})
}

// matchSetExp is "the user is among the phrase's matches" for the walk of an order index: the
// "+" keeps SQLite off the id index, so it walks the order index and tests each id against the
// set of matches (built once, a Bloom filter in front).
func matchSetExp(phrase string) dbx.Expression {
	return dbx.NewExp("+[[users.id]] IN (SELECT m.id FROM _users_search s CROSS JOIN _users_search_ids m "+
		"ON m.n = s.rowid WHERE _users_search MATCH {:phrase})", dbx.Params{"phrase": phrase})
}

// trigramPhrase is a search term as an FTS5 phrase for the trigram index: ASCII letters
// lower-cased (the index holds SQLite's lower() of each column, which folds ASCII only, as LIKE
// does), quotes doubled. False when the index cannot answer the term: under 3 characters (no
// trigram), invalid UTF-8 or a NUL (which FTS5 would cut short).
func trigramPhrase(term string) (string, bool) {
	if utf8.RuneCountInString(term) < 3 || !utf8.ValidString(term) || strings.ContainsRune(term, 0) {
		return "", false
	}
	return `"` + strings.ReplaceAll(foldASCII(term), `"`, `""`) + `"`, true
}

// foldASCII lower-cases ASCII letters only, as SQLite's lower() and LIKE do.
func foldASCII(term string) string {
	b := []byte(term)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// hayDelimiter joins the six searched columns in the id map's `hay`
// (pb_migrations/1764115800_users_search_order.go: char(31)); a term holding it could match
// across two columns there, so such a term never reads the map's hay.
const hayDelimiter = '\x1f'

// mapOrdered: the page can come from the id map's date indexes, (created [DESC], id, hay): the
// ordering is date_joined alone, either direction, and the term can be tested in `hay`.
func mapOrdered(pq apikit.PageQuery) bool {
	return len(pq.Ordering) == 1 && pq.Ordering[0].Field == "date_joined" && !strings.ContainsRune(pq.Search, hayDelimiter)
}

// mapOrder is the ORDER BY of the map's plans: the map's created (a copy of users.created) in
// the page's direction, then id.
func mapOrder(pq apikit.PageQuery) []string {
	if pq.Ordering[0].Desc {
		return []string{"m.created DESC", "m.id ASC"}
	}
	return []string{"m.created ASC", "m.id ASC"}
}

// mapWalk walks the id map's date index in the page's order and keeps the entries whose hay
// holds the term (`instr` on the index entry: no row is read); a filtered list then reads each
// kept entry's users row for its other conditions.
func mapWalk(db dbx.Builder, pq apikit.PageQuery, where dbx.Expression, filtered bool) *dbx.SelectQuery {
	cond := dbx.Expression(dbx.NewExp("instr(m.hay, {:needle}) > 0", dbx.Params{"needle": foldASCII(pq.Search)}))
	q := db.Select("m.id").From("_users_search_ids m")
	if filtered {
		q = q.Join("CROSS JOIN", colUsers, dbx.NewExp("[[users.id]] = m.id"))
		cond = dbx.And(cond, where)
	}
	return q.Where(cond).OrderBy(mapOrder(pq)...)
}

// mapSort reads the trigram index's matches with their map rows and sorts them by the map's
// created (no users row).
func mapSort(db dbx.Builder, pq apikit.PageQuery, phrase string) *dbx.SelectQuery {
	return db.Select("m.id").From("_users_search s").
		Join("CROSS JOIN", "_users_search_ids m", dbx.NewExp("m.n = s.rowid")).
		Where(matchExp(phrase)).OrderBy(mapOrder(pq)...)
}

// rowidSlotBits: a rowid of the trigram index is (created in ms) << rowidSlotBits plus a slot
// within that millisecond (pb_migrations/1764115900_users_search_rowid_order.go), while
// `_users_search_state.unordered` is 0.
const rowidSlotBits = 20

// rowidOrderSQL: the trigram index's matches of {:phrase} with their map rows, in rowid order.
func rowidOrderSQL(desc bool) string {
	if desc {
		return rowidOrderQuery + "DESC"
	}
	return rowidOrderQuery + "ASC"
}

const rowidOrderQuery = "SELECT s.rowid, m.id, m.created FROM _users_search s CROSS JOIN _users_search_ids m ON m.n = s.rowid " +
	"WHERE _users_search MATCH {:phrase} ORDER BY s.rowid "

// rowidOrderPage reads the trigram index's matches in rowid order, which is then the order of
// `created` up to the millisecond (newest first for -date_joined), until it holds offset + size
// of them and the whole millisecond of the last one; sorted by (created, id) as the lists order
// them, the page is the slice [offset, offset + size) of those. FTS5 steps each trigram's list
// only that far.
func rowidOrderPage(db dbx.Builder, pq apikit.PageQuery, phrase string) ([]string, error) {
	desc := pq.Ordering[0].Desc
	rows, err := db.NewQuery(rowidOrderSQL(desc)).Bind(dbx.Params{"phrase": phrase}).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type match struct {
		n           int64
		id, created string
	}
	end := pq.Offset() + pq.Size
	var found []match
	for rows.Next() {
		var m match
		if err := rows.Scan(&m.n, &m.id, &m.created); err != nil {
			return nil, err
		}
		if len(found) >= end && m.n>>rowidSlotBits != found[len(found)-1].n>>rowidSlotBits {
			break
		}
		found = append(found, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(found, func(a, b match) int {
		c := strings.Compare(a.created, b.created)
		if desc {
			c = -c
		}
		if c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	if pq.Offset() >= len(found) {
		return nil, nil
	}
	found = found[pq.Offset():min(len(found), end)]
	page := make([]string, len(found))
	for i, m := range found {
		page[i] = m.id
	}
	return page, nil
}

// hasAssignmentIn is "the user holds an assignment (any state) in one of these systems".
func hasAssignmentIn(systemIDs []any) dbx.Expression {
	return dbx.NewExp("EXISTS (SELECT 1 FROM user_system_roles a WHERE a.user = [[users.id]] AND "+
		inList("a.system", systemIDs)+")", inParams(systemIDs))
}

// inList builds "col IN ({:in0}, …)" (never an empty IN: no ids matches nothing).
func inList(col string, ids []any) string {
	if len(ids) == 0 {
		return "0"
	}
	parts := make([]string, len(ids))
	for i := range ids {
		parts[i] = "{:in" + itoa(i) + "}"
	}
	return col + " IN (" + strings.Join(parts, ", ") + ")"
}

func inParams(ids []any) dbx.Params {
	p := dbx.Params{}
	for i, id := range ids {
		p["in"+itoa(i)] = id
	}
	return p
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for i > 0 {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
	}
	return string(b)
}

// userListFilter resolves the query of §5.3.3 shared by the user lists: the admin scope, the
// optional system (403/404 as the contract says) and the page parameters. systems is the set of
// systems whose assignments the answer's system_roles show (nil = all).
type userListFilter struct {
	pq       apikit.PageQuery
	where    dbx.Expression  // every condition but the search
	filtered bool            // where is more than true
	systems  map[string]bool // nil: every system (superuser without ?system=)
	// forcePlan (tests): 1 + a search plan overrides searchPlan's choice; 0 lets it choose.
	forcePlan int
}

func (p *plugin) userFilter(e *core.RequestEvent, agents bool) (*userListFilter, error) {
	q := e.Request.URL.Query()
	errs := apikit.FieldErrors{}
	var status string
	var hasStatus, isActive, hasActive bool
	if !agents {
		status, hasStatus = apikit.QueryChoice(q, "status", statusChoices, errs)
		isActive, hasActive = apikit.QueryBool(q, "is_active", errs)
	}
	pq, perr := apikit.ParsePageQuery(q, keys(userOrdering))
	_, ids, all, err := adminScope(e)
	if err != nil {
		return nil, err
	}
	f := &userListFilter{pq: pq}
	if !all {
		f.systems = ids
	}
	if slug := q.Get("system"); slug != "" {
		sys, err := findSystemBySlug(p.app, slug)
		if err != nil {
			return nil, err
		}
		switch {
		case all && sys == nil:
			return nil, apikit.NotFound(msgSystemNotFound)
		case sys == nil || !(all || ids[sys.Id]):
			return nil, apikit.PermissionDenied(msgAccessDeniedSystem)
		}
		f.systems = map[string]bool{sys.Id: true}
	}
	mergeErr(errs, perr)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	where := dbx.And()
	if agents {
		where = dbx.And(where, dbx.HashExp{"users.is_active": true})
		cond := "EXISTS (SELECT 1 FROM user_system_roles a JOIN roles r ON r.id = a.role WHERE a.user = [[users.id]] AND a.is_active = 1"
		params := dbx.Params{}
		if f.systems != nil {
			list := idList(f.systems)
			cond += " AND " + inList("a.system", list)
			params = inParams(list)
		}
		if role := q.Get("role"); role != "" {
			cond += " AND r.name = {:role}"
			params["role"] = role
		}
		where = dbx.And(where, dbx.NewExp(cond+")", params))
	} else if f.systems != nil {
		where = dbx.And(where, hasAssignmentIn(idList(f.systems)))
	}
	if hasStatus {
		where = dbx.And(where, dbx.HashExp{"users.status": status})
	}
	if hasActive {
		where = dbx.And(where, dbx.HashExp{"users.is_active": isActive})
	}
	f.where, f.filtered = where, agents || f.systems != nil || hasStatus || hasActive
	return f, nil
}

// listUsers serves GET /api/v1/users/, /api/v1/users/list/ and /api/v1/users/management/
// (§5.3.3, §5.4.2, §5.4.3).
func (p *plugin) listUsers(e *core.RequestEvent) error { return p.usersPage(e, false) }

// listAgents serves GET /api/v1/users/agents/ (§5.4.1).
func (p *plugin) listAgents(e *core.RequestEvent) error { return p.usersPage(e, true) }

func (p *plugin) usersPage(e *core.RequestEvent, agents bool) error {
	f, err := p.userFilter(e, agents)
	if err != nil {
		return err
	}
	p.lists <- struct{}{} // see listConcurrency
	page, count, err := p.userPage(f)
	var out []profiles.UserProfileJSON
	if err == nil {
		out, err = p.pageProfiles(page, f.systems)
	}
	<-p.lists
	if err != nil {
		return err
	}
	return p.writeUsersPage(e, f.pq, count, out)
}

// userPage counts the users of a list and returns the ids of its page, in order (read in the
// order index when there is no search: `(column [DESC], id)` covers them, so a deep page skips
// index entries, not rows); pageProfiles then reads their rows.
//
// A search with a trigram (trigramPhrase) is counted in the trigram index: the index alone when
// nothing else filters (no row is read), its matches joined to `users` otherwise. The page then
// comes from the cheapest plan of searchPlan, by the share of users that match: many matches
// walk an order index (the id map's date index for a date_joined ordering) and stop when the
// page is full; few matches are read and sorted.
func (p *plugin) userPage(f *userListFilter) ([]string, int, error) {
	order := orderBy(f.pq, userOrdering, []apikit.OrderField{{Field: "email"}}, "[[users.id]]")
	db := p.app.DB()
	where, search := f.where, f.pq.Search
	phrase, indexed := trigramPhrase(search)
	var count int
	var ids *dbx.SelectQuery
	rowid := false // the page comes from rowidOrderPage, not ids
	switch {
	case search == "" || !indexed:
		if search != "" {
			where = dbx.And(where, searchExp(search, userSearchColumns...))
		}
		n, err := cachedCount(p.app, db.Select().From(colUsers).Where(where))
		if err != nil {
			return nil, 0, err
		}
		count, ids = n, db.Select("[[users.id]]").From(colUsers).Where(where).OrderBy(order...)
	default:
		match := matchExp(phrase)
		c := searchCounts{}
		var err error
		if c.all, err = cachedCount(p.app, db.Select().From("_users_search").Where(match)); err != nil {
			return nil, 0, err
		}
		c.n = c.all
		if f.filtered {
			if c.n, err = cachedCount(p.app, matchedUsers(db).Where(dbx.And(match, where))); err != nil {
				return nil, 0, err
			}
		}
		if c.total, err = cachedCount(p.app, db.Select().From(colUsers)); err != nil {
			return nil, 0, err
		}
		unordered, err := cachedCount(p.app, db.Select().From("_users_search_state").Where(dbx.NewExp("unordered > 0")))
		if err != nil {
			return nil, 0, err
		}
		c.ordered = unordered == 0
		count = c.n
		plan := searchPlan(c, f.pq, f.filtered)
		if f.forcePlan > 0 {
			plan = f.forcePlan - 1
		}
		switch plan {
		case planRowidOrder:
			rowid = true // read by rowidOrderPage, below
		case planWalkLike:
			ids = db.Select("[[users.id]]").From(colUsers).Where(dbx.And(where, searchExp(search, userSearchColumns...))).OrderBy(order...)
		case planWalkSet:
			ids = db.Select("[[users.id]]").From(colUsers).Where(dbx.And(where, matchSetExp(phrase))).OrderBy(order...)
		case planWalkMap:
			ids = mapWalk(db, f.pq, where, f.filtered)
		case planSortMap:
			ids = mapSort(db, f.pq, phrase)
		default:
			ids = matchedUsers(db, "[[users.id]]").Where(dbx.And(match, where)).OrderBy(order...)
		}
	}
	if err := apikit.CheckPageInRange(f.pq, count); err != nil || count == 0 {
		return nil, 0, err
	}
	var page []string
	var err error
	if rowid {
		page, err = rowidOrderPage(db, f.pq, phrase)
	} else {
		err = ids.Limit(int64(f.pq.Size)).Offset(int64(f.pq.Offset())).Column(&page)
	}
	if err != nil {
		return nil, 0, err
	}
	return page, count, nil
}

// The plans of a search page (userPage), chosen by searchPlan.
const (
	planSortMatches = iota // read every match's row through the index, sort them
	planWalkLike           // walk the order index, test each row with LIKE
	planWalkSet            // walk the order index, test each id against the set of matches
	planWalkMap            // walk the id map's date index, test each entry's hay (date_joined only)
	planSortMap            // read every match's map row, sort them (date_joined only, no filter)
	planRowidOrder         // read the matches in rowid order, which is date order (date_joined only, no filter)
)

// Relative costs, measured at 100,000 users (bench/scale.sh; one unit is about 0.7 µs of
// SQLite). Per row: reading a match's user through the index and sorting it; reading a row and
// testing LIKE on six columns; adding a match to the id set; stepping a covering order index (a
// non-covering one reads the row too); stepping the id map's date index and testing the hay
// (0.35 µs); reading a match's map row and sorting it. Per trigram of the term: the trigram
// index's work to match the phrase, which decodes each trigram's whole list of rows (a common
// trigram's list is long: "bautista" took 4–6 ms for its 748 matches, more than walking 6,700
// map entries). Reading the matches in rowid order costs a start per trigram (its list's first
// leaf) and the share of its list read until the page is full: "bautista" 1.4 ms for its first
// page, "son" 0.3 ms.
const (
	costSortMatch  = 8.0
	costLikeRow    = 7.0
	costSetMatch   = 2.0
	costIndexStep  = 0.2
	costIndexRowed = 3.0
	costMapStep    = 0.5
	costMapMatch   = 3.0
	costTrigram    = 1000.0
	costRowidStart = 250.0
)

// searchCounts are the counts a search plan is chosen by: the users the list shows (n), the
// trigram index's matches before any other filter (all) and every user (total); ordered: the
// index's rowids are in date order (no row counted in `_users_search_state.unordered`).
type searchCounts struct {
	n, all, total int
	ordered       bool
}

// searchPlans lists the plans that can answer a search page: the id map's plans need a
// date_joined ordering (mapOrdered); sorting the map's matches and reading them in rowid order
// apply no other filter, and the rowid order needs the index's rowids in date order.
func searchPlans(pq apikit.PageQuery, filtered, ordered bool) []int {
	plans := []int{planSortMatches, planWalkLike, planWalkSet}
	if mapOrdered(pq) {
		plans = append(plans, planWalkMap)
		if !filtered {
			plans = append(plans, planSortMap)
			if ordered {
				plans = append(plans, planRowidOrder)
			}
		}
	}
	return plans
}

// searchPlan picks the cheapest plan for a search page: the walk of an order index reads about
// (offset + size) × total / n entries to fill the page; a filtered walk of the id map also
// reads the users row of each entry whose hay matches (all / total of them); the other plans
// match the phrase in the trigram index first.
func searchPlan(c searchCounts, pq apikit.PageQuery, filtered bool) int {
	if c.n <= 0 {
		return planSortMatches
	}
	walk := min((float64(pq.Offset())+float64(pq.Size))*float64(c.total)/float64(c.n), float64(c.total))
	step := costIndexRowed
	if coveringOrder(pq) {
		step = costIndexStep
	}
	n := float64(c.n)
	match := float64(max(utf8.RuneCountInString(pq.Search)-2, 1)) * costTrigram // the plans that read the trigram index
	cost := func(plan int) float64 {
		switch plan {
		case planWalkLike:
			return walk * costLikeRow
		case planWalkSet:
			return match + n*costSetMatch + walk*step
		case planWalkMap:
			if filtered {
				return walk * (costMapStep + costSortMatch*float64(c.all)/float64(max(c.total, 1)))
			}
			return walk * costMapStep
		case planSortMap:
			return match + n*costMapMatch
		case planRowidOrder:
			k := float64(pq.Offset()) + float64(pq.Size)
			return match/costTrigram*(costRowidStart+costTrigram*min(1, k/n)) + k*costMapMatch
		}
		return match + n*costSortMatch
	}
	best := planSortMatches
	for _, plan := range searchPlans(pq, filtered, c.ordered) {
		if cost(plan) < cost(best) {
			best = plan
		}
	}
	return best
}

// coveringOrder: the page's first ordering has a (column [DESC], id) index that holds the ids
// (pb_migrations/1764115600_users_search.go, 1764115700_users_email_order.go); username and
// company_id are unique indexes without them.
func coveringOrder(pq apikit.PageQuery) bool {
	if len(pq.Ordering) == 0 {
		return true // email
	}
	switch pq.Ordering[0].Field {
	case "email", "date_joined", "last_login", "first_name", "last_name":
		return true
	}
	return false
}

// scopedProfile is the UserProfile of a user with system_roles limited to systems (nil = all).
func (p *plugin) scopedProfile(user *core.Record, systems map[string]bool) (profiles.UserProfileJSON, error) {
	prof, err := profiles.UserProfile(p.app, p.kit.AppURL(), user, "")
	if err != nil {
		return prof, err
	}
	if systems != nil {
		kept := prof.SystemRoles[:0:0]
		for _, item := range prof.SystemRoles {
			if systems[item.SystemID] {
				kept = append(kept, item)
			}
		}
		prof.SystemRoles = kept
	}
	return prof, nil
}

// callerSystems is the admin scope as a filter for system_roles (nil for a superuser).
func callerSystems(e *core.RequestEvent) (map[string]bool, error) {
	_, ids, all, err := adminScope(e)
	if err != nil || all {
		return nil, err
	}
	return ids, nil
}

// userInScope loads the user of the path if the caller may manage it (§5.3.3 scope), else 404.
func (p *plugin) userInScope(e *core.RequestEvent) (*core.Record, error) {
	user, err := findByID(p.app, colUsers, e.Request.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if user == nil {
		return nil, apikit.NotFound(msgUserNotFoundOrDenied)
	}
	ok, err := p.managesUser(e, user.Id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apikit.NotFound(msgUserNotFoundOrDenied)
	}
	return user, nil
}

// managesUser: a superuser manages every user; a system admin the users holding an assignment
// (active or not) in a system of its admin scope.
func (p *plugin) managesUser(e *core.RequestEvent, userID string) (bool, error) {
	_, ids, all, err := adminScope(e)
	if err != nil || all {
		return all, err
	}
	rows, err := permissions.Assignments(p.app, userID)
	if err != nil {
		return false, err
	}
	for _, a := range rows {
		if ids[a.SystemID] {
			return true, nil
		}
	}
	return false, nil
}

// getUser serves GET /api/v1/users/{id}/ and /api/v1/users/management/{id}/ (§5.3.5).
func (p *plugin) getUser(e *core.RequestEvent) error {
	user, err := p.userInScope(e)
	if err != nil {
		return err
	}
	systems, err := callerSystems(e)
	if err != nil {
		return err
	}
	prof, err := p.scopedProfile(user, systems)
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusOK, prof)
}

// uniquenessErrors checks the unique user fields of §1.16 (empty values are not checked).
func (p *plugin) uniquenessErrors(exceptID, email, username, phone string) apikit.FieldErrors {
	fe := apikit.FieldErrors{}
	if email != "" && p.taken(colUsers, "[[email]] = {:v} COLLATE NOCASE", email, exceptID) {
		fe.Add("email", msgEmailTaken)
	}
	if username != "" && p.taken(colUsers, "[[username]] = {:v} COLLATE NOCASE", username, exceptID) {
		fe.Add("username", msgUsernameTaken)
	}
	if phone != "" && p.taken(colUsers, "[[phone_number]] = {:v}", phone, exceptID) {
		fe.Add("phone_number", msgPhoneTaken)
	}
	return fe
}

func addAll(dst apikit.FieldErrors, src apikit.FieldErrors) {
	for k, v := range src {
		for _, m := range v {
			if !dst.Has(k) {
				dst.Add(k, m)
			}
		}
	}
}

// createUser serves POST /api/v1/users/ and /api/v1/users/management/ (§5.3.4). The password
// is the one the admin gives; the server never chooses one.
func (p *plugin) createUser(e *core.RequestEvent) error {
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return err
	}
	s, err := permissions.For(e)
	if err != nil {
		return err
	}
	roleID, hasRole := body.String("role_id", apikit.Str{Required: !s.IsSuperuser(), Nullable: s.IsSuperuser()})
	var role *core.Record
	if hasRole && roleID != "" && !body.Errors.Has("role_id") {
		if role, err = findByID(p.app, colRoles, roleID); err != nil {
			return err
		}
		if role == nil {
			body.Errors.Add("role_id", pkMessage(roleID))
		} else if err := permissions.RequireAdmin(e, role.GetString("system"), msgAccessDeniedSystem); err != nil {
			return err
		}
	}
	email, _ := body.Email("email", true)
	password, _ := body.String("password", apikit.Str{Required: true, Raw: true, BlankMsg: apikit.MsgRequired})
	username, _ := body.Username("username", false)
	first, _ := body.String("first_name", apikit.Str{AllowBlank: true, Max: 100})
	middle, _ := body.String("middle_name", apikit.Str{Nullable: true, Max: 100})
	last, _ := body.String("last_name", apikit.Str{AllowBlank: true, Max: 100})
	suffix, _ := body.String("suffix", apikit.Str{Nullable: true, Choices: suffixChoices})
	department, _ := body.String("department", apikit.Str{Nullable: true, Choices: departmentChoices})
	phone, _ := body.Phone("phone_number")
	notified, _ := body.Bool("notified", false)
	status, isStaff := "Pending", false
	if s.IsSuperuser() { // ignored for everyone else (§5.3.4)
		if v, ok := body.String("status", apikit.Str{Choices: statusChoices}); ok && !body.Errors.Has("status") {
			status = v
		}
		isStaff, _ = body.Bool("is_staff", false)
	}
	addAll(body.Errors, p.uniquenessErrors("", email, username, phone))
	if !body.Errors.Has("password") {
		name := username
		if name == "" {
			name = profiles.UsernameBase(email)
		}
		for _, m := range passwords.NewPolicy(p.cfg).Check(e.Request.Context(), password, name, email) {
			body.Errors.Add("password", m)
		}
	}
	if err := body.Err(); err != nil {
		return err
	}

	col, err := p.app.FindCachedCollectionByNameOrId(colUsers)
	if err != nil {
		return err
	}
	user := core.NewRecord(col)
	user.SetEmail(email)
	user.SetVerified(false)
	for k, v := range map[string]any{"username": username, "first_name": first, "middle_name": middle, "last_name": last,
		"suffix": suffix, "department": department, "phone_number": phone, "notified": notified, "status": status,
		"is_active": true, "is_staff": isStaff, "is_superuser": false, "otp_enabled": false} {
		user.Set(k, v)
	}
	if err := p.pool.SetPassword(e.Request.Context(), user, password); err != nil {
		return err
	}
	err = p.app.RunInTransaction(func(tx core.App) error {
		if err := tx.Save(user); err != nil {
			return err
		}
		if err := audit.Log(tx, actorEntry(e, "user.created", "user", user.Id, "")); err != nil {
			return err
		}
		if role == nil {
			return nil
		}
		// the role as it is now: one deleted during the password's hashing is the field's 400
		// (nothing is created), not a failed relation check (a 500)
		if fresh, err := findByID(tx, colRoles, role.Id); err != nil {
			return err
		} else if fresh == nil {
			return apikit.InvalidField("role_id", pkMessage(role.Id))
		}
		assignments, err := tx.FindCachedCollectionByNameOrId(colAssignments)
		if err != nil {
			return err
		}
		a := core.NewRecord(assignments)
		a.Set("user", user.Id)
		a.Set("system", role.GetString("system"))
		a.Set("role", role.Id)
		a.Set("is_active", true)
		if err := tx.Save(a); err != nil {
			return err
		}
		return audit.Log(tx, actorEntry(e, "assignment.created", "assignment", a.Id, slugOf(tx, a.GetString("system"))))
	})
	if err != nil {
		if fe := p.uniquenessErrors("", email, username, phone); len(fe) > 0 {
			return apikit.Invalid(fe)
		}
		if fe := accountfields.SaveFieldErrors(err); fe != nil {
			return apikit.Invalid(fe) // an address PocketBase's email field refuses (e.g. no dot in the domain)
		}
		return err
	}
	systems, err := callerSystems(e)
	if err != nil {
		return err
	}
	prof, err := p.scopedProfile(user, systems)
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusCreated, prof)
}

// deleteUser serves DELETE /api/v1/users/{id}/ and /api/v1/users/management/{id}/ (§5.3.7).
func (p *plugin) deleteUser(e *core.RequestEvent) error {
	if err := permissions.RequireSuperuser(e, msgOnlySuperusersDelUsr); err != nil {
		return err
	}
	user, err := findByID(p.app, colUsers, e.Request.PathValue("id"))
	if err != nil {
		return err
	}
	if user == nil {
		return apikit.NotFound(msgUserNotFoundOrDenied)
	}
	caller := callerRecord(e)
	otherSuperuser := func(u *core.Record) bool {
		return u.GetBool("is_superuser") && (caller == nil || caller.Id != u.Id)
	}
	if otherSuperuser(user) {
		return apikit.PermissionDenied(msgNoDeleteSuperusers)
	}
	err = p.app.RunInTransaction(func(tx core.App) error {
		user, err := tx.FindRecordById(colUsers, user.Id) // as it is now: made a superuser since?
		if err != nil {
			return apikit.NotFound(msgUserNotFoundOrDenied)
		}
		if otherSuperuser(user) {
			return apikit.PermissionDenied(msgNoDeleteSuperusers)
		}
		if err := tx.Delete(user); err != nil {
			return err
		}
		return audit.Log(tx, actorEntry(e, "user.deleted", "user", user.Id, ""))
	})
	if err != nil {
		return err
	}
	return e.NoContent(http.StatusNoContent)
}
