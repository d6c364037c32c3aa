//go:build unix

package httpcache_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
)

// TestDiskKeptExpires: a file kept decoded whose record expires is a
// miss once it has, though its bytes have not changed.
func TestDiskKeptExpires(t *testing.T) {
	s := newDiskStorage(t, t.TempDir(), 0)
	ctx := context.Background()
	const key = "https://example.com/exp"
	if err := s.Set(ctx, key, entryFor(key, 1, 100), 1200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if got, _ := s.Get(ctx, key); len(got) != 1 {
			t.Fatalf("%d entries before expiry", len(got))
		}
	}
	time.Sleep(1500 * time.Millisecond)
	if got, _ := s.Get(ctx, key); len(got) != 0 {
		t.Fatalf("%d entries after the record expired", len(got))
	}
}

// TestDiskFileRenamedToAnotherPartition: alice's file, kept decoded,
// renamed onto bob's path is a miss for bob (and alice's is gone).
func TestDiskFileRenamedToAnotherPartition(t *testing.T) {
	dir := t.TempDir()
	s := newDiskStorage(t, dir, 0)
	ctx := context.Background()
	alice, bob := "https://example.com/me\x00alice", "https://example.com/me\x00bob"
	for _, k := range []string{alice, bob} {
		if err := s.Set(ctx, k, entryFor(k, 1, 100), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		for _, k := range []string{alice, bob} {
			got, _ := s.Get(ctx, k)
			if len(got) != 1 {
				t.Fatal("not stored")
			}
			if err := checkBelongs(t, k, got[0]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Rename(fileOf(t, dir, s, alice), fileOf(t, dir, s, bob)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if got, _ := s.Get(ctx, bob); len(got) != 0 {
			t.Fatalf("bob got %q from alice's renamed file", got[0].Header.Get("X-Entry"))
		}
		if got, _ := s.Get(ctx, alice); len(got) != 0 {
			t.Fatal("alice's file was renamed away")
		}
	}
}

// TestDiskSizesAroundTheKeptLimit: files just under, at and over
// the 16 KiB a store keeps decoded answer their whole body, every time.
func TestDiskSizesAroundTheKeptLimit(t *testing.T) {
	s := newDiskStorage(t, t.TempDir(), 0)
	ctx := context.Background()
	for size := 16<<10 - 400; size < 16<<10+50; size++ {
		key := "https://example.com/s/" + strconv.Itoa(size)
		if err := s.Set(ctx, key, entryFor(key, size, size), time.Hour); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			got, err := s.Get(ctx, key)
			if err != nil || len(got) != 1 {
				t.Fatalf("size %d, read %d: %d entries, %v", size, i, len(got), err)
			}
			if got[0].Body.Size() != int64(size) {
				t.Fatalf("size %d: body size %d", size, got[0].Body.Size())
			}
			if err := checkBelongs(t, key, got[0]); err != nil {
				t.Fatalf("size %d: %v", size, err)
			}
		}
	}
}

// TestDiskStress: two stores on one directory (two processes), with
// goroutines writing, reading and deleting the same and other keys of
// several partitions: every entry returned is its key's, whole.
func TestDiskStress(t *testing.T) {
	dir := t.TempDir()
	stores := []*httpcache.DiskStorage{newDiskStorage(t, dir, 0), newDiskStorage(t, dir, 0)}
	ctx := context.Background()
	keys := []string{}
	for u := range 4 {
		for _, p := range []string{"", "\x00alice", "\x00bob"} {
			keys = append(keys, "https://example.com/k"+strconv.Itoa(u)+p)
		}
	}
	var version atomic.Int64
	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	var reads atomic.Int64
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 2))
			for time.Now().Before(deadline) {
				s := stores[rng.IntN(2)]
				key := keys[rng.IntN(len(keys))]
				switch op := rng.IntN(10); {
				case op < 2:
					size := []int{10, 500, 4000, 15000, 17000, 70000}[rng.IntN(6)]
					if err := s.Set(ctx, key, entryFor(key, int(version.Add(1)), size), time.Hour); err != nil {
						t.Error(err)
						return
					}
				case op == 2:
					s.Delete(ctx, key)
				default:
					got, err := s.Get(ctx, key)
					if err != nil {
						continue
					}
					for _, e := range got {
						if err := checkBelongs(t, key, e); err != nil {
							t.Error(err)
							return
						}
					}
					reads.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d reads", reads.Load())
}

// TestDiskHitMutationsDoNotStick: through the Transport, a caller
// changing a hit's header does not change the next hit.
func TestDiskHitMutationsDoNotStick(t *testing.T) {
	s := newDiskStorage(t, t.TempDir(), 0)
	origin := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{"Cache-Control": {"max-age=60"},
			"X-A": {"1", "2"}}, ContentLength: 5, Body: io.NopCloser(strings.NewReader("hello")), Request: r}, nil
	})
	tr := httpcache.New(httpcache.WithTransport(origin), httpcache.WithStorage(s), httpcache.WithSynchronousWrites(true))
	defer tr.Close()
	for i := range 4 {
		req, _ := http.NewRequest(http.MethodGet, "https://example.com/h", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.Header["X-A"]; fmt.Sprint(got) != "[1 2]" || string(b) != "hello" || resp.Header.Get("X-Evil") != "" {
			t.Fatalf("response %d: X-A %q, X-Evil %q, body %q", i, got, resp.Header.Get("X-Evil"), b)
		}
		resp.Header["X-A"][0] = "evil"
		resp.Header.Set("X-Evil", "1")
	}
}
