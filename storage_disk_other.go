//go:build !unix

package httpcache

import (
	"errors"
	"fmt"
	"os"
)

// The disk store's defences where Unix's ownership and O_NOFOLLOW are not
// available: links are refused by a look before the open.

var errNotRegular = errors.New("httpcache: disk storage: not a regular file")

func openRegular(path string) (*os.File, error) {
	if info, err := os.Lstat(path); err != nil {
		return nil, err
	} else if !info.Mode().IsRegular() {
		return nil, errNotRegular
	}
	return os.Open(path)
}

// openEntryFile opens an entry file for a Get: openRegular.
func openEntryFile(path string) (entryFile, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func checkOwnDirectory(dir string) error {
	info, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}
