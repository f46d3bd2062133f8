package profiles_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/hooks"
	"gatehouse/plugins/profiles"
	"gatehouse/plugins/writeepoch"
	"gatehouse/testkit"
)

// The cached encoding is reused only while nothing it was built from changed: the record, any
// write to the database (assignments), the lock's end.
func TestUserProfileBytesFollowsChanges(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, func(app *tests.TestApp) { hooks.Register(app); writeepoch.WatchWrites(app) })
	col, err := app.FindCollectionByNameOrId("users")
	must(t, err)
	u := core.NewRecord(col)
	u.SetEmail("cached@example.com")
	u.SetPassword("Cached-Pass-9")
	u.Set("first_name", "Cached")
	u.Set("is_active", true)
	u.Set("locked_until", time.Now().Add(2500*time.Millisecond))
	must(t, app.Save(u))
	time.Sleep(1100 * time.Millisecond) // let the set-up writes settle

	decode := func(b []byte) map[string]any {
		t.Helper()
		var m map[string]any
		must(t, json.Unmarshal(b, &m))
		return m
	}
	b1, err := profiles.UserProfileBytes(app, "https://a.example", u, "")
	must(t, err)
	if m := decode(b1); m["is_locked"] != true || m["first_name"] != "Cached" {
		t.Fatalf("first answer: %s", b1)
	}
	b2, err := profiles.UserProfileBytes(app, "https://a.example", u, "")
	must(t, err)
	if &b1[0] != &b2[0] {
		t.Fatal("second read was not served from the cache")
	}
	want, err := profiles.UserProfile(app, "https://a.example", u, "")
	must(t, err)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(b1, wantJSON) {
		t.Fatalf("cached encoding differs from UserProfile:\n%s\n%s", b1, wantJSON)
	}

	// the lock ends: is_locked flips without any write
	time.Sleep(time.Until(u.GetDateTime("locked_until").Time()) + 50*time.Millisecond)
	b3, err := profiles.UserProfileBytes(app, "https://a.example", u, "")
	must(t, err)
	if decode(b3)["is_locked"] != false {
		t.Fatalf("after the lock: %s", b3)
	}

	// a record change (new "updated") and an assignment write are seen at once
	u.Set("first_name", "Changed")
	must(t, app.Save(u))
	b4, err := profiles.UserProfileBytes(app, "https://a.example", u, "")
	must(t, err)
	if decode(b4)["first_name"] != "Changed" {
		t.Fatalf("after the change: %s", b4)
	}
	sys, err := app.FindFirstRecordByData("systems", "slug", "tts")
	must(t, err)
	role, err := app.FindFirstRecordByData("roles", "system", sys.Id)
	must(t, err)
	acol, err := app.FindCollectionByNameOrId("user_system_roles")
	must(t, err)
	a := core.NewRecord(acol)
	a.Set("user", u.Id)
	a.Set("system", sys.Id)
	a.Set("role", role.Id)
	a.Set("is_active", true)
	must(t, app.Save(a))
	b5, err := profiles.UserProfileBytes(app, "https://a.example", u, "")
	must(t, err)
	if roles, _ := decode(b5)["system_roles"].([]any); len(roles) != 1 {
		t.Fatalf("after the assignment: %s", b5)
	}
}

// A profile built from a record read before a plain UPDATE (2FA switched on: otp_enabled and
// otp_method change, "updated" does not) and stored under the epoch after it must not answer for
// the record read after it (found in review: the hot path's record may come from the live-session
// cache, read before the write).
func TestUserProfileBytesIgnoresAStaleRecordsEntry(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, func(app *tests.TestApp) { hooks.Register(app); writeepoch.WatchWrites(app) })
	col, err := app.FindCollectionByNameOrId("users")
	must(t, err)
	u := core.NewRecord(col)
	u.SetEmail("stale@example.com")
	u.SetPassword("Cached-Pass-9")
	u.Set("is_active", true)
	must(t, app.Save(u))
	old, err := app.FindRecordById("users", u.Id)
	must(t, err)
	_, err = app.DB().Update("users", map[string]any{"otp_enabled": true, "otp_method": "totp"}, dbx.HashExp{"id": u.Id}).Execute()
	must(t, err)
	time.Sleep(50 * time.Millisecond)

	stale, err := profiles.UserProfileBytes(app, "https://a.example", old, "") // the late request
	must(t, err)
	fresh, err := app.FindRecordById("users", u.Id)
	must(t, err)
	if !fresh.GetDateTime("updated").Time().Equal(old.GetDateTime("updated").Time()) {
		t.Fatal("setup: the plain UPDATE moved updated")
	}
	got, err := profiles.UserProfileBytes(app, "https://a.example", fresh, "")
	must(t, err)
	var m map[string]any
	must(t, json.Unmarshal(got, &m))
	if m["otp_enabled"] != true || m["otp_method"] != "totp" {
		t.Fatalf("profile of the fresh record served from the stale entry: %s (stale: %.80s)", got, stale)
	}
}
