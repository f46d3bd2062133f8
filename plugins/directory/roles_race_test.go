package directory_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pocketbase/dbx"

	"gatehouse/testkit"
)

// §2.5: a role name equal case-insensitively to one of the system's roles is refused, and the
// unique index is exact-case — so the check must hold under concurrency. 8 creations of one name
// in 8 spellings released together: one 201, seven 409; then 8 renames of 8 roles to one name in
// 8 spellings: one 200, seven 409.
func TestRoleNamesStayUniqueUnderConcurrency(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	su := f.token(f.staff(true))
	hdts := f.systems["hdts"]
	spellings := []string{"Night Shift", "NIGHT SHIFT", "night shift", "Night shift", "nIGHT sHIFT", "NiGhT ShIfT", "night SHIFT", "NIGHT shift"}
	count := func() int {
		return f.count("roles", dbx.NewExp("[[system]] = {:s} AND lower([[name]]) = 'night shift'", dbx.Params{"s": hdts.Id}))
	}

	var i, conflicts atomic.Int32
	created := testkit.Concurrently(t, len(spellings), func() (bool, error) {
		name := spellings[i.Add(1)-1]
		rep := f.do(su, "POST", "/api/v1/roles/", map[string]any{"system": hdts.Id, "name": name})
		switch {
		case rep.Status == 201:
			return true, nil
		case rep.Status == 409 && strings.Contains(string(rep.Body), "already exists in HDTS system"):
			conflicts.Add(1)
			return false, nil
		}
		return false, fmt.Errorf("create %q: %d %s", name, rep.Status, rep.Body)
	})
	if created != 1 || conflicts.Load() != 7 || count() != 1 {
		t.Fatalf("creates: %d created, %d conflicts, %d rows (want 1, 7, 1)", created, conflicts.Load(), count())
	}

	var roles []string
	for range spellings {
		roles = append(roles, f.customRole("hdts", uniq("Day Shift ")).Id)
	}
	i.Store(0)
	conflicts.Store(0)
	renamed := testkit.Concurrently(t, len(spellings), func() (bool, error) {
		n := i.Add(1) - 1
		rep := f.do(su, "PATCH", "/api/v1/roles/"+roles[n]+"/", map[string]any{"name": "Evening " + spellings[n]})
		switch {
		case rep.Status == 200:
			return true, nil
		case rep.Status == 409:
			conflicts.Add(1)
			return false, nil
		}
		return false, fmt.Errorf("rename to %q: %d %s", spellings[n], rep.Status, rep.Body)
	})
	evening := f.count("roles", dbx.NewExp("[[system]] = {:s} AND lower([[name]]) = 'evening night shift'", dbx.Params{"s": hdts.Id}))
	if renamed != 1 || conflicts.Load() != 7 || evening != 1 {
		t.Fatalf("renames: %d renamed, %d conflicts, %d rows (want 1, 7, 1)", renamed, conflicts.Load(), evening)
	}
}
