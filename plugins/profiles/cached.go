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
	raw        rawStamp  // and its fields that change without "updated"
	appURL     string    // profile_picture is built from it
	validUntil time.Time // is_locked flips at locked_until
}

// rawStamp holds the profile fields that plain UPDATEs change without touching "updated" (2FA
// on/off, a lock, last_login): a profile built from a record read before such a write must not
// answer for the record read after it. Read without allocating (the hot path compares it).
type rawStamp struct {
	otpEnabled  bool
	otpMethod   string
	lockedUntil time.Time
	lastLogin   time.Time
}

func rawStampOf(user *core.Record) rawStamp {
	return rawStamp{
		otpEnabled:  user.GetBool("otp_enabled"),
		otpMethod:   user.GetString("otp_method"),
		lockedUntil: user.GetDateTime("locked_until").Time(),
		lastLogin:   user.GetDateTime("last_login").Time(),
	}
}

func (a rawStamp) equal(b rawStamp) bool {
	return a.otpEnabled == b.otpEnabled && a.otpMethod == b.otpMethod &&
		a.lockedUntil.Equal(b.lockedUntil) && a.lastLogin.Equal(b.lastLogin)
}

// UserProfileBytes is UserProfile(app, appURL, user, systemSlug) encoded as JSON
// (apikit.MarshalJSON). The encoding is kept under the write epoch (plugins/writeepoch), like
// the record and assignment rows it is built from, and keyed by the record's id and "updated"
// stamp and the fields plain UPDATEs change without it (rawStamp: the record a profile is built
// from may have been read before the write whose epoch it is stored under), so a token check
// followed by a profile answer reads and encodes nothing until the next write; a profile with a lock in progress is rebuilt once the lock ends (is_locked).
// The returned slice is shared: callers must not modify it.
func UserProfileBytes(app core.App, appURL string, user *core.Record, systemSlug string) ([]byte, error) {
	cache := encodedProfiles(app)
	key := user.Id + "/" + systemSlug
	updated, raw := user.GetDateTime("updated").Time(), rawStampOf(user)
	now := time.Now()
	if hit, ok := cache.Get(app, key); ok && hit.updated.Equal(updated) && hit.raw.equal(raw) && hit.appURL == appURL && now.Before(hit.validUntil) {
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
		cache.Put(app, key, before, encodedProfile{body: body, updated: updated, raw: raw, appURL: appURL, validUntil: validUntil})
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
