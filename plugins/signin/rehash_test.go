package signin

import (
	"net/http/httptest"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"golang.org/x/crypto/bcrypt"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/captcha"
	"gatehouse/plugins/mailer"
	"gatehouse/plugins/passwords"
	"gatehouse/plugins/tokens"
	"gatehouse/testkit"
)

// The re-hash at login (§1.13) computes the new hash on the record read for the password check,
// ~250 ms earlier at cost 12. It used to save that whole copy, writing back every column as it
// was then; it now writes only the password to the row as it is now, and not at all when the
// password itself changed meanwhile.
func TestRehashKeepsWhatChangedMeanwhile(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	cfg := testkit.Config()
	kit := apikit.New(app, cfg)
	f, err := New(app, Deps{Kit: kit, Tokens: tokens.New(app, kit), Pool: passwords.NewPool(cfg),
		Mailer: mailer.Register(app, cfg), Attempts: captcha.NewAttempts()}, Staff)
	if err != nil {
		t.Fatal(err)
	}
	const plain = "correct horse battery"
	e := &core.RequestEvent{App: app}
	e.Request = httptest.NewRequest("POST", "/api/v1/users/login/", nil)

	// an account whose hash has another cost than the collection's, and the copy a login read
	account := func() (stored, copy *core.Record) {
		u := testkit.NewPrincipal(t, app, "users", "rehash")
		hash, err := bcrypt.GenerateFromPassword([]byte(plain), testkit.TestPasswordCost+1)
		if err != nil {
			t.Fatal(err)
		}
		u.SetRaw(core.FieldNamePassword, &core.PasswordFieldValue{Hash: string(hash)})
		u.Set("is_active", true)
		if err := app.Save(u); err != nil {
			t.Fatal(err)
		}
		return u, testkit.Reload(t, app, u)
	}
	cost := func(u *core.Record) int {
		c, err := bcrypt.Cost([]byte(testkit.Reload(t, app, u).GetString(core.FieldNamePassword + ":hash")))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	t.Run("a deactivation and a profile edit meanwhile stay", func(t *testing.T) {
		stored, copy := account()
		testkit.SetField(t, app, stored, "is_active", false)
		testkit.SetField(t, app, stored, "first_name", "Changed")
		if err := f.rehash(e, copy, plain); err != nil {
			t.Fatal(err)
		}
		after := testkit.Reload(t, app, stored)
		if after.GetBool("is_active") || after.GetString("first_name") != "Changed" {
			t.Fatalf("after the re-hash: is_active %v, first_name %q", after.GetBool("is_active"), after.GetString("first_name"))
		}
		if c := cost(stored); c != testkit.TestPasswordCost || !after.ValidatePassword(plain) {
			t.Fatalf("re-hash not stored: cost %d, password ok %v", c, after.ValidatePassword(plain))
		}
	})

	t.Run("a password changed meanwhile stays", func(t *testing.T) {
		stored, copy := account()
		const other = "amber-lantern-77x"
		fresh := testkit.Reload(t, app, stored)
		fresh.SetPassword(other)
		if err := app.Save(fresh); err != nil {
			t.Fatal(err)
		}
		if err := f.rehash(e, copy, plain); err != nil {
			t.Fatal(err)
		}
		if after := testkit.Reload(t, app, stored); !after.ValidatePassword(other) || after.ValidatePassword(plain) {
			t.Fatalf("the password changed meanwhile was replaced: new ok %v, old ok %v", after.ValidatePassword(other), after.ValidatePassword(plain))
		}
	})
}
