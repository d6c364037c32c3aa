//go:build unix

package httpcache

import (
	"errors"
	"fmt"
	"io"
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
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0) // O_NONBLOCK: see openNoFollow
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

// openEntryFile opens an entry file for a Get, as openRegular does, with
// bare system calls: an entry file is read once and closed, and an os.File
// would cost a registration with the poller, a flag change and its
// allocations, which double a small hit's time.
func openEntryFile(path string) (entryFile, error) {
	fd, err := openNoFollow(path)
	if errors.Is(err, syscall.ELOOP) {
		return nil, errNotRegular
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := &rawFile{fd: fd, path: path}
	if err := fstat(fd, &f.stat); err != nil || f.stat.Mode&syscall.S_IFMT != syscall.S_IFREG {
		f.Close()
		return nil, errNotRegular
	}
	return f, nil
}

// openNoFollow opens path for reading without following a link and
// without waiting: O_NONBLOCK makes the open of a FIFO planted at an entry's
// path return at once (the check for a regular file then refuses it), and
// changes nothing for reads of a regular file.
func openNoFollow(path string) (int, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

func fstat(fd int, st *syscall.Stat_t) error {
	for {
		if err := syscall.Fstat(fd, st); err != syscall.EINTR {
			return err
		}
	}
}

// rawFile is an entry file open by its descriptor alone (openEntryFile).
type rawFile struct {
	fd   int
	path string
	stat syscall.Stat_t // of the descriptor, when opened
	// file wraps fd once Stat is asked for (a large file, whose bodies
	// stream later): the os package makes a FileInfo from an os.File.
	file *os.File
}

// ReadAt reads len(p) bytes from off, or what there is and io.EOF.
func (f *rawFile) ReadAt(p []byte, off int64) (int, error) {
	read := 0
	for read < len(p) {
		n, err := syscall.Pread(f.fd, p[read:], off+int64(read))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return read, &os.PathError{Op: "read", Path: f.path, Err: err}
		}
		if n == 0 {
			return read, io.EOF
		}
		read += n
	}
	return read, nil
}

// Stat returns the FileInfo of the file opened, whatever the path names
// now.
func (f *rawFile) Stat() (os.FileInfo, error) {
	if f.file == nil {
		// Blocking again first: os.NewFile would register a non-blocking
		// descriptor with the poller (kqueue takes regular files).
		syscall.SetNonblock(f.fd, false)
		f.file = os.NewFile(uintptr(f.fd), f.path)
	}
	return f.file.Stat()
}

// Close closes the descriptor.
func (f *rawFile) Close() error {
	if f.file != nil {
		return f.file.Close()
	}
	return syscall.Close(f.fd)
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
