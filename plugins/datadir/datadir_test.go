package datadir_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/plugins/datadir"
	"gatehouse/testkit"
)

func skipOnWindows(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes are not permissions on Windows")
	}
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	info, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

// checkPrivate fails for any directory under root (root included) with a mode other than 0700
// and any regular file with a mode other than 0600; it returns how many entries it checked.
func checkPrivate(t *testing.T, root string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir() && info.Mode().Perm() != 0o700:
			t.Errorf("%s: dir mode %o, want 700", path, info.Mode().Perm())
		case d.Type().IsRegular() && info.Mode().Perm() != 0o600:
			t.Errorf("%s: file mode %o, want 600", path, info.Mode().Perm())
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTighten(t *testing.T) {
	t.Parallel()
	skipOnWindows(t)
	root := filepath.Join(t.TempDir(), "pb_data")
	outside := filepath.Join(t.TempDir(), "outside.txt")
	for _, d := range []string{root, filepath.Join(root, "storage", "abc")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]fs.FileMode{
		filepath.Join(root, "data.db"):               0o644,
		filepath.Join(root, "data.db-wal"):           0o664,
		filepath.Join(root, ".gatehouse_secret"):     0o600, // already private: not counted
		filepath.Join(root, "storage", "abc", "pic"): 0o444,
		outside: 0o644,
	}
	for path, m := range files {
		if err := os.WriteFile(path, []byte("x"), m); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, m); err != nil { // whatever the test process's umask
			t.Fatal(err)
		}
	}
	for _, d := range []string{root, filepath.Join(root, "storage"), filepath.Join(root, "storage", "abc")} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}

	n, err := datadir.Tighten(root)
	if err != nil || n != 6 { // 3 dirs + data.db, data.db-wal, pic
		t.Fatalf("Tighten = %d, %v; want 6 changes", n, err)
	}
	for path, want := range map[string]fs.FileMode{
		root: 0o700, filepath.Join(root, "storage", "abc"): 0o700,
		filepath.Join(root, "data.db"): 0o600, filepath.Join(root, "data.db-wal"): 0o600,
		filepath.Join(root, ".gatehouse_secret"):     0o600,
		filepath.Join(root, "storage", "abc", "pic"): 0o400, // never widened
		outside: 0o644, // a link is not followed
	} {
		if got := mode(t, path); got != want {
			t.Errorf("%s: mode %o, want %o", path, got, want)
		}
	}

	// a second run changes nothing; a missing dir is no error
	if n, err := datadir.Tighten(root); n != 0 || err != nil {
		t.Fatalf("second Tighten = %d, %v", n, err)
	}
	if n, err := datadir.Tighten(filepath.Join(root, "missing")); n != 0 || err != nil {
		t.Fatalf("missing dir: %d, %v", n, err)
	}
}

// A data directory made earlier with wide modes is private after the next bootstrap, the
// databases PocketBase opens (and their WAL and SHM files) included.
func TestBootstrapMakesAnExistingDataDirPrivate(t *testing.T) {
	t.Parallel()
	skipOnWindows(t)
	dir := filepath.Join(t.TempDir(), "pb_data")

	// first run without the plugin: PocketBase's own modes (under this process's umask)
	first := core.NewBaseApp(core.BaseAppConfig{DataDir: dir})
	if err := first.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	if err := first.ResetBootstrapState(); err != nil {
		t.Fatal(err)
	}
	for path, m := range map[string]fs.FileMode{dir: 0o755, filepath.Join(dir, "data.db"): 0o644, filepath.Join(dir, "auxiliary.db"): 0o644} {
		if err := os.Chmod(path, m); err != nil {
			t.Fatal(err)
		}
	}

	app := core.NewBaseApp(core.BaseAppConfig{DataDir: dir})
	datadir.Register(app)
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.ResetBootstrapState() })
	if _, err := app.DB().NewQuery("CREATE TABLE t (x int)").Execute(); err != nil { // a write: WAL in use
		t.Fatal(err)
	}
	if n := checkPrivate(t, dir); n < 3 {
		t.Fatalf("checked only %d entries", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "data.db-wal")); err != nil {
		t.Fatalf("no WAL file to check: %v", err)
	}
}

// A backup archive PocketBase writes (the same call as /api/backups and the scheduled backups)
// is private, whatever the process umask.
func TestBackupsArePrivate(t *testing.T) {
	t.Parallel()
	skipOnWindows(t)
	app := testkit.NewApp(t, func(app *tests.TestApp) { datadir.Register(app) })
	if err := app.CreateBackup(context.Background(), "b1.zip"); err != nil {
		t.Fatal(err)
	}
	backups := filepath.Join(app.DataDir(), core.LocalBackupsDirName)
	if got := mode(t, filepath.Join(backups, "b1.zip")); got != 0o600 {
		t.Fatalf("backup mode %o, want 600", got)
	}
	if n := checkPrivate(t, backups); n < 2 {
		t.Fatalf("checked only %d entries", n)
	}
}
