package pb_migrations

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// DefaultSystem is one row of the seed table of spec §2.20.
type DefaultSystem struct {
	Slug  string
	Name  string
	Roles []string
}

// DefaultSystems is the seed table of §2.20, in order.
var DefaultSystems = []DefaultSystem{
	{Slug: "hdts", Name: "Help Desk and Ticketing System", Roles: []string{"Admin", "Employee", "Ticket Coordinator"}},
	{Slug: "tts", Name: "Ticket Tracking System", Roles: []string{"Admin", "Asset Manager", "Budget Manager"}},
	{Slug: "ams", Name: "Asset Management System", Roles: []string{"Admin", "Operator"}},
	{Slug: "bms", Name: "Budget Management System", Roles: []string{"Admin", "ADMIN", "FINANCE_HEAD", "GENERAL_USER"}},
}

// AdminRoleName is the role every system has; permission checks compare it case-sensitively.
const AdminRoleName = "Admin"

// AdminRoleDescription is the description of a system's default `Admin` role.
func AdminRoleDescription(systemName string) string {
	return "Administrator role for " + systemName
}

// EnsureDefaultSystems makes sure every listed system (all when slugs is empty) exists with its default roles;
// idempotent; runs in one transaction (app.RunInTransaction) unless app is already a transaction app
// (calling RunInTransaction on a tx app is fine in PocketBase: it reuses it).
//
// Systems are matched by slug and roles by exact name within their system; missing ones are
// created with is_custom=false. Existing records are never changed. It never creates users.
// created counts the system and role records that appeared, including a default `Admin` role
// that a systems create hook may have added.
func EnsureDefaultSystems(app core.App, slugs ...string) (created int, err error) {
	selected, err := selectDefaultSystems(slugs)
	if err != nil {
		return 0, err
	}

	err = app.RunInTransaction(func(txApp core.App) error {
		created = 0
		for _, ds := range selected {
			n, err := ensureDefaultSystem(txApp, ds)
			created += n
			if err != nil {
				return fmt.Errorf("default system %q: %w", ds.Slug, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return created, nil
}

func selectDefaultSystems(slugs []string) ([]DefaultSystem, error) {
	if len(slugs) == 0 {
		return DefaultSystems, nil
	}
	selected := make([]DefaultSystem, 0, len(slugs))
	for _, slug := range slugs {
		found := false
		for _, ds := range DefaultSystems {
			if ds.Slug == slug {
				selected = append(selected, ds)
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown default system %q", slug)
		}
	}
	return selected, nil
}

func ensureDefaultSystem(txApp core.App, ds DefaultSystem) (created int, err error) {
	systems, err := txApp.FindCollectionByNameOrId("systems")
	if err != nil {
		return 0, err
	}
	roles, err := txApp.FindCollectionByNameOrId("roles")
	if err != nil {
		return 0, err
	}

	system, err := txApp.FindFirstRecordByData(systems, "slug", ds.Slug)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		system = core.NewRecord(systems)
		system.Set("slug", ds.Slug)
		system.Set("name", ds.Name)
		if err := txApp.Save(system); err != nil {
			return 0, err
		}
		created++
	case err != nil:
		return 0, err
	}

	// Read the roles after saving the system: a create hook may already have added `Admin`.
	existing, err := txApp.FindAllRecords(roles, dbx.HashExp{"system": system.Id})
	if err != nil {
		return created, err
	}
	if created > 0 {
		created += len(existing)
	}
	names := make(map[string]bool, len(existing))
	for _, r := range existing {
		names[r.GetString("name")] = true
	}

	for _, name := range ds.Roles {
		if names[name] {
			continue
		}
		role := core.NewRecord(roles)
		role.Set("system", system.Id)
		role.Set("name", name)
		role.Set("is_custom", false)
		if name == AdminRoleName {
			role.Set("description", AdminRoleDescription(system.GetString("name")))
		}
		if err := txApp.Save(role); err != nil {
			return created, err
		}
		names[name] = true
		created++
	}
	return created, nil
}
