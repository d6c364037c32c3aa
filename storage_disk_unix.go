//go:build unix

package httpcache

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// The disk store's defences against a directory others can write to: on
// Unix, ownership and modes are checked, and links are never followed.

// errNotRegular reports an entry path that holds a link, a directory or a
// device: never one of the store's files.
var errNotRegular = errors.New("httpcache: disk storage: not a regular file")

// openRegular opens an entry file for reading without following a link
// (O_NOFOLLOW), and checks that it is a regular file: a link planted at an
// entry's path could make the store read, or serve, a file of its
// choosing.
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, errNotRegular
	}
	if err != nil {
		return nil, err
	}
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		f.Close()
		return nil, errNotRegular
	}
	return f, nil
}

// checkOwnDirectory refuses a cache directory that is not this process's
// own: one owned by another user, or that others may write to. Another
// user could plant entries there, served as hits, or links that make the
// store write where it should not.
func checkOwnDirectory(dir string) error {
	info, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if perm := info.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("directory %s may be written by other users (mode %#o): make it the cache's own (chmod 700)", dir, perm)
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := os.Getuid(); int(st.Uid) != uid {
		return fmt.Errorf("directory %s is owned by user %d, not by this process's user %d", dir, st.Uid, uid)
	}
	return nil
}
