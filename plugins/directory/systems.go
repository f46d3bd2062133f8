package directory

import (
	"net/http"
	"regexp"
	"slices"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/hooks"
	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/permissions"
	"gatehouse/plugins/profiles"
)

// Messages of §5.9.
const (
	msgSystemNotFoundOrDenied = "System not found or access denied"
	msgSystemNotFound         = "System not found."
	msgOnlySuperusersCreate   = "Only superusers can create new systems"
	msgOnlySuperusersDelete   = "Only superusers can delete systems"
	msgBuiltinNoDelete        = hooks.MsgBuiltinNoDelete
	msgSystemNameTaken        = "A system with this name already exists."
	msgSlugInvalid            = "Enter a valid slug consisting of lowercase letters, numbers, underscores or hyphens."
	msgSlugTaken              = "A system with this slug already exists."
	msgSlugReserved           = hooks.MsgSlugReserved
	msgSlugImmutable          = "The slug cannot be changed."
	msgSlugNeedsForce         = "The slug cannot be changed without ?force=true."
	msgSlugBuiltin            = hooks.MsgSlugBuiltin
	msgInvalidURL             = hooks.MsgInvalidURL
)

// builtinSystems are created by migrations; they cannot be deleted or renamed (§5.9; the hooks
// hold the same rule for the dashboard).
var builtinSystems = hooks.BuiltinSystems

var slugRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

type systemJSON struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Slug      string  `json:"slug"`
	URL       *string `json:"url"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
}

type systemBrief struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Slug string `json:"slug"`
}

func toSystem(r *core.Record) systemJSON {
	return systemJSON{ID: r.Id, Name: r.GetString("name"), Slug: r.GetString("slug"),
		URL: profiles.NullString(r.GetString("url")), CreatedAt: profiles.Timestamp(r.GetDateTime("created")),
		UpdatedAt: profiles.Timestamp(r.GetDateTime("updated"))}
}

func toSystemBrief(r *core.Record) systemBrief {
	return systemBrief{ID: r.Id, Name: r.GetString("name"), Slug: r.GetString("slug")}
}

var systemOrdering = map[string]string{"name": "[[systems.name]]", "slug": "[[systems.slug]]", "created_at": "[[systems.created]]"}

// listSystems serves GET /api/v1/systems/ (§5.9.1).
func (p *plugin) listSystems(e *core.RequestEvent) error {
	q := e.Request.URL.Query()
	pq, err := apikit.ParsePageQuery(q, keys(systemOrdering))
	if err != nil {
		return err
	}
	_, ids, all, err := adminScope(e)
	if err != nil {
		return err
	}
	where := dbx.And()
	if !all {
		where = dbx.And(where, dbx.In("[[systems.id]]", idList(ids)...))
	}
	if slug := q.Get("slug"); slug != "" {
		where = dbx.And(where, dbx.HashExp{"systems.slug": slug})
	}
	if pq.Search != "" {
		where = dbx.And(where, searchExp(pq.Search, "[[systems.name]]", "[[systems.slug]]"))
	}
	recs, count, err := p.pageRecords(colSystems, where, pq, orderBy(pq, systemOrdering, []apikit.OrderField{{Field: "name"}}, "[[systems.id]]"), nil)
	if err != nil {
		return err
	}
	out := make([]systemJSON, 0, len(recs))
	for _, r := range recs {
		out = append(out, toSystem(r))
	}
	return p.writePage(e, pq, count, out)
}

// publicSystems serves GET /api/v1/systems/public/ (§5.9.3): every system, by name.
func (p *plugin) publicSystems(e *core.RequestEvent) error {
	q := e.Request.URL.Query()
	q.Del("ordering") // fixed by name: the parameter is not documented here (§1.8)
	pq, err := apikit.ParsePageQuery(q, nil)
	if err != nil {
		return err
	}
	where := dbx.And()
	if pq.Search != "" {
		where = searchExp(pq.Search, "[[systems.name]]", "[[systems.slug]]")
	}
	recs, count, err := p.pageRecords(colSystems, where, pq, []string{"[[systems.name]] ASC", "[[systems.id]] ASC"}, nil)
	if err != nil {
		return err
	}
	out := make([]systemBrief, 0, len(recs))
	for _, r := range recs {
		out = append(out, toSystemBrief(r))
	}
	return p.writePage(e, pq, count, out)
}

// pageRecords counts the rows of a collection matching where and loads the requested page.
// join, when set, adds joins to both queries.
func (p *plugin) pageRecords(collection string, where dbx.Expression, pq apikit.PageQuery, order []string, join func(*dbx.SelectQuery) *dbx.SelectQuery) ([]*core.Record, int, error) {
	cq := p.app.DB().Select("COUNT(*) AS n").From(collection).Where(where)
	if join != nil {
		cq = join(cq)
	}
	var n struct {
		N int `db:"n"`
	}
	if err := cq.One(&n); err != nil {
		return nil, 0, err
	}
	if err := apikit.CheckPageInRange(pq, n.N); err != nil {
		return nil, 0, err
	}
	if n.N == 0 {
		return nil, 0, nil
	}
	rq := p.app.RecordQuery(collection).Where(where).OrderBy(order...).Limit(int64(pq.Size)).Offset(int64(pq.Offset()))
	if join != nil {
		rq = join(rq)
	}
	var recs []*core.Record
	if err := rq.All(&recs); err != nil {
		return nil, 0, err
	}
	return recs, n.N, nil
}

func (p *plugin) writePage(e *core.RequestEvent, pq apikit.PageQuery, count int, results any) error {
	return writePageOf(e, p.kit.AppURL(), pq, count, results)
}

// writePageOf answers Page<T> (§4.13) with extra top-level keys after the four standard ones.
func writePageOf(e *core.RequestEvent, appURL string, pq apikit.PageQuery, count int, results any, extra ...any) error {
	page, err := apikit.NewPage[struct{}](appURL, e.Request, pq, count, nil)
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusOK, pageObject(page.Count, page.Next, page.Previous, results, extra...))
}

// pageObject is the body of writePageOf.
func pageObject(count int, next, previous *string, results any, extra ...any) *apikit.OrderedObject {
	obj := apikit.NewOrderedObject(4 + len(extra)/2)
	obj.Set("count", count)
	obj.Set("next", next)
	obj.Set("previous", previous)
	obj.Set("results", results)
	for i := 0; i+1 < len(extra); i += 2 {
		obj.Set(extra[i].(string), extra[i+1])
	}
	return obj
}

// systemInScope loads the system of the path for an ADMIN(S) endpoint: unknown or outside the
// caller's admin scope → 404 "System not found or access denied".
func (p *plugin) systemInScope(e *core.RequestEvent) (*core.Record, error) {
	sys, err := findByID(p.app, colSystems, e.Request.PathValue("id"))
	if err != nil {
		return nil, err
	}
	s, err := permissions.For(e)
	if err != nil {
		return nil, err
	}
	if sys == nil || !s.IsAdmin(sys.Id) {
		return nil, apikit.NotFound(msgSystemNotFoundOrDenied)
	}
	return sys, nil
}

// getSystem serves GET /api/v1/systems/{id}/ (§5.9.4).
func (p *plugin) getSystem(e *core.RequestEvent) error {
	sys, err := p.systemInScope(e)
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusOK, toSystem(sys))
}

// systemFields validates name, slug and url of a create or update (§5.9.2); exceptID is the
// system being updated ("" on create). checkSlug=false skips the slug rules (unchanged slug).
func (p *plugin) systemFields(body *apikit.Body, exceptID string, required bool) (name, slug, rawURL string, hasName, hasSlug, hasURL bool) {
	name, hasName = body.String("name", apikit.Str{Required: required, Max: 255})
	slug, hasSlug = body.String("slug", apikit.Str{Required: required, Max: 50})
	rawURL, hasURL = body.String("url", apikit.Str{Nullable: true})
	if hasName && !body.Errors.Has("name") && p.taken(colSystems, "[[name]] = {:v} COLLATE NOCASE", name, exceptID) {
		body.Errors.Add("name", msgSystemNameTaken)
	}
	if hasURL && !body.Errors.Has("url") && rawURL != "" && !hooks.ValidHTTPURL(rawURL) {
		body.Errors.Add("url", msgInvalidURL)
	}
	return
}

// checkSlug applies the slug rules of §5.9.2 to a new slug.
func (p *plugin) checkSlug(body *apikit.Body, slug, exceptID string) {
	switch {
	case !slugRe.MatchString(slug):
		body.Errors.Add("slug", msgSlugInvalid)
	case slug == hooks.ReservedSlug:
		body.Errors.Add("slug", msgSlugReserved)
	case p.taken(colSystems, "[[slug]] = {:v}", slug, exceptID):
		body.Errors.Add("slug", msgSlugTaken)
	}
}

// taken reports whether a row of collection matches cond with {:v} = value, other than exceptID.
func (p *plugin) taken(collection, cond, value, exceptID string) bool {
	q := p.app.DB().Select("COUNT(*) AS n").From(collection).Where(dbx.NewExp(cond, dbx.Params{"v": value}))
	if exceptID != "" {
		q = q.AndWhere(dbx.Not(dbx.HashExp{"id": exceptID}))
	}
	var n struct {
		N int `db:"n"`
	}
	return q.One(&n) == nil && n.N > 0
}

// createSystem serves POST /api/v1/systems/ (§5.9.2): the system and its Admin role (a record
// hook, same transaction); no account is created.
func (p *plugin) createSystem(e *core.RequestEvent) error {
	if err := permissions.RequireSuperuser(e, msgOnlySuperusersCreate); err != nil {
		return err
	}
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return err
	}
	name, slug, rawURL, _, _, _ := p.systemFields(body, "", true)
	if !body.Errors.Has("slug") {
		p.checkSlug(body, slug, "")
	}
	if err := body.Err(); err != nil {
		return err
	}
	col, err := p.app.FindCachedCollectionByNameOrId(colSystems)
	if err != nil {
		return err
	}
	sys := core.NewRecord(col)
	sys.Set("name", name)
	sys.Set("slug", slug)
	sys.Set("url", rawURL)
	err = p.app.RunInTransaction(func(tx core.App) error {
		if err := tx.Save(sys); err != nil {
			return err
		}
		return audit.Log(tx, actorEntry(e, "system.created", "system", sys.Id, slug))
	})
	if err != nil {
		if p.taken(colSystems, "[[slug]] = {:v}", slug, "") {
			return apikit.InvalidField("slug", msgSlugTaken)
		}
		if p.taken(colSystems, "[[name]] = {:v} COLLATE NOCASE", name, "") {
			return apikit.InvalidField("name", msgSystemNameTaken)
		}
		return err
	}
	return apikit.WriteJSON(e, http.StatusCreated, toSystem(sys))
}

// updateSystem serves PUT and PATCH /api/v1/systems/{id}/ (§5.9.5). A forced slug rename
// revokes the sessions of every user holding an assignment in the system (a record hook, so
// that a dashboard rename does the same).
func (p *plugin) updateSystem(put bool) func(e *core.RequestEvent) error {
	return func(e *core.RequestEvent) error {
		sys, err := p.systemInScope(e)
		if err != nil {
			return err
		}
		body, err := apikit.ReadBody(e, 0)
		if err != nil {
			return err
		}
		name, slug, rawURL, hasName, hasSlug, hasURL := p.systemFields(body, sys.Id, put)
		renamed := false
		if hasSlug && !body.Errors.Has("slug") && slug != sys.GetString("slug") {
			s, err := permissions.For(e)
			if err != nil {
				return err
			}
			switch {
			case !s.IsSuperuser():
				body.Errors.Add("slug", msgSlugImmutable)
			case slices.Contains(builtinSystems, sys.GetString("slug")):
				body.Errors.Add("slug", msgSlugBuiltin)
			case apikit.Query(e).Get("force") != "true":
				body.Errors.Add("slug", msgSlugNeedsForce)
			default:
				p.checkSlug(body, slug, sys.Id)
				renamed = true
			}
		}
		if err := body.Err(); err != nil {
			return err
		}
		oldSlug := sys.GetString("slug")
		saved, err := p.updateAudited(colSystems, sys.Id, apikit.NotFound(msgSystemNotFoundOrDenied), func(_ core.App, rec *core.Record) (audit.Entry, error) {
			if hasName {
				rec.Set("name", name)
			}
			if renamed {
				rec.Set("slug", slug)
			}
			if hasURL {
				rec.Set("url", rawURL)
			}
			entry := actorEntry(e, "system.updated", "system", rec.Id, rec.GetString("slug"))
			if renamed {
				entry.Event = "system.slug_renamed"
				entry.Details = map[string]any{"old_slug": oldSlug, "new_slug": slug}
			}
			return entry, nil
		})
		if err == nil {
			sys = saved
		} else {
			if hasName && p.taken(colSystems, "[[name]] = {:v} COLLATE NOCASE", name, sys.Id) {
				return apikit.InvalidField("name", msgSystemNameTaken)
			}
			if renamed && p.taken(colSystems, "[[slug]] = {:v}", slug, sys.Id) {
				return apikit.InvalidField("slug", msgSlugTaken)
			}
			return err
		}
		return apikit.WriteJSON(e, http.StatusOK, toSystem(sys))
	}
}

// deleteSystem serves DELETE /api/v1/systems/{id}/ (§5.9.6): cascades to roles, assignments,
// invitations, round-robin state and API keys bound to it (relation cascades).
func (p *plugin) deleteSystem(e *core.RequestEvent) error {
	if err := permissions.RequireSuperuser(e, msgOnlySuperusersDelete); err != nil {
		return err
	}
	sys, err := findByID(p.app, colSystems, e.Request.PathValue("id"))
	if err != nil {
		return err
	}
	if sys == nil {
		return apikit.NotFound(msgSystemNotFoundOrDenied)
	}
	if slices.Contains(builtinSystems, sys.GetString("slug")) {
		return apikit.Conflict(msgBuiltinNoDelete)
	}
	err = p.deleteAudited(colSystems, sys.Id, apikit.NotFound(msgSystemNotFoundOrDenied), nil, func(rec *core.Record) audit.Entry {
		return actorEntry(e, "system.deleted", "system", rec.Id, rec.GetString("slug"))
	})
	if err != nil {
		return err
	}
	return e.NoContent(http.StatusNoContent)
}
