// Package datadir keeps the data directory private to the service's user (issue 18): the
// directory and everything in it hold password hashes, sessions, the audit log, the SMTP
// password of the dashboard settings and the server secret.
//
// New files are private through the process umask (RestrictUmask, called first thing by main):
// PocketBase, SQLite and our own code create directories 0777 and files 0666 or 0644 before the
// umask, which makes them 0700 and 0600. Files that already exist with wider modes (a data
// directory from an earlier version, a copied backup) are tightened at every start (Register).
package datadir

import (
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"runtime"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
)

// private are the permission bits nobody but the owner may have.
const private fs.FileMode = 0o077

// Tighten removes the group and other permission bits of dir and of every directory and regular
// file under it (symbolic links are neither followed nor changed), so that directories are at
// most 0700 and files at most 0600. It returns how many entries it changed; a missing dir is no
// error. A chmod that fails (an entry owned by another user) stops it with an error that names
// the entry. Not on Windows, where modes are not permissions.
func Tighten(dir string) (int, error) {
	if runtime.GOOS == "windows" {
		return 0, nil
	}
	changed := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil // symlinks, sockets, ...
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed meanwhile (e.g. a WAL file at close)
			}
			return err
		}
		perm := info.Mode().Perm()
		if perm&private == 0 {
			return nil
		}
		if err := os.Chmod(path, perm&^private); err != nil {
			return fmt.Errorf("make %s private to this user: %w (the data directory and its files must belong to the user running Gatehouse)", path, err)
		}
		changed++
		return nil
	})
	return changed, err
}

// Register tightens the data directory at every bootstrap, before PocketBase opens its
// databases (SQLite creates the WAL and SHM files with the database file's mode, whatever the
// umask), and the local backups after each backup PocketBase makes (through /api/backups or its
// schedule), so both hold also where the umask is not ours (tests, an embedding program).
func Register(app core.App) {
	app.OnBootstrap().Bind(&hook.Handler[*core.BootstrapEvent]{
		Id: "gatehousePrivateDataDir",
		Func: func(e *core.BootstrapEvent) error {
			n, err := Tighten(e.App.DataDir())
			if err != nil {
				return err
			}
			if n > 0 {
				// the app logger is not open yet: stderr, like PocketBase's own start-up errors
				log.Printf("Made the data directory %s private to this user (directories 0700, files 0600): %d entries tightened.", e.App.DataDir(), n)
			}
			return e.Next()
		},
	})

	app.OnBackupCreate().Bind(&hook.Handler[*core.BackupEvent]{
		Id: "gatehousePrivateBackups",
		Func: func(e *core.BackupEvent) error {
			if err := e.Next(); err != nil {
				return err
			}
			if e.App.Settings().Backups.S3.Enabled {
				return nil
			}
			_, err := Tighten(filepath.Join(e.App.DataDir(), core.LocalBackupsDirName))
			return err
		},
	})
}
