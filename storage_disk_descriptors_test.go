//go:build linux

package httpcache

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// openFDs counts the process's open descriptors.
func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// descriptorTestEntry is an entry, fresh for a minute, with body.
func descriptorTestEntry(body []byte) *Entry {
	return &Entry{StatusCode: 200, Header: map[string][]string{"Cache-Control": {"max-age=60"}},
		RequestTime: time.Now(), ResponseTime: time.Now(), Body: BytesBody(body)}
}

// TestDiskStorageClosesEveryDescriptor: every path of a Get, with small,
// medium (the Stat path), large (streamed) and sealed files, corrupt ones,
// and links, directories and devices planted at entry paths, closes what
// it opens (Get opens files with bare system calls, with no finalizer to
// close a descriptor left open).
func TestDiskStorageClosesEveryDescriptor(t *testing.T) {
	for _, sealed := range []bool{false, true} {
		t.Run("sealed="+strconv.FormatBool(sealed), func(t *testing.T) {
			dir := t.TempDir()
			var d *DiskStorage
			var err error
			if sealed {
				keys, kerr := NewKeyring(bytes.Repeat([]byte{7}, 32))
				if kerr != nil {
					t.Fatal(kerr)
				}
				d, err = NewEncryptedDiskStorage(dir, 1<<30, keys)
			} else {
				d, err = NewDiskStorage(dir, 1<<30)
			}
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			sizes := []int{10, 20 << 10, 100 << 10, 300 << 10}
			keys := make([]string, len(sizes))
			for i, n := range sizes {
				keys[i] = "https://example.com/f/" + strconv.Itoa(i)
				if err := d.Set(ctx, keys[i], descriptorTestEntry(bytes.Repeat([]byte{byte('a' + i)}, n)), time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			before := openFDs(t)
			for range 50 {
				for i, key := range keys {
					entries, err := d.Get(ctx, key)
					if err != nil || len(entries) != 1 {
						t.Fatalf("%s: %v %d", key, err, len(entries))
					}
					b, err := bodyBytes(entries[0].Body)
					if err != nil || len(b) != sizes[i] || b[0] != byte('a'+i) {
						t.Fatalf("%s: body %d %v", key, len(b), err)
					}
				}
			}
			if after := openFDs(t); after != before {
				t.Errorf("descriptors: %d before, %d after Gets", before, after)
			}
			// Corrupt every file in place (same inode), then Get: removed.
			for i, key := range keys {
				path := filepath.Join(dir, d.names(key)[0])
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				data[len(data)/2] ^= 0xff
				data[20] ^= 0xff
				if err := os.WriteFile(path, data, 0o600); err != nil {
					t.Fatal(err)
				}
				entries, err := d.Get(ctx, key)
				if len(entries) == 1 {
					b, berr := bodyBytes(entries[0].Body)
					if berr == nil && !bytes.Equal(b, bytes.Repeat([]byte{byte('a' + i)}, sizes[i])) {
						t.Errorf("%s: a wrong body served: %d bytes", key, len(b))
					}
				}
				_ = err
			}
			if after := openFDs(t); after != before {
				t.Errorf("descriptors: %d before, %d after corrupt Gets", before, after)
			}
			// Plant a symlink, a directory, a char device at entry paths.
			planted := []func(string) error{
				func(p string) error { return os.Symlink("/etc/passwd", p) },
				func(p string) error { return os.Mkdir(p, 0o700) },
				func(p string) error { return syscall.Mknod(p, syscall.S_IFCHR|0o600, 1<<8|3) }, // /dev/null
			}
			for j, plant := range planted {
				key := "https://example.com/planted/" + strconv.Itoa(j)
				path := filepath.Join(dir, d.names(key)[0])
				os.MkdirAll(filepath.Dir(path), 0o700)
				if err := plant(path); err != nil {
					t.Logf("planted %d: %v (skipped: needs root)", j, err)
					continue
				}
				entries, err := d.Get(ctx, key)
				if err != nil || len(entries) != 0 {
					t.Errorf("planted %d: %v %d", j, err, len(entries))
				}
				if _, err := os.Lstat(path); err == nil {
					t.Errorf("planted %d left at %s", j, path)
				}
			}
			if after := openFDs(t); after != before {
				t.Errorf("descriptors: %d before, %d after planted Gets", before, after)
			}
		})
	}
}

// TestDiskStorageStreamsWhileReplaced: a body streamed from a file that Set
// replaces meanwhile is the old body or the new one, never a mix.
func TestDiskStorageStreamsWhileReplaced(t *testing.T) {
	d, err := NewDiskStorage(t.TempDir(), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := "https://example.com/r"
	bodies := [][]byte{bytes.Repeat([]byte("A"), 200<<10), bytes.Repeat([]byte("B"), 200<<10)}
	d.Set(ctx, key, descriptorTestEntry(bodies[0]), time.Hour)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			d.Set(ctx, key, descriptorTestEntry(bodies[i%2]), time.Hour)
		}
	}()
	for range 300 {
		entries, err := d.Get(ctx, key)
		if err != nil || len(entries) == 0 {
			continue
		}
		r, err := entries[0].Body.Open()
		if err != nil {
			continue
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err == nil && !bytes.Equal(b, bodies[0]) && !bytes.Equal(b, bodies[1]) {
			t.Fatalf("a mixed body of %d bytes", len(b))
		}
	}
	close(stop)
	wg.Wait()
}
