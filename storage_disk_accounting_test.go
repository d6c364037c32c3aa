package httpcache

import (
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// checkDiskAccount verifies DiskStorage's account: usedBytes is the known
// files' footprints plus one block per subdirectory that holds a known
// file, and fanOutFiles counts them.
func checkDiskAccount(t *testing.T, d *DiskStorage, step string) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	var dirs [256]int32
	var sum int64
	for name, f := range d.files {
		sum += f.size
		if dir, ok := fanOutDir(name); ok {
			dirs[dir]++
		}
	}
	for i := range dirs {
		if dirs[i] > 0 {
			sum += diskBlockSize
		}
		if dirs[i] != d.fanOutFiles[i] {
			t.Fatalf("%s: subdirectory %02x: fanOutFiles %d, known files %d", step, i, d.fanOutFiles[i], dirs[i])
		}
	}
	if d.usedBytes != sum || d.usedBytes < 0 {
		t.Fatalf("%s: usedBytes %d, want %d", step, d.usedBytes, sum)
	}
}

// TestDiskAccountingUnderRandomOperations: random Sets, Deletes and
// DeleteURLs across partitioned keys and variants, with a second store on
// the same directory, damaged files and evictions, in clear and
// encrypted: after every step the account is exact and never negative.
func TestDiskAccountingUnderRandomOperations(t *testing.T) {
	ctx := context.Background()
	for _, encrypted := range []bool{false, true} {
		dir := t.TempDir()
		k1 := make([]byte, 32)
		k2 := make([]byte, 32)
		k2[0] = 1
		open := func(bound int64, ring *Keyring) *DiskStorage {
			var s *DiskStorage
			var err error
			if ring != nil {
				s, err = NewEncryptedDiskStorage(dir, bound, ring)
			} else {
				s, err = NewDiskStorage(dir, bound)
			}
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		var ring *Keyring
		if encrypted {
			var err error
			if ring, err = NewKeyring(k1); err != nil {
				t.Fatal(err)
			}
		}
		s := open(200<<10, ring)
		other := open(200<<10, ring) // another process on the same directory
		rng := rand.New(rand.NewSource(57))
		key := func() (string, string) {
			u := "https://example.com/" + strconv.Itoa(rng.Intn(40))
			if rng.Intn(3) == 0 {
				return u, u + "\x00" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde" + strconv.Itoa(rng.Intn(2))
			}
			return u, u
		}
		for i := range 1500 {
			u, k := key()
			step := strconv.Itoa(i)
			switch op := rng.Intn(10); {
			case op < 4:
				e := &Entry{StatusCode: 200, Header: map[string][]string{"X": {"y"}}, Variant: strconv.Itoa(rng.Intn(3)), Body: BytesBody(make([]byte, rng.Intn(20000)))}
				s.Set(ctx, k, e, time.Hour)
			case op == 4:
				s.Delete(ctx, k)
			case op == 5:
				s.DeleteURL(ctx, u)
			case op == 6:
				e := &Entry{StatusCode: 200, Header: map[string][]string{}, Body: BytesBody(make([]byte, rng.Intn(9000)))}
				other.Set(ctx, k, e, time.Hour)
			case op == 7:
				other.DeleteURL(ctx, u)
			case op == 8:
				// damage the key's file, then read it
				names := s.names(k)
				os.WriteFile(filepath.Join(dir, names[0]), []byte("garbage"), 0o600)
				s.Get(ctx, k)
			default:
				s.Get(ctx, k)
			}
			checkDiskAccount(t, s, step)
			checkDiskAccount(t, other, step)
		}
		if encrypted {
			// rotate: the new store reads the old key's files, Set moves them
			ring2, err := NewKeyring(k2, k1)
			if err != nil {
				t.Fatal(err)
			}
			s = open(200<<10, ring2)
			for i := range 40 {
				u := "https://example.com/" + strconv.Itoa(i)
				s.Set(ctx, u, &Entry{StatusCode: 200, Header: map[string][]string{}, Body: BytesBody([]byte("x"))}, time.Hour)
				checkDiskAccount(t, s, "rotate "+strconv.Itoa(i))
			}
			ring = ring2
		}
		checkDiskAccount(t, open(200<<10, ring), "reopen")
	}
}

// One process alone: after Sets, Deletes, DeleteURLs and evictions under a
// small bound, the running account equals a reopened store's.
func TestDiskRunningAccountEqualsReopened(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const bound = 64 << 10
	s, err := NewDiskStorage(dir, bound)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(7))
	for i := range 2000 {
		u := "https://example.com/" + strconv.Itoa(rng.Intn(60))
		k := u
		if rng.Intn(3) == 0 {
			k = u + "\x00" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		}
		switch rng.Intn(6) {
		case 0:
			s.Delete(ctx, k)
		case 1:
			s.DeleteURL(ctx, u)
		default:
			s.Set(ctx, k, &Entry{StatusCode: 200, Header: map[string][]string{}, Variant: strconv.Itoa(rng.Intn(2)), Body: BytesBody(make([]byte, rng.Intn(12000)))}, time.Hour)
		}
		checkDiskAccount(t, s, strconv.Itoa(i))
		if s.Size() > bound {
			t.Fatalf("step %d: Size %d over the bound %d", i, s.Size(), bound)
		}
	}
	again, err := NewDiskStorage(dir, bound)
	if err != nil {
		t.Fatal(err)
	}
	if again.Size() != s.Size() {
		t.Errorf("running %d, reopened %d", s.Size(), again.Size())
	}
}
