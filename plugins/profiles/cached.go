package profiles

import (
	"time"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/writeepoch"
)

// encodedProfile is a UserProfile as JSON, cached for the read-only hot paths.
type encodedProfile struct {
	body       []byte
	updated    time.Time // the record's "updated" it was built from
	appURL     string    // profile_picture is built from it
	validUntil time.Time // is_locked flips at locked_until
}

// UserProfileBytes is UserProfile(app, appURL, user, systemSlug) encoded as JSON
// (apikit.MarshalJSON). The encoding is kept under the write epoch (plugins/writeepoch), like
// the record and assignment rows it is built from, and keyed by the record's id and "updated"
// stamp, so a token check followed by a profile answer reads and encodes nothing until the
// next write; a profile with a lock in progress is rebuilt once the lock ends (is_locked).
// The returned slice is shared: callers must not modify it.
func UserProfileBytes(app core.App, appURL string, user *core.Record, systemSlug string) ([]byte, error) {
	cache := encodedProfiles(app)
	key := user.Id + "/" + systemSlug
	updated := user.GetDateTime("updated").Time()
	now := time.Now()
	if hit, ok := cache.Get(app, key); ok && hit.updated.Equal(updated) && hit.appURL == appURL && now.Before(hit.validUntil) {
		return hit.body, nil
	}
	before := writeepoch.Epoch(app)
	p, err := UserProfile(app, appURL, user, systemSlug)
	if err != nil {
		return nil, err
	}
	body, err := apikit.MarshalJSON(p)
	if err != nil {
		return nil, err
	}
	validUntil := now.Add(time.Hour) // the snapshot's own maximum age is far shorter
	if until := user.GetDateTime("locked_until"); !until.IsZero() && until.Time().After(now) {
		validUntil = until.Time()
	}
	if len(systemSlug) <= maxCachedSlug { // an arbitrary ?system= is answered, not kept
		cache.Put(app, key, before, encodedProfile{body: body, updated: updated, appURL: appURL, validUntil: validUntil})
	}
	return body, nil
}

// maxCachedSlug bounds the ?system= values whose answers are cached (system slugs are short).
const maxCachedSlug = 64

func encodedProfiles(app core.App) *writeepoch.SnapshotCache[encodedProfile] {
	return app.Store().GetOrSet("gatehouse.profiles.encoded", func() any {
		return &writeepoch.SnapshotCache[encodedProfile]{}
	}).(*writeepoch.SnapshotCache[encodedProfile])
}
