package directory

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/mailer"
	"gatehouse/plugins/passwords"
	"gatehouse/plugins/permissions"
	"gatehouse/plugins/profiles"
)

// Messages of §5.5, §5.11.1 and §5.15.5.
const (
	msgNotAdminOfSystem        = "You are not an admin of this system"
	msgUserNotFound            = "User not found."
	msgRoleNotInSystem         = "Role not found or does not belong to this system"
	msgEitherUserOrEmail       = "Either user_id or email is required."
	msgNotBoth                 = "Provide either user_id or email, not both."
	msgUnverifiedAccount       = "An unverified account with this email exists; invite it by user_id."
	msgUserInactive            = "User is inactive."
	msgAlreadyAssigned         = "User is already assigned to this system"
	msgInvitationNotFound      = "Invitation not found or access denied"
	msgOnlyPendingRevoked      = "Only pending invitations can be revoked."
	msgInvalidInvitation       = "Invalid or expired invitation token."
	msgAccountExists           = "An account with this email already exists. Sign in and ask an administrator to add the role."
	msgPasswordsDoNotMatch     = "Passwords do not match."
	msgInvitationAccepted      = "Invitation accepted. You can now log in."
	invitePageFile             = "invite-agent.html"
	acceptPageFile             = "accept-invitation/index.html"
	inviteEmailLimitRetryAfter = 3600
)

// profileFields are the optional person fields an inviter may give (§5.5.2), applied at
// acceptance unless the invitee overrides them.
var profileFields = []string{"first_name", "middle_name", "last_name", "suffix", "phone_number", "department"}

func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// newInvitationToken is 43 characters of URL-safe base64 (32 random bytes, §7.1).
func newInvitationToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// invitationStatus is the derived status of §2.12.
func invitationStatus(r *core.Record, now time.Time) string {
	switch {
	case !r.GetDateTime("accepted_at").IsZero():
		return "accepted"
	case !r.GetDateTime("revoked_at").IsZero():
		return "revoked"
	case !r.GetDateTime("expires_at").Time().After(now):
		return "expired"
	}
	return "pending"
}

type invitationJSON struct {
	ID             string  `json:"id"`
	Email          string  `json:"email"`
	System         string  `json:"system"`
	SystemSlug     string  `json:"system_slug"`
	SystemName     string  `json:"system_name"`
	Role           string  `json:"role"`
	RoleName       string  `json:"role_name"`
	InvitedBy      *string `json:"invited_by"`
	InvitedByEmail *string `json:"invited_by_email"`
	Status         string  `json:"status"`
	ExpiresAt      string  `json:"expires_at"`
	AcceptedAt     *string `json:"accepted_at"`
	RevokedAt      *string `json:"revoked_at"`
	CreatedAt      string  `json:"created_at"`
}

func (p *plugin) toInvitation(app core.App, r *core.Record) (invitationJSON, error) {
	sys, err := app.FindRecordById(colSystems, r.GetString("system"))
	if err != nil {
		return invitationJSON{}, err
	}
	role, err := app.FindRecordById(colRoles, r.GetString("role"))
	if err != nil {
		return invitationJSON{}, err
	}
	out := invitationJSON{ID: r.Id, Email: r.GetString("email"), System: sys.Id, SystemSlug: sys.GetString("slug"),
		SystemName: sys.GetString("name"), Role: role.Id, RoleName: role.GetString("name"),
		Status: invitationStatus(r, time.Now()), ExpiresAt: profiles.Timestamp(r.GetDateTime("expires_at")),
		AcceptedAt: profiles.NullTimestamp(r.GetDateTime("accepted_at")), RevokedAt: profiles.NullTimestamp(r.GetDateTime("revoked_at")),
		CreatedAt: profiles.Timestamp(r.GetDateTime("created"))}
	if by := r.GetString("invited_by"); by != "" {
		out.InvitedBy = &by
		if u, err := app.FindRecordById(colUsers, by); err == nil {
			email := u.Email()
			out.InvitedByEmail = &email
		}
	}
	return out, nil
}

// inviteLimiter is kept for the per-inviter email limit of §7.2; the count itself is read
// inside the write transaction (PocketBase's single write connection serialises those), so the
// limit holds under parallel requests without in-process state.
type inviteLimiter struct{}

func newInviteLimiter() *inviteLimiter { return &inviteLimiter{} }

// inviteEmailsLastHour counts the invitation and access_granted emails an inviter caused in
// the last hour: its invitations, and the assignments it made by invitation (audit rows with
// details.via = "invite"). An invitation's time is its expires_at less ttl (the invitation
// lifetime), not its created: §1.15 measures every window tests may move on an editable date
// field, and created is an autodate. An access_granted email has no editable date in the
// contract's schema (audit_log and user_system_roles carry only autodates): counted on created.
func inviteEmailsLastHour(tx core.App, inviterID string, ttl time.Duration) (int, error) {
	now := types.NowDateTime()
	var n struct {
		N int `db:"n"`
	}
	err := tx.DB().NewQuery("SELECT (SELECT COUNT(*) FROM invitations WHERE invited_by = {:u} AND expires_at >= {:expSince}) + " +
		"(SELECT COUNT(*) FROM audit_log WHERE actor_id = {:u} AND event = 'assignment.created' AND created >= {:since} " +
		"AND json_extract(details, '$.via') = 'invite') AS n").
		Bind(dbx.Params{"u": inviterID, "since": now.Add(-time.Hour).String(), "expSince": now.Add(ttl - time.Hour).String()}).One(&n)
	return n.N, err
}

// inviteResult is what an invitation request created: an assignment or an invitation.
type inviteResult struct {
	assignment *assignmentRow // read in the transaction that wrote it
	invitation *core.Record
}

// inviteOutcome runs steps 4–6 of §5.5.2 for an existing user (user != nil) or a new email:
// conflicts, the per-inviter email limit, the record and its email, in one transaction.
func (p *plugin) inviteOutcome(e *core.RequestEvent, sys, role, user *core.Record, email string, profile map[string]any, alreadyAssigned string) (*inviteResult, error) {
	inviter := callerRecord(e)
	if inviter == nil {
		return nil, apikit.PermissionDenied("")
	}
	res := &inviteResult{}
	err := p.app.RunInTransaction(func(tx core.App) error {
		if user != nil {
			var n struct {
				N int `db:"n"`
			}
			if err := tx.DB().Select("COUNT(*) AS n").From(colAssignments).
				Where(dbx.HashExp{"user": user.Id, "system": sys.Id}).One(&n); err != nil {
				return err
			}
			if n.N > 0 {
				return apikit.Conflict(alreadyAssigned)
			}
		} else {
			var n struct {
				N int `db:"n"`
			}
			if err := tx.DB().Select("COUNT(*) AS n").From(colInvitations).Where(dbx.And(
				dbx.HashExp{"email": email, "system": sys.Id, "accepted_at": "", "revoked_at": ""},
				dbx.NewExp("expires_at > {:now}", dbx.Params{"now": types.NowDateTime().String()}))).One(&n); err != nil {
				return err
			}
			if n.N > 0 {
				return apikit.Conflict("A pending invitation for " + email + " to " + sys.GetString("name") + " already exists.")
			}
		}
		sent, err := inviteEmailsLastHour(tx, inviter.Id, p.cfg.InvitationTTL)
		if err != nil {
			return err
		}
		if sent >= p.cfg.InvitationEmailsPerHr {
			return apikit.TooManyRequests(inviteEmailLimitRetryAfter)
		}
		if user != nil {
			col, err := tx.FindCachedCollectionByNameOrId(colAssignments)
			if err != nil {
				return err
			}
			a := core.NewRecord(col)
			a.Set("user", user.Id)
			a.Set("system", sys.Id)
			a.Set("role", role.Id)
			a.Set("is_active", true)
			if err := tx.Save(a); err != nil {
				return err
			}
			if res.assignment, err = loadAssignmentIn(tx, a.Id); err != nil {
				return err
			}
			if res.assignment == nil {
				return fmt.Errorf("directory: assignment %q not readable in the transaction that wrote it", a.Id)
			}
			if _, err := p.mailer.Queue(tx, user.Email(), mailer.TemplateAccessGranted, map[string]any{
				"system_name": sys.GetString("name"), "role_name": role.GetString("name")}); err != nil {
				return err
			}
			entry := actorEntry(e, "assignment.created", "assignment", a.Id, sys.GetString("slug"))
			entry.Details = map[string]any{"via": "invite"}
			return audit.Log(tx, entry)
		}
		token, err := newInvitationToken()
		if err != nil {
			return err
		}
		col, err := tx.FindCachedCollectionByNameOrId(colInvitations)
		if err != nil {
			return err
		}
		inv := core.NewRecord(col)
		inv.Set("email", email)
		inv.Set("system", sys.Id)
		inv.Set("role", role.Id)
		inv.Set("invited_by", inviter.Id)
		inv.Set("token_hash", hashToken(token))
		inv.Set("profile", profile)
		inv.Set("expires_at", types.NowDateTime().Add(p.cfg.InvitationTTL))
		if err := tx.Save(inv); err != nil {
			return err
		}
		res.invitation = inv
		inviterName := strings.TrimSpace(inviter.GetString("first_name") + " " + inviter.GetString("last_name"))
		if inviterName == "" {
			inviterName = inviter.Email()
		}
		if _, err := p.mailer.Queue(tx, email, mailer.TemplateInvitation, map[string]any{
			"system_name": sys.GetString("name"), "role_name": role.GetString("name"), "inviter_name": inviterName,
			"link": p.kit.URL("/accept-invitation/#token=" + token), "expires_minutes": int(p.cfg.InvitationTTL / time.Minute),
		}); err != nil {
			return err
		}
		return audit.Log(tx, actorEntry(e, "invitation.created", "invitation", inv.Id, sys.GetString("slug")))
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// readProfileFields reads the optional person fields of an invitation (§1.16).
func readProfileFields(body *apikit.Body) map[string]any {
	out := map[string]any{}
	rules := map[string]apikit.Str{
		"first_name": {AllowBlank: true, Max: 100}, "middle_name": {Nullable: true, Max: 100},
		"last_name": {AllowBlank: true, Max: 100}, "suffix": {Nullable: true, Choices: suffixChoices},
		"department": {Nullable: true, Choices: departmentChoices},
	}
	for _, f := range profileFields {
		if f == "phone_number" {
			if v, ok := body.Phone(f); ok && !body.Errors.Has(f) {
				out[f] = v
			}
			continue
		}
		if v, ok := body.String(f, rules[f]); ok && !body.Errors.Has(f) {
			out[f] = v
		}
	}
	return out
}

// newInvitationPhone checks the phone number of a new invitation's profile now (§5.5.2: its
// uniqueness is "checked again at acceptance"): an invitation is not sent, nor counted against
// the inviter's email limit, for a number another user has. An existing user's invitation
// uses no profile, so its phone is not checked.
func (p *plugin) newInvitationPhone(profile map[string]any) error {
	if phone, _ := profile["phone_number"].(string); phone != "" {
		if fe := p.uniquenessErrors("", "", "", phone); len(fe) > 0 {
			return apikit.Invalid(fe)
		}
	}
	return nil
}

// answerInvite builds the assignment or invitation objects of a result.
func (p *plugin) answerInvite(res *inviteResult) (assignment any, invitation any, err error) {
	if res.assignment != nil {
		return res.assignment, nil, nil
	}
	inv, err := p.toInvitation(p.app, res.invitation)
	if err != nil {
		return nil, nil, err
	}
	return nil, inv, nil
}

// inviteAgent serves POST /api/v1/users/invite-agent/ and /api/v1/users/management/invite_agent/
// (§5.5.2).
func (p *plugin) inviteAgent(e *core.RequestEvent) error {
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return err
	}
	roleID, _ := body.String("role_id", apikit.Str{Required: true})
	systemID, hasSystem := body.String("system_id", apikit.Str{Nullable: true})
	userID, hasUser := body.String("user_id", apikit.Str{Nullable: true})
	email, hasEmail := body.Email("email", false)
	hasUser, hasEmail = hasUser && (userID != "" || body.Errors.Has("user_id")), hasEmail && (email != "" || body.Errors.Has("email"))
	profile := readProfileFields(body)
	switch {
	case !hasUser && !hasEmail:
		body.Errors.Add("non_field_errors", msgEitherUserOrEmail)
	case hasUser && hasEmail:
		body.Errors.Add("non_field_errors", msgNotBoth)
	}
	if body.Errors.Has("role_id") || body.Errors.Has("non_field_errors") {
		return body.Err()
	}
	// Step 1: lookups (404).
	var user *core.Record
	if hasUser && !body.Errors.Has("user_id") {
		if user, err = findByID(p.app, colUsers, userID); err != nil {
			return err
		}
		if user == nil {
			return apikit.NotFound(msgUserNotFound)
		}
	}
	var sys *core.Record
	if hasSystem && systemID != "" {
		if sys, err = findByID(p.app, colSystems, systemID); err != nil {
			return err
		}
		if sys == nil {
			return apikit.NotFound(msgSystemNotFound)
		}
	}
	role, err := findByID(p.app, colRoles, roleID)
	if err != nil {
		return err
	}
	if role == nil || (sys != nil && role.GetString("system") != sys.Id) {
		return apikit.NotFound(msgRoleNotInSystem)
	}
	if sys == nil {
		if sys, err = p.app.FindRecordById(colSystems, role.GetString("system")); err != nil {
			return err
		}
	}
	// Step 2: ADMIN(S).
	if err := permissions.RequireAdmin(e, sys.Id, msgNotAdminOfSystem); err != nil {
		return err
	}
	if err := body.Err(); err != nil {
		return err
	}
	// Step 3: an email of a verified account is that account.
	field := "user_id"
	if hasEmail {
		field = "email"
		existing, err := p.app.FindAuthRecordByEmail(colUsers, email)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err // not "no such account": inviting the address as new could duplicate it
		}
		if err == nil && existing != nil {
			if !existing.Verified() {
				return apikit.Conflict(msgUnverifiedAccount)
			}
			user = existing
		}
	}
	if user != nil && !user.GetBool("is_active") {
		return apikit.InvalidField(field, msgUserInactive)
	}
	if user == nil {
		if err := p.newInvitationPhone(profile); err != nil {
			return err
		}
	}
	res, err := p.inviteOutcome(e, sys, role, user, email, profile, msgAlreadyAssigned)
	if err != nil {
		return err
	}
	assignment, invitation, err := p.answerInvite(res)
	if err != nil {
		return err
	}
	out := apikit.NewOrderedObject(4)
	if user != nil {
		out.Set("status", "assigned")
		out.Set("message", "User "+user.Email()+" successfully invited to "+sys.GetString("name")+" as "+role.GetString("name"))
	} else {
		out.Set("status", "invited")
		out.Set("message", "Invitation sent to "+email+" for "+sys.GetString("name")+" as "+role.GetString("name"))
	}
	out.Set("assignment", assignment)
	out.Set("invitation", invitation)
	return apikit.WriteJSON(e, http.StatusCreated, out)
}

// systemRolesInvite serves POST /api/v1/system-roles/invite/ (§5.11.1).
func (p *plugin) systemRolesInvite(e *core.RequestEvent) error {
	body, err := apikit.ReadBody(e, apikit.BodyForm|apikit.BodyMultipart)
	if err != nil {
		return err
	}
	roleID, _ := body.String("role_id", apikit.Str{Required: true})
	var role, sys *core.Record
	if !body.Errors.Has("role_id") {
		if role, err = findByID(p.app, colRoles, roleID); err != nil {
			return err
		}
		if role == nil {
			body.Errors.Add("role_id", apikit.MsgInvalidChoice(roleID))
		} else if sys, err = p.app.FindRecordById(colSystems, role.GetString("system")); err != nil {
			return err
		}
	}
	email, _ := body.Email("email", true)
	profile := readProfileFields(body)
	if sys == nil {
		return body.Err()
	}
	if err := permissions.RequireAdmin(e, sys.Id, msgAccessDeniedSystem); err != nil {
		return err
	}
	if err := body.Err(); err != nil {
		return err
	}
	var user *core.Record
	existing, err := p.app.FindAuthRecordByEmail(colUsers, email)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if err == nil && existing != nil {
		if !existing.Verified() {
			return apikit.Conflict(msgUnverifiedAccount)
		}
		if !existing.GetBool("is_active") {
			return apikit.InvalidField("email", msgUserInactive)
		}
		user = existing
	}
	if user == nil {
		if err := p.newInvitationPhone(profile); err != nil {
			return err
		}
	}
	res, err := p.inviteOutcome(e, sys, role, user, email, profile,
		"User "+email+" already has a role in the "+sys.GetString("name")+" system.")
	if err != nil {
		return err
	}
	assignment, invitation, err := p.answerInvite(res)
	if err != nil {
		return err
	}
	out := apikit.NewOrderedObject(6)
	out.Set("user", email)
	out.Set("role", role.GetString("name"))
	out.Set("system", sys.GetString("slug"))
	if user != nil {
		out.Set("status", "assigned")
	} else {
		out.Set("status", "invited")
	}
	out.Set("assignment", assignment)
	out.Set("invitation", invitation)
	return apikit.WriteJSON(e, http.StatusCreated, out)
}

type availableUser struct {
	ID        string `db:"id" json:"id"`
	Email     string `db:"email" json:"email"`
	FirstName string `db:"first_name" json:"first_name"`
	LastName  string `db:"last_name" json:"last_name"`
}

type inviteRole struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type inviteSystem struct {
	ID    string       `json:"id"`
	Name  string       `json:"name"`
	Slug  string       `json:"slug"`
	Roles []inviteRole `json:"roles"`
}

// invitePage serves GET /api/v1/users/invite-agent/ and /api/v1/users/management/invite_agent/
// (§5.5.1): the HTML shell for browsers, else the JSON variant.
func (p *plugin) invitePage(e *core.RequestEvent) error {
	if apikit.WantsHTML(e) {
		return p.kit.ServePage(e, invitePageFile)
	}
	if err := permissions.RequireAnyAdmin(e); err != nil {
		return err
	}
	q := e.Request.URL.Query()
	_, ids, all, err := adminScope(e)
	if err != nil {
		return err
	}
	var scopeSystems []*core.Record
	sysQuery := p.app.RecordQuery(colSystems).OrderBy("[[name]] ASC", "[[id]] ASC")
	if !all {
		sysQuery = sysQuery.Where(dbx.In("id", idList(ids)...))
	}
	if err := sysQuery.All(&scopeSystems); err != nil {
		return err
	}
	targets := idList(ids)
	if all {
		targets = targets[:0]
		for _, s := range scopeSystems {
			targets = append(targets, s.Id)
		}
	}
	if slug := q.Get("system"); slug != "" {
		sys, err := findSystemBySlug(p.app, slug)
		if err != nil {
			return err
		}
		if sys == nil && all {
			return apikit.NotFound(msgSystemNotFound)
		}
		if sys == nil || !(all || ids[sys.Id]) {
			return apikit.PermissionDenied(msgNotAdminOfSystem)
		}
		targets = []any{sys.Id}
	}
	search := strings.TrimSpace(q.Get("search"))
	if len([]rune(search)) > apikit.MaxSearchLength {
		return apikit.InvalidField("search", apikit.MsgMaxLength(apikit.MaxSearchLength))
	}
	where := dbx.And(dbx.HashExp{"is_active": true, "is_superuser": false},
		dbx.NewExp("NOT EXISTS (SELECT 1 FROM user_system_roles a WHERE a.user = [[users.id]] AND "+inList("a.system", targets)+")", inParams(targets)))
	if search != "" {
		where = dbx.And(where, searchExp(search, "[[users.email]]", "[[users.username]]", "[[users.first_name]]", "[[users.last_name]]"))
	}
	users := []availableUser{}
	if err := p.app.DB().Select("id", "email", "first_name", "last_name").From(colUsers).Where(where).
		OrderBy("[[first_name]] ASC", "[[last_name]] ASC", "[[email]] ASC", "[[id]] ASC").Limit(int64(p.cfg.MaxAvailableUsers)).All(&users); err != nil {
		return err
	}
	systems := make([]inviteSystem, 0, len(scopeSystems))
	for _, s := range scopeSystems {
		roles, err := rolesOfSystem(p.app, s.Id)
		if err != nil {
			return err
		}
		item := inviteSystem{ID: s.Id, Name: s.GetString("name"), Slug: s.GetString("slug"), Roles: make([]inviteRole, 0, len(roles))}
		for _, r := range roles {
			item.Roles = append(item.Roles, inviteRole{ID: r.Id, Name: r.GetString("name")})
		}
		systems = append(systems, item)
	}
	out := apikit.NewOrderedObject(2)
	out.Set("available_users", users)
	out.Set("systems", systems)
	return apikit.WriteJSON(e, http.StatusOK, out)
}

var invitationOrdering = map[string]string{"created_at": "[[invitations.created]]", "expires_at": "[[invitations.expires_at]]", "email": "[[invitations.email]]"}

// listInvitations serves GET /api/v1/invitations/ (§5.15.5).
func (p *plugin) listInvitations(e *core.RequestEvent) error {
	q := e.Request.URL.Query()
	errs := apikit.FieldErrors{}
	status, hasStatus := apikit.QueryChoice(q, "status", []string{"pending", "accepted", "revoked", "expired", "all"}, errs)
	if !hasStatus && !errs.Has("status") {
		status = "pending"
	}
	pq, perr := apikit.ParsePageQuery(q, keys(invitationOrdering))
	_, ids, all, err := adminScope(e)
	if err != nil {
		return err
	}
	where := dbx.And()
	if !all {
		where = dbx.And(where, dbx.In("[[invitations.system]]", idList(ids)...))
	}
	if slug := q.Get("system"); slug != "" {
		sys, err := findSystemBySlug(p.app, slug)
		if err != nil {
			return err
		}
		if sys == nil && all {
			return apikit.NotFound(msgSystemNotFound)
		}
		if sys == nil || !(all || ids[sys.Id]) {
			return apikit.PermissionDenied(msgAccessDeniedSystem)
		}
		where = dbx.And(where, dbx.HashExp{"invitations.system": sys.Id})
	}
	mergeErr(errs, perr)
	if err := errs.Err(); err != nil {
		return err
	}
	now := dbx.Params{"now": types.NowDateTime().String()}
	switch status {
	case "accepted":
		where = dbx.And(where, dbx.NewExp("[[invitations.accepted_at]] != ''"))
	case "revoked":
		where = dbx.And(where, dbx.NewExp("[[invitations.accepted_at]] = '' AND [[invitations.revoked_at]] != ''"))
	case "expired":
		where = dbx.And(where, dbx.NewExp("[[invitations.accepted_at]] = '' AND [[invitations.revoked_at]] = '' AND [[invitations.expires_at]] <= {:now}", now))
	case "pending":
		where = dbx.And(where, dbx.NewExp("[[invitations.accepted_at]] = '' AND [[invitations.revoked_at]] = '' AND [[invitations.expires_at]] > {:now}", now))
	}
	if pq.Search != "" {
		where = dbx.And(where, searchExp(pq.Search, "[[invitations.email]]"))
	}
	order := orderBy(pq, invitationOrdering, []apikit.OrderField{{Field: "created_at", Desc: true}}, "[[invitations.id]]")
	recs, count, err := p.pageRecords(colInvitations, where, pq, order, nil)
	if err != nil {
		return err
	}
	out := make([]invitationJSON, 0, len(recs))
	for _, r := range recs {
		inv, err := p.toInvitation(p.app, r)
		if err != nil {
			return err
		}
		out = append(out, inv)
	}
	return p.writePage(e, pq, count, out)
}

// revokeInvitation serves DELETE /api/v1/invitations/{id}/ (§5.15.5): the record stays, its
// link stops working.
func (p *plugin) revokeInvitation(e *core.RequestEvent) error {
	inv, err := findByID(p.app, colInvitations, e.Request.PathValue("id"))
	if err != nil {
		return err
	}
	s, err := permissions.For(e)
	if err != nil {
		return err
	}
	if inv == nil || !s.IsAdmin(inv.GetString("system")) {
		return apikit.NotFound(msgInvitationNotFound)
	}
	_, err = p.updateAudited(colInvitations, inv.Id, apikit.NotFound(msgInvitationNotFound), func(tx core.App, rec *core.Record) (audit.Entry, error) {
		if invitationStatus(rec, time.Now()) != "pending" {
			return audit.Entry{}, apikit.Conflict(msgOnlyPendingRevoked)
		}
		rec.Set("revoked_at", types.NowDateTime())
		rec.Set("revoked_by", s.UserID())
		return actorEntry(e, "invitation.revoked", "invitation", rec.Id, slugOf(tx, rec.GetString("system"))), nil
	})
	if err != nil {
		return err
	}
	return e.NoContent(http.StatusNoContent)
}

// usableInvitation finds the invitation of a token that acceptance would take at stage (2):
// pending, and its inviter still exists, is active and is still ADMIN of its system (§5.15.5).
// nil when there is none.
func usableInvitation(app core.App, token string) (*core.Record, error) {
	if token == "" {
		return nil, nil
	}
	hash := hashToken(token)
	inv, err := app.FindFirstRecordByData(colInvitations, "token_hash", hash)
	if err != nil || inv == nil {
		return nil, nil
	}
	if subtle.ConstantTimeCompare([]byte(inv.GetString("token_hash")), []byte(hash)) != 1 ||
		invitationStatus(inv, time.Now()) != "pending" {
		return nil, nil
	}
	inviter, err := findByID(app, colUsers, inv.GetString("invited_by"))
	if err != nil || inviter == nil || !inviter.GetBool("is_active") {
		return nil, err
	}
	if inviter.GetBool("is_superuser") {
		return inv, nil
	}
	rows, err := permissions.Assignments(app, inviter.Id)
	if err != nil {
		return nil, err
	}
	for _, a := range rows {
		if a.GrantsAdmin() && a.SystemID == inv.GetString("system") {
			return inv, nil
		}
	}
	return nil, nil
}

// checkInvitation serves GET /api/v1/invitations/accept/ (§5.15.5): nothing is consumed.
func (p *plugin) checkInvitation(e *core.RequestEvent) error {
	if apikit.WantsHTML(e) {
		return p.kit.ServePage(e, acceptPageFile)
	}
	token := apikit.Query(e).Get("token")
	if token == "" {
		return apikit.InvalidField("token", apikit.MsgRequired)
	}
	inv, err := usableInvitation(p.app, token)
	if err != nil {
		return err
	}
	out := apikit.NewOrderedObject(5)
	if inv == nil {
		out.Set("valid", false)
		return apikit.WriteJSON(e, http.StatusOK, out)
	}
	j, err := p.toInvitation(p.app, inv)
	if err != nil {
		return err
	}
	out.Set("valid", true)
	out.Set("email", j.Email)
	out.Set("system_name", j.SystemName)
	out.Set("role_name", j.RoleName)
	out.Set("expires_at", j.ExpiresAt)
	return apikit.WriteJSON(e, http.StatusOK, out)
}

// acceptInvitation serves POST /api/v1/invitations/accept/ (§5.15.5): the account (with the
// invitation's email, whatever the body says), its assignment and the invitation's acceptance
// in one transaction; the token works once.
func (p *plugin) acceptInvitation(e *core.RequestEvent) error {
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return err
	}
	// (1) required
	token, _ := body.String("token", apikit.Str{Required: true, Raw: true})
	password, _ := body.String("password", apikit.Str{Required: true, Raw: true, BlankMsg: apikit.MsgRequired})
	confirm, _ := body.String("password_confirm", apikit.Str{Required: true, Raw: true}) // blank when empty (§1.4): not the password being set
	if err := body.Err(); err != nil {
		return err
	}
	// (2) token
	inv, err := usableInvitation(p.app, token)
	if err != nil {
		return err
	}
	if inv == nil {
		return apikit.InvalidField("token", msgInvalidInvitation)
	}
	email := inv.GetString("email")
	// (3) an account with that email
	if p.taken(colUsers, "[[email]] = {:v} COLLATE NOCASE", email, "") {
		return apikit.Conflict(msgAccountExists)
	}
	// (4) confirmation
	if confirm != password {
		return apikit.InvalidField("password_confirm", msgPasswordsDoNotMatch)
	}
	// (5) policy and field rules
	username, _ := body.Username("username", false)
	fields := map[string]any{}
	stored := map[string]any{}
	_ = inv.UnmarshalJSONField("profile", &stored)
	for k, v := range stored {
		fields[k] = v
	}
	for k, v := range readProfileFields(body) {
		fields[k] = v
	}
	phone, _ := fields["phone_number"].(string)
	addAll(body.Errors, p.uniquenessErrors("", "", username, phone))
	name := username
	if name == "" {
		name = profiles.UsernameBase(email)
	}
	for _, m := range passwordsPolicyCheck(p, e, password, name, email) {
		body.Errors.Add("password", m)
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
	user.SetVerified(true)
	user.Set("username", username)
	for k, v := range fields {
		user.Set(k, v)
	}
	user.Set("status", "Approved")
	user.Set("is_active", true)
	user.Set("is_staff", false)
	user.Set("is_superuser", false)
	if err := p.pool.SetPassword(e.Request.Context(), user, password); err != nil {
		return err
	}
	err = p.app.RunInTransaction(func(tx core.App) error {
		// Stage (2) again, as things are now: single use under concurrency (transactions are
		// serialised on the write connection), and an inviter who lost ADMIN of the system (or
		// was deactivated) since the first check invites nobody.
		rec, err := usableInvitation(tx, token)
		if err != nil {
			return err
		}
		if rec == nil || rec.Id != inv.Id {
			return apikit.InvalidField("token", msgInvalidInvitation)
		}
		if err := tx.Save(user); err != nil {
			return err
		}
		acol, err := tx.FindCachedCollectionByNameOrId(colAssignments)
		if err != nil {
			return err
		}
		a := core.NewRecord(acol)
		a.Set("user", user.Id)
		a.Set("system", rec.GetString("system"))
		a.Set("role", rec.GetString("role"))
		a.Set("is_active", true)
		if err := tx.Save(a); err != nil {
			return err
		}
		rec.Set("accepted_at", types.NowDateTime())
		rec.Set("accepted_user", user.Id)
		if err := tx.Save(rec); err != nil {
			return err
		}
		entry := audit.FromRequest(e, "invitation.accepted", true)
		entry.TargetType, entry.TargetID, entry.System = "invitation", rec.Id, slugOf(tx, rec.GetString("system"))
		if err := audit.Log(tx, entry); err != nil {
			return err
		}
		entry = audit.FromRequest(e, "user.created", true)
		entry.TargetType, entry.TargetID = "user", user.Id
		return audit.Log(tx, entry)
	})
	if err != nil {
		if ae, ok := err.(*apikit.Error); ok {
			return ae
		}
		if p.taken(colUsers, "[[email]] = {:v} COLLATE NOCASE", email, "") {
			return apikit.Conflict(msgAccountExists)
		}
		if fe := p.uniquenessErrors("", "", username, phone); len(fe) > 0 {
			return apikit.Invalid(fe)
		}
		return err
	}
	prof, err := profiles.UserProfile(p.app, p.kit.AppURL(), user, "")
	if err != nil {
		return err
	}
	out := apikit.NewOrderedObject(2)
	out.Set("message", msgInvitationAccepted)
	out.Set("user", prof)
	return apikit.WriteJSON(e, http.StatusCreated, out)
}

func passwordsPolicyCheck(p *plugin, e *core.RequestEvent, password, username, email string) []string {
	return passwords.NewPolicy(p.cfg).Check(e.Request.Context(), password, username, email)
}
