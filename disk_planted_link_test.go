//go:build unix

package httpcache_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	httpcache "github.com/c650553b/httpcache"
)

// TestDiskRepairStaysInsideItsDirectory: the repair of what was planted
// at an entry's path never reaches outside the store's directory, also
// when a link is planted in place of the subdirectory: O_NOFOLLOW guards
// only the last component of a path, and os.RemoveAll opened the parent
// through the link, removing a whole tree outside (found by a review; the
// repair now goes through an os.Root).
func TestDiskRepairStaysInsideItsDirectory(t *testing.T) {
	dir, outside, s := storeBesideOutside(t)
	const key = "https://api.example/item"
	sum := sha256.Sum256([]byte(key))
	name := hex.EncodeToString(sum[:])
	// Something outside the store that happens to be named as the entry.
	precious := filepath.Join(outside, name, "precious.txt")
	if err := os.MkdirAll(filepath.Dir(precious), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(precious, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	fanOut := filepath.Join(dir, name[:2])
	os.RemoveAll(fanOut)
	if err := os.Symlink(outside, fanOut); err != nil {
		t.Fatal(err)
	}
	if entries, err := s.Get(context.Background(), key); err != nil || len(entries) != 0 {
		t.Fatalf("Get = %d entries, %v; want a miss", len(entries), err)
	}
	if _, err := os.Stat(precious); err != nil {
		t.Fatalf("a file outside the store's directory was removed through a linked fan-out directory: %v", err)
	}
}

// TestDiskWriteStaysInsideItsDirectory: a write through a link planted in
// place of a subdirectory lands inside the store, the link replaced by a
// directory of its own, and nothing is written where the link pointed.
func TestDiskWriteStaysInsideItsDirectory(t *testing.T) {
	dir, outside, s := storeBesideOutside(t)
	ctx := context.Background()
	const key = "https://api.example/written"
	entry := &httpcache.Entry{StatusCode: 200, Header: map[string][]string{"Cache-Control": {"max-age=60"}}, Body: httpcache.BytesBody("inside")}
	if err := s.Set(ctx, key, entry, time.Hour); err != nil {
		t.Fatal(err)
	}
	var sub string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			sub = filepath.Dir(path)
		}
		return nil
	})
	if sub == "" || sub == dir {
		t.Fatalf("no entry file in a subdirectory of %s", dir)
	}
	os.RemoveAll(sub)
	if err := os.Symlink(outside, sub); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, key, entry, time.Hour); err != nil {
		t.Fatal(err)
	}
	if names, _ := os.ReadDir(outside); len(names) != 0 {
		t.Fatalf("the write went through the link: %d files outside the store", len(names))
	}
	if info, err := os.Lstat(sub); err != nil || !info.IsDir() {
		t.Fatalf("the subdirectory is not a directory of the store's: %v", err)
	}
	if got, err := s.Get(ctx, key); err != nil || len(got) != 1 {
		t.Fatalf("Get after the write: %d entries, %v", len(got), err)
	}
}

// storeBesideOutside returns a disk store's directory, a directory beside
// it that a planted link may point to, and the store.
func storeBesideOutside(t *testing.T) (dir, outside string, s *httpcache.DiskStorage) {
	t.Helper()
	root := t.TempDir()
	dir, outside = filepath.Join(root, "cache"), filepath.Join(root, "outside")
	if err := os.MkdirAll(outside, 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := httpcache.NewDiskStorage(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	return dir, outside, s
}

// TestDiskWritesStayInsideWhileALinkIsSwappedIn: a subdirectory swapped
// for a link to outside the store while writes, invalidations and
// evictions run never takes a file, or a removal, outside: a check before
// the write cannot catch a swap after it, so every write, rename and
// removal goes through an os.Root of the store's directory.
func TestDiskWritesStayInsideWhileALinkIsSwappedIn(t *testing.T) {
	root := t.TempDir()
	dir, outside := filepath.Join(root, "cache"), filepath.Join(root, "outside")
	if err := os.MkdirAll(outside, 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := httpcache.NewDiskStorage(dir, 4<<10) // small: writes evict
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const key = "https://api.example/swapped"
	entry := &httpcache.Entry{StatusCode: 200, Header: map[string][]string{"Cache-Control": {"max-age=60"}}, Body: httpcache.BytesBody("inside")}
	if err := s.Set(ctx, key, entry, time.Hour); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(key))
	sub := filepath.Join(dir, hex.EncodeToString(sum[:])[:2])
	if info, err := os.Stat(sub); err != nil || !info.IsDir() {
		t.Fatalf("the key's subdirectory %s: %v", sub, err)
	}
	stop := make(chan struct{})
	swapped := make(chan int)
	go func() {
		swaps := 0
		defer func() { swapped <- swaps }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			aside := sub + ".aside"
			if os.Rename(sub, aside) != nil {
				os.Remove(sub) // a file or link the store left: start again
				os.MkdirAll(sub, 0o700)
				continue
			}
			os.Symlink(outside, sub)
			swaps++
			os.Remove(sub)
			os.RemoveAll(sub)
			os.Rename(aside, sub)
			os.RemoveAll(aside)
		}
	}()
	for i := range 3000 {
		s.Set(ctx, key, entry, time.Hour)
		if i%7 == 0 {
			s.DeleteURL(ctx, "https://api.example/swapped")
		}
	}
	close(stop)
	if swaps := <-swapped; swaps == 0 {
		t.Fatal("the subdirectory was never swapped for a link; the test proved nothing")
	}
	if names, _ := os.ReadDir(outside); len(names) != 0 {
		t.Fatalf("%d files written outside the store through a swapped-in link", len(names))
	}
}
