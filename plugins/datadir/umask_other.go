//go:build !unix

package datadir

// RestrictUmask does nothing where there is no umask.
func RestrictUmask() {}
