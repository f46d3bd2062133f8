package directory

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/permissions"
	"gatehouse/plugins/profiles"
	"gatehouse/plugins/writeepoch"
	"gatehouse/testkit"
)

// TestPageProfilesMatchUserProfile: the page build of the user lists (pageProfiles: plain rows,
// one assignments query) gives byte for byte the JSON of scopedProfile on each user's record
// (profiles.UserProfile), for every kind of value (nulls, locks past and future, pictures, last
// logins, OTP, inactive assignments, users without any) and system scope, in the page's order.
func TestPageProfilesMatchUserProfile(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	cfg := testkit.Config()
	cfg.AppURLOverride = "https://auth.example.com/"
	p := &plugin{app: app, kit: apikit.New(app, cfg)}
	r := rand.New(rand.NewPCG(7, 11))
	var systems, roles []*core.Record
	var err error
	if systems, err = app.FindAllRecords(colSystems); err != nil || len(systems) < 2 {
		t.Fatalf("systems: %d, %v", len(systems), err)
	}
	if roles, err = app.FindAllRecords(colRoles); err != nil {
		t.Fatal(err)
	}
	pick := func(vs ...string) string { return vs[r.IntN(len(vs))] }
	var ids []string
	err = app.RunInTransaction(func(tx core.App) error {
		for i := range 60 {
			id := fmt.Sprintf("page%011d", i)
			row := dbx.Params{"id": id, "tokenKey": "tk" + id, "email": fmt.Sprintf("u%d@example.com", i),
				"username": fmt.Sprintf("user%d", i), "first_name": pick("Ana", "Ñino", `Jo"e`, "", "<b>&"),
				"middle_name": pick("", "Cruz"), "last_name": pick("", "Peña", "Smith"), "suffix": pick("", "Jr.", "III"),
				"phone_number": pick("", fmt.Sprintf("+63917%07d", i)), "company_id": fmt.Sprintf("MA%04d", i),
				"department": pick("", "IT Department"), "status": pick("Pending", "Approved", "Rejected"),
				"notified": r.IntN(2) == 0, "is_active": r.IntN(3) > 0, "is_staff": r.IntN(2) == 0,
				"is_superuser": r.IntN(5) == 0, "otp_enabled": r.IntN(2) == 0, "otp_method": pick("", "totp", "email"),
				"profile_picture": pick("", "me_abc123.png", "a b+c.jpg"),
				"created":         fmt.Sprintf("2025-%02d-%02d 10:11:12.%03dZ", 1+r.IntN(12), 1+r.IntN(28), r.IntN(1000)),
				"last_login":      pick("", "2026-03-04 05:06:07.890Z"),
				"locked_until":    pick("", "2020-01-01 00:00:00.000Z", "2999-01-01 00:00:00.000Z"),
			}
			if _, err := tx.DB().Insert(colUsers, row).Execute(); err != nil {
				return err
			}
			ids = append(ids, id)
			for _, sys := range systems {
				if r.IntN(3) > 0 {
					continue
				}
				var sysRoles []*core.Record
				for _, role := range roles {
					if role.GetString("system") == sys.Id {
						sysRoles = append(sysRoles, role)
					}
				}
				if len(sysRoles) == 0 {
					continue
				}
				a := dbx.Params{"id": fmt.Sprintf("as%d%s", i, sys.Id)[:15], "user": id, "system": sys.Id,
					"role": sysRoles[r.IntN(len(sysRoles))].Id, "is_active": r.IntN(4) > 0,
					"assigned_at":    fmt.Sprintf("2025-06-%02d 01:02:03.004Z", 1+r.IntN(28)),
					"last_logged_on": pick("", "2026-01-02 03:04:05.006Z")}
				if _, err := tx.DB().Insert(colAssignments, a).Execute(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	page := slices.Clone(ids)
	r.Shuffle(len(page), func(i, j int) { page[i], page[j] = page[j], page[i] })
	page = append(page[:40], "nosuchuser00000") // an id gone since the id pass is left out
	scopes := []map[string]bool{nil, {systems[0].Id: true}, {systems[0].Id: true, systems[1].Id: true}, {}}
	for _, scope := range scopes {
		got, err := p.pageProfiles(page, scope)
		if err != nil {
			t.Fatal(err)
		}
		gotJSON, _ := json.Marshal(got)
		var want []any
		for _, id := range page {
			rec, err := findByID(app, colUsers, id)
			if err != nil {
				t.Fatal(err)
			}
			if rec == nil {
				continue
			}
			prof, err := p.scopedProfile(rec, scope)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, prof)
		}
		wantJSON, _ := json.Marshal(want)
		if string(gotJSON) != string(wantJSON) {
			t.Errorf("scope %v:\n got %s\nwant %s", scope, gotJSON, wantJSON)
		}
		if scope == nil {
			withRoles, withPicture, locked := 0, 0, 0
			for _, prof := range got {
				if len(prof.SystemRoles) > 0 {
					withRoles++
				}
				if prof.ProfilePicture != nil {
					withPicture++
				}
				if prof.IsLocked {
					locked++
				}
			}
			if withRoles < 10 || withPicture < 10 || locked < 5 {
				t.Errorf("the data proves little: %d with roles, %d with pictures, %d locked", withRoles, withPicture, locked)
			}
		}
		if len(got) != 40 {
			t.Errorf("scope %v: %d profiles, want 40", scope, len(got))
		}
	}
	if got, err := p.pageProfiles(nil, nil); err != nil || got == nil || len(got) != 0 {
		t.Errorf("empty page: %v, %v", got, err)
	}

	// A catalog read before a system or role existed (a write that committed between the
	// catalog's read and the assignments'): the page reads the tables again and still matches.
	want, err := p.pageProfiles(page, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeepoch.WatchWrites(app) // (the plugins' registration does it; this test app has none)
	stale := &writeepoch.SnapshotCache[*permissions.Catalog]{}
	stale.Put(app, "", writeepoch.Epoch(app), &permissions.Catalog{Systems: map[string]permissions.CatalogSystem{}, Roles: map[string]string{}})
	app.Store().Set("gatehouse.permissions.catalog", stale)
	if c, err := permissions.Catalogue(app, false); err != nil || len(c.Systems) != 0 {
		t.Fatalf("the stale catalog is not the cached one: %v %v", c, err)
	}
	got, err := p.pageProfiles(page, nil)
	if err != nil {
		t.Fatal(err)
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if g, w := string(gotJSON), string(wantJSON); g != w || len(got) != 40 {
		t.Errorf("with a stale catalog:\n got %s\nwant %s", g, w)
	}
}

// TestUsersPageJSONMatches: the hand-written page encoding (appendUsersPage) writes the bytes
// writePageOf's encoding/json path writes, for strings of every kind (HTML characters, quotes,
// control characters, U+2028, invalid UTF-8, non-ASCII), null and set optional fields, empty
// and nil lists.
func TestUsersPageJSONMatches(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 5))
	pieces := []string{"", "a", "Peña", "<b>", "&amp;", `"q"`, `\`, "\x01", "\t", "\u2028", "\u2029", "\xff", "😀", "é\u0301", "/", "\x7f", " "}
	str := func() string {
		s := ""
		for range r.IntN(4) {
			s += pieces[r.IntN(len(pieces))]
		}
		return s
	}
	ptr := func() *string {
		if r.IntN(3) == 0 {
			return nil
		}
		s := str()
		return &s
	}
	for i := range 300 {
		var results []profiles.UserProfileJSON
		for range r.IntN(5) {
			u := profiles.UserProfileJSON{ID: str(), Email: str(), Username: str(), FirstName: str(), MiddleName: ptr(),
				LastName: str(), Suffix: ptr(), PhoneNumber: ptr(), CompanyID: str(), Department: ptr(), Status: str(),
				Notified: r.IntN(2) == 0, IsActive: r.IntN(2) == 0, IsStaff: r.IntN(2) == 0, IsSuperuser: r.IntN(2) == 0,
				IsLocked: r.IntN(2) == 0, ProfilePicture: ptr(), DateJoined: str(), LastLogin: ptr(),
				OTPEnabled: r.IntN(2) == 0, OTPMethod: ptr()}
			switch r.IntN(3) {
			case 0:
				u.SystemRoles = []profiles.SystemRoleItem{}
			case 1:
				for range 1 + r.IntN(3) {
					u.SystemRoles = append(u.SystemRoles, profiles.SystemRoleItem{ID: str(), SystemID: str(), SystemName: str(),
						SystemSlug: str(), RoleID: ptr(), RoleName: str(), AssignedAt: str(), LastLoggedOn: ptr(), IsActive: r.IntN(2) == 0})
				}
			}
			results = append(results, u)
		}
		if i%7 == 0 {
			results = nil
		}
		if results == nil {
			results = []profiles.UserProfileJSON{} // as pageProfiles returns it
		}
		next := "https://auth.example.com/api/v1/users/?search=a%26b&page=3&x=<y>"
		var nextPtr, prevPtr *string
		if i%2 == 0 {
			nextPtr = &next
		}
		if i%3 == 0 {
			prevPtr = ptr()
		}
		count := r.IntN(100000)
		want, err := apikit.MarshalJSON(pageObject(count, nextPtr, prevPtr, results))
		if err != nil {
			t.Fatal(err)
		}
		if got := appendUsersPage(nil, count, nextPtr, prevPtr, results); string(got) != string(want) {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
}
