package hdts

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/profiles"
	"gatehouse/plugins/realm"
)

var employeeStatuses = []string{"Pending", realm.StatusApproved, "Rejected"}

// listQuery is a validated list request: the page parameters of §1.8 and the filters.
type listQuery struct {
	page   apikit.PageQuery
	status string // "" = no filter
	kind   string // HDTS users only
}

// parseListQuery validates page, page_size, search, ordering (names of ordering) and, with
// withStatus, the status filter (and, with kinds, kind), reporting every failure in one 400
// (§1.8). The pending list has no status filter: a status there is ignored, as §1.8 ignores
// unknown parameters.
func parseListQuery(q url.Values, ordering []string, kinds []string, withStatus bool) (listQuery, error) {
	var lq listQuery
	errs := apikit.FieldErrors{}
	pq, err := apikit.ParsePageQuery(q, ordering)
	if err != nil {
		var apiErr *apikit.Error
		if !errors.As(err, &apiErr) {
			return lq, err
		}
		for f, msgs := range apiErr.Fields {
			errs[f] = append(errs[f], msgs...)
		}
	}
	lq.page = pq
	if withStatus {
		lq.status, _ = apikit.QueryChoice(q, "status", employeeStatuses, errs)
	}
	if kinds != nil {
		lq.kind, _ = apikit.QueryChoice(q, "kind", kinds, errs)
	}
	return lq, errs.Err()
}

// likeAny is a case-insensitive substring match of s over any of cols (§1.8).
func likeAny(s string, cols ...string) dbx.Expression {
	pattern := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s) + "%"
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = "[[" + c + "]] LIKE {:search} ESCAPE '\\'"
	}
	return dbx.NewExp("("+strings.Join(parts, " OR ")+")", dbx.Params{"search": pattern})
}

// orderBy is the ORDER BY terms of the requested ordering (or def), by column, then the tie
// breaks (§1.8: id ascending last).
func orderBy(requested, def []apikit.OrderField, columns map[string]string, ties ...string) []string {
	if len(requested) == 0 {
		requested = def
	}
	var out []string
	for _, o := range requested {
		term := "[[" + columns[o.Field] + "]]"
		if o.Desc {
			term += " DESC"
		} else {
			term += " ASC"
		}
		out = append(out, term)
	}
	for _, t := range ties {
		out = append(out, "[["+t+"]] ASC")
	}
	return out
}

// employeeList is one of the two Page<EmployeeProfile> endpoints.
type employeeList struct {
	ordering     map[string]string // parameter → column
	defaultOrder []apikit.OrderField
	search       []string
	pendingOnly  bool
}

var (
	// §5.12.2
	allEmployees = employeeList{
		ordering:     map[string]string{"created_at": "created", "email": "email", "last_name": "last_name", "company_id": "company_id", "status": "status"},
		defaultOrder: []apikit.OrderField{{Field: "created_at", Desc: true}},
		search:       []string{"email", "username", "first_name", "last_name", "company_id"},
	}
	// §5.12.17
	pendingEmployees = employeeList{
		ordering:     map[string]string{"created_at": "created", "email": "email"},
		defaultOrder: []apikit.OrderField{{Field: "created_at"}},
		search:       []string{"email", "username", "first_name", "last_name"},
		pendingOnly:  true,
	}
)

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// listEmployees serves GET /api/v1/hdts/employees/ (§5.12.2).
func (p *plugin) listEmployees(e *core.RequestEvent) error { return p.employeePage(e, allEmployees) }

// listPending serves GET /api/v1/hdts/user-management/pending/api/ (§5.12.17, §6.13 step 3).
func (p *plugin) listPending(e *core.RequestEvent) error { return p.employeePage(e, pendingEmployees) }

func (p *plugin) employeePage(e *core.RequestEvent, l employeeList) error {
	lq, err := parseListQuery(e.Request.URL.Query(), keys(l.ordering), nil, !l.pendingOnly)
	if err != nil {
		return err
	}
	where := dbx.And()
	if l.pendingOnly {
		where = dbx.And(where, dbx.HashExp{"status": "Pending"})
	} else if lq.status != "" {
		where = dbx.And(where, dbx.HashExp{"status": lq.status})
	}
	if lq.page.Search != "" {
		where = dbx.And(where, likeAny(lq.page.Search, l.search...))
	}
	var count int
	if err := p.app.DB().Select("COUNT(*)").From(realm.CollectionEmployee).Where(where).Row(&count); err != nil {
		return err
	}
	if err := apikit.CheckPageInRange(lq.page, count); err != nil {
		return err
	}
	var ids []string
	if count > 0 {
		err := p.app.DB().Select("id").From(realm.CollectionEmployee).Where(where).
			OrderBy(orderBy(lq.page.Ordering, l.defaultOrder, l.ordering, "id")...).
			Limit(int64(lq.page.Size)).Offset(int64(lq.page.Offset())).Column(&ids)
		if err != nil {
			return err
		}
	}
	items := make([]profiles.EmployeeProfileJSON, 0, len(ids))
	recs, err := recordsInOrder(p.app, realm.CollectionEmployee, ids)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		out, err := profiles.EmployeeProfile(p.app, p.kit.AppURL(), rec)
		if err != nil {
			return err
		}
		items = append(items, out)
	}
	page, err := apikit.NewPage(p.kit.AppURL(), e.Request, lq.page, count, items)
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusOK, page)
}

// recordsInOrder loads the records of ids in that order (rows deleted meanwhile are skipped).
func recordsInOrder(app core.App, collection string, ids []string) ([]*core.Record, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	recs, err := app.FindRecordsByIds(collection, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*core.Record, len(recs))
	for _, r := range recs {
		byID[r.Id] = r
	}
	out := make([]*core.Record, 0, len(ids))
	for _, id := range ids {
		if r, ok := byID[id]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// ---------------------------------------------------------------------------------------------
// GET /api/v1/hdts/user-management/users/api/ (§5.12.18)

// hdtsUserJSON is HDTSUser (§4.9).
type hdtsUserJSON struct {
	Kind           string                    `json:"kind"`
	ID             string                    `json:"id"`
	Email          string                    `json:"email"`
	Username       string                    `json:"username"`
	FirstName      string                    `json:"first_name"`
	LastName       string                    `json:"last_name"`
	MiddleName     *string                   `json:"middle_name"`
	Suffix         *string                   `json:"suffix"`
	PhoneNumber    *string                   `json:"phone_number"`
	Department     *string                   `json:"department"`
	CompanyID      string                    `json:"company_id"`
	Status         string                    `json:"status"`
	IsActive       bool                      `json:"is_active"`
	ProfilePicture *string                   `json:"profile_picture"`
	DateJoined     string                    `json:"date_joined"`
	OTPEnabled     bool                      `json:"otp_enabled"`
	SystemRoles    []profiles.SystemRoleItem `json:"system_roles"`
}

type hdtsUsersPage struct {
	apikit.Page[hdtsUserJSON]
	SystemUsersCount int `json:"system_users_count"`
	EmployeesCount   int `json:"employees_count"`
}

var hdtsUserOrdering = map[string]string{"email": "email", "date_joined": "created", "last_name": "last_name"}

// hdtsPeopleSQL is the result set of §5.12.18 before filters: staff users holding at least one
// active assignment in hdts, and every employee, with the columns the filters and orderings use.
const hdtsPeopleSQL = `SELECT 'staff' AS kind, u.id AS id, u.email AS email, u.username AS username,
	u.first_name AS first_name, u.last_name AS last_name, u.company_id AS company_id,
	u.status AS status, u.created AS created
FROM {{users}} u
WHERE EXISTS (SELECT 1 FROM {{user_system_roles}} a JOIN {{systems}} s ON s.id = a.system
	WHERE a.user = u.id AND a.is_active = TRUE AND s.slug = {:hdts})
UNION ALL
SELECT 'employee', e.id, e.email, e.username, e.first_name, e.last_name, e.company_id, e.status, e.created
FROM {{employees}} e`

// listHDTSUsers serves GET /api/v1/hdts/user-management/users/api/ (§5.12.18).
func (p *plugin) listHDTSUsers(e *core.RequestEvent) error {
	lq, err := parseListQuery(e.Request.URL.Query(), keys(hdtsUserOrdering), []string{realm.TypeStaff, realm.TypeEmployee}, true)
	if err != nil {
		return err
	}
	params := dbx.Params{"hdts": profiles.HDTSSlug}
	var conds []string
	if lq.kind != "" {
		conds = append(conds, "[[kind]] = {:kind}")
		params["kind"] = lq.kind
	}
	if lq.status != "" {
		conds = append(conds, "[[status]] = {:status}")
		params["status"] = lq.status
	}
	if lq.page.Search != "" {
		conds = append(conds, "("+strings.Join([]string{
			"[[email]] LIKE {:search} ESCAPE '\\'", "[[username]] LIKE {:search} ESCAPE '\\'",
			"[[first_name]] LIKE {:search} ESCAPE '\\'", "[[last_name]] LIKE {:search} ESCAPE '\\'",
			"[[company_id]] LIKE {:search} ESCAPE '\\'"}, " OR ")+")")
		params["search"] = "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(lq.page.Search) + "%"
	}
	from := "FROM (" + hdtsPeopleSQL + ") people"
	if len(conds) > 0 {
		from += " WHERE " + strings.Join(conds, " AND ")
	}

	var counts []struct {
		Kind string `db:"kind"`
		N    int    `db:"n"`
	}
	if err := p.app.DB().NewQuery("SELECT [[kind]], COUNT(*) AS n " + from + " GROUP BY [[kind]]").Bind(params).All(&counts); err != nil {
		return err
	}
	var staffCount, employeeCount int
	for _, c := range counts {
		if c.Kind == realm.TypeStaff {
			staffCount = c.N
		} else {
			employeeCount = c.N
		}
	}
	count := staffCount + employeeCount
	if err := apikit.CheckPageInRange(lq.page, count); err != nil {
		return err
	}

	var rows []struct {
		Kind string `db:"kind"`
		ID   string `db:"id"`
	}
	if count > 0 {
		order := orderBy(lq.page.Ordering, []apikit.OrderField{{Field: "email"}}, hdtsUserOrdering, "kind", "id")
		q := "SELECT [[kind]], [[id]] " + from + " ORDER BY " + strings.Join(order, ", ") +
			" LIMIT " + strconv.Itoa(lq.page.Size) + " OFFSET " + strconv.Itoa(lq.page.Offset())
		if err := p.app.DB().NewQuery(q).Bind(params).All(&rows); err != nil {
			return err
		}
	}
	items := make([]hdtsUserJSON, 0, len(rows))
	for _, row := range rows {
		item, ok, err := p.hdtsUser(row.Kind, row.ID)
		if err != nil {
			return err
		}
		if ok {
			items = append(items, item)
		}
	}
	page, err := apikit.NewPage(p.kit.AppURL(), e.Request, lq.page, count, items)
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusOK, hdtsUsersPage{Page: page, SystemUsersCount: staffCount, EmployeesCount: employeeCount})
}

// hdtsUser builds the HDTSUser of one person (ok = false when the record is gone).
func (p *plugin) hdtsUser(kind, id string) (hdtsUserJSON, bool, error) {
	if kind == realm.TypeStaff {
		rec, err := p.app.FindRecordById(realm.CollectionStaff, id)
		if err != nil {
			return hdtsUserJSON{}, false, nil
		}
		up, err := profiles.UserProfile(p.app, p.kit.AppURL(), rec, profiles.HDTSSlug)
		if err != nil {
			return hdtsUserJSON{}, false, err
		}
		return hdtsUserJSON{
			Kind: kind, ID: up.ID, Email: up.Email, Username: up.Username, FirstName: up.FirstName, LastName: up.LastName,
			MiddleName: up.MiddleName, Suffix: up.Suffix, PhoneNumber: up.PhoneNumber, Department: up.Department,
			CompanyID: up.CompanyID, Status: up.Status, IsActive: up.IsActive, ProfilePicture: up.ProfilePicture,
			DateJoined: up.DateJoined, OTPEnabled: up.OTPEnabled, SystemRoles: up.SystemRoles,
		}, true, nil
	}
	rec, err := p.app.FindRecordById(realm.CollectionEmployee, id)
	if err != nil {
		return hdtsUserJSON{}, false, nil
	}
	ep, err := profiles.EmployeeProfile(p.app, p.kit.AppURL(), rec)
	if err != nil {
		return hdtsUserJSON{}, false, err
	}
	return hdtsUserJSON{
		Kind: kind, ID: ep.ID, Email: ep.Email, Username: ep.Username, FirstName: ep.FirstName, LastName: ep.LastName,
		MiddleName: ep.MiddleName, Suffix: ep.Suffix, PhoneNumber: ep.PhoneNumber, Department: ep.Department,
		CompanyID: ep.CompanyID, Status: ep.Status, IsActive: ep.Status == realm.StatusApproved, ProfilePicture: ep.ProfilePicture,
		DateJoined: ep.CreatedAt, OTPEnabled: ep.OTPEnabled, SystemRoles: ep.SystemRoles,
	}, true, nil
}
