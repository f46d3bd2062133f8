package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Indexes behind every ordering and filter of the directory lists (§5.3.3, §5.4, §5.9–§5.11,
// §5.15.5), so a page of 100,000 users is read in index order instead of sorted in full.
// Substring search (§1.8) scans the rows it has to test; the index gives the order.
var directoryIndexes = map[string][][2]string{
	"users": {
		{"idx_users_created", "`created`"},
		{"idx_users_username_order", "`username`"},
		{"idx_users_first_name", "`first_name`"},
		{"idx_users_last_name", "`last_name`"},
		{"idx_users_last_login", "`last_login`"},
		{"idx_users_status", "`status`"},
		{"idx_users_is_active", "`is_active`"},
	},
	"user_system_roles": {
		{"idx_user_system_roles_system_user", "`system`, `user`"},
		{"idx_user_system_roles_assigned_at", "`assigned_at`"},
	},
	"roles":   {{"idx_roles_created", "`created`"}},
	"systems": {{"idx_systems_created", "`created`"}},
	"invitations": {
		{"idx_invitations_system_created", "`system`, `created`"},
		{"idx_invitations_invited_by_created", "`invited_by`, `created`"},
		{"idx_invitations_created", "`created`"},
		{"idx_invitations_expires_at", "`expires_at`"},
		{"idx_invitations_email", "`email`"},
	},
}

func init() {
	m.Register(func(app core.App) error {
		for name, idxs := range directoryIndexes {
			c, err := app.FindCollectionByNameOrId(name)
			if err != nil {
				return err
			}
			for _, idx := range idxs {
				c.AddIndex(idx[0], false, idx[1], "")
			}
			if err := app.Save(c); err != nil {
				return err
			}
		}
		return nil
	}, func(app core.App) error {
		for name, idxs := range directoryIndexes {
			c, err := app.FindCollectionByNameOrId(name)
			if err != nil {
				continue
			}
			for _, idx := range idxs {
				c.RemoveIndex(idx[0])
			}
			if err := app.Save(c); err != nil {
				return err
			}
		}
		return nil
	})
}
