//go:build unix

package datadir

import "syscall"

// RestrictUmask makes every file and directory the process creates from now on private to its
// user (umask 077): call it first thing in main, before anything opens or creates a file.
func RestrictUmask() {
	syscall.Umask(0o077)
}
