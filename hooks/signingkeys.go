package hooks

import (
	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
)

// MsgLastActiveKey refuses a write that would leave no active signing key (§2.19).
const MsgLastActiveKey = "The only active signing key cannot be retired or deleted: rotate the keys instead (`keys rotate`)."

// keepAnActiveSigningKey refuses to retire or delete the active signing key unless another
// active key exists (§2.19: exactly one is active; without one every login, refresh and JWKS
// request fails until a restart). Rotation writes the new key before it retires the old one, so
// it passes. The check and the write share a transaction on the single write connection, so two
// writes at once cannot both retire "the other" key.
func keepAnActiveSigningKey(e *core.RecordEvent) error {
	return e.App.RunInTransaction(func(tx core.App) error {
		e.App = tx
		orig, err := storedRecord(e)
		if err != nil {
			return err
		}
		stays := e.Type == core.ModelEventTypeUpdate && e.Record.GetString("status") == "active"
		if orig.GetString("status") != "active" || stays {
			return e.Next()
		}
		others, err := tx.CountRecords("signing_keys", dbx.HashExp{"status": "active"}, dbx.Not(dbx.HashExp{"id": e.Record.Id}))
		if err != nil {
			return err
		}
		if others == 0 {
			return router.NewBadRequestError(MsgLastActiveKey, validation.Errors{
				"status": validation.NewError("validation_last_active_key", MsgLastActiveKey)})
		}
		return e.Next()
	})
}
