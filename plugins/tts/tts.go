// Package tts serves the TTS endpoints of spec/API.md §5.13, §5.14.4 and §5.15.4: the fair
// round-robin assignment of agents to tickets, TTS roles and assignments, and the user
// information that other services read with an API key.
//
// Who holds a role comes from the shared assignments reader (permissions.RoleHolders); this
// package keeps no cache of its own.
package tts

import (
	"errors"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/prepared"
)

// Deps are the services the endpoints use.
type Deps struct {
	Kit *apikit.Kit
}

type plugin struct {
	kit   *apikit.Kit
	picks picker // the round-robin picks of this app, batched (roundrobin.go)
}

var errDeps = errors.New("tts: missing dependencies")

// Register mounts the plugin's routes; call it from OnServe.
func Register(se *core.ServeEvent, deps Deps) error {
	if deps.Kit == nil {
		return errDeps
	}
	p := &plugin{kit: deps.Kit}
	table, err := apikit.WithDocs(p.routes(), docs)
	if err != nil {
		return err
	}
	return deps.Kit.Mount(se.Router, table)
}

// SystemSlug is the system every TTS endpoint works on (§5.13).
const SystemSlug = "tts"

// system is a row of systems.
type system struct {
	ID, Name, Slug string
}

const systemBySlugQuery = "SELECT id, name, slug FROM systems WHERE slug = {:slug}"

// findSystem returns the system with that slug, or nil when there is none.
func findSystem(app core.App, slug string) (*system, error) {
	rows, err := prepared.Rows(app, systemBySlugQuery, dbx.Params{"slug": slug})
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	r := rows[0]
	return &system{ID: r["id"].String, Name: r["name"].String, Slug: r["slug"].String}, nil
}

// slugOf is the slug of the system with that record id, as audit rows name it (§2.18).
func slugOf(app core.App, id string) (string, error) {
	rows, err := prepared.Rows(app, systemSlugByIDQuery, dbx.Params{"id": id})
	if err != nil || len(rows) == 0 {
		return "", err
	}
	return rows[0]["slug"].String, nil
}

const systemSlugByIDQuery = "SELECT slug FROM systems WHERE id = {:id}"

// ttsSystem is system tts (a 500 if it was deleted: the endpoints have nothing to work on).
func ttsSystem(app core.App) (*system, error) {
	s, err := findSystem(app, SystemSlug)
	if err == nil && s == nil {
		err = errors.New("tts: system tts does not exist")
	}
	return s, err
}

// serviceBoundElsewhere is the SERVICE half of an Auth line that accepts keys "unbound or
// bound to tts" (§5.13.7, §5.15.4): a key bound to another system gets 403.
func serviceBoundElsewhere(e *core.RequestEvent, tts *system) error {
	c := apikit.CallerOf(e)
	if c == nil || c.Kind != apikit.KindService || c.Record == nil {
		return nil
	}
	if bound := c.Record.GetString("system"); bound != "" && bound != tts.ID {
		return apikit.PermissionDenied("")
	}
	return nil
}

// actor fills the audit entry's actor from the request's caller.
func actor(e *core.RequestEvent, entry *audit.Entry) {
	c := apikit.CallerOf(e)
	if c == nil || c.Record == nil {
		return
	}
	switch c.Kind {
	case apikit.KindService:
		entry.ActorType, entry.ActorID = audit.ActorService, c.Record.Id
	case apikit.KindStaff:
		entry.ActorType, entry.ActorID = "staff", c.Record.Id
	}
}

// fullName is first_name + " " + last_name, trimmed (§3.2 note 2).
func fullName(first, last string) string { return strings.TrimSpace(first + " " + last) }

// upperSlug is <SLUG> of the messages (the slug upper-cased).
func upperSlug(slug string) string {
	b := []byte(slug)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
