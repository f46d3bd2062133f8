package accounts

import "github.com/pocketbase/pocketbase/core"

// SettleAfterAnswer waits until the work queued after earlier answers (forgot-password) has run.
func SettleAfterAnswer(app core.App) {
	if q, ok := app.Store().Get(afterAnswerKey).(*afterAnswer); ok {
		q.settle()
	}
}
