package httpcache

// Regression tests for findings of a review of this session's commits:
// each comment says what the former code did.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// A failed write hides only entries whose ResponseTime is before the new
// entry's: an older response stored under a clock that read later (a wall
// clock stepped back, another host of a fleet whose clock is ahead) is
// served as a fresh hit after the caller got the newer one.
func TestFailedWriteHidesOlderWhateverTheClock(t *testing.T) {
	var version atomic.Int64
	version.Store(1)
	store := newFakeStorage()
	var readOnly atomic.Bool
	errReadOnly := errors.New("read-only file system")
	store.set = func(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
		if readOnly.Load() {
			return errReadOnly
		}
		return store.memory.Set(ctx, key, e, ttl)
	}
	store.delete = func(ctx context.Context, key string) error {
		if readOnly.Load() {
			return errReadOnly
		}
		return store.memory.Delete(ctx, key)
	}
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, "v%d", version.Load())
	}, WithStorage(store), WithSynchronousWrites(true))
	if r := h.get("/doc"); r.body != "v1" {
		t.Fatalf("first: %q", r.body)
	}
	readOnly.Store(true)
	version.Store(2)
	h.clock.Advance(-time.Second) // the wall clock steps back (or: v1 came from a host whose clock is ahead)
	body, _ := getWith(t, h.client, h.origin.URL+"/doc", withHeader("Cache-Control", "no-cache"))
	if body != "v2" {
		t.Fatalf("refresh: %q", body)
	}
	if r := h.get("/doc"); r.body != "v2" || r.cache.Hit {
		t.Fatalf("after the failed write: %q %+v; want v2 from the origin", r.body, r.cache)
	}
}

// Same clock reading for both responses (coarse clock): the older one stays visible.
func TestFailedWriteHidesOlderOfTheSameInstant(t *testing.T) {
	var version atomic.Int64
	version.Store(1)
	store := newFakeStorage()
	var readOnly atomic.Bool
	store.set = func(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
		if readOnly.Load() {
			return errors.New("read-only")
		}
		return store.memory.Set(ctx, key, e, ttl)
	}
	store.delete = func(ctx context.Context, key string) error {
		if readOnly.Load() {
			return errors.New("read-only")
		}
		return store.memory.Delete(ctx, key)
	}
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, "v%d", version.Load())
	}, WithStorage(store), WithSynchronousWrites(true))
	h.get("/doc")
	readOnly.Store(true)
	version.Store(2)
	body, _ := getWith(t, h.client, h.origin.URL+"/doc", withHeader("Cache-Control", "no-cache"))
	if body != "v2" {
		t.Fatalf("refresh: %q", body)
	}
	if r := h.get("/doc"); r.body != "v2" || r.cache.Hit {
		t.Fatalf("after the failed write: %q %+v; want v2 from the origin", r.body, r.cache)
	}
}

// With a TieredStorage whose back tier is down, the failed write's retry
// (TieredStorage.Delete deletes the front first) removes the memory tier's
// copy of the new response about a second later: cc9ad55 says it stays.
func TestFailedWriteKeepsTheMemoryTiersCopy(t *testing.T) {
	back := newFakeStorage()
	down := errors.New("redis: OOM")
	back.set = func(context.Context, string, *Entry, time.Duration) error { return down }
	back.delete = func(context.Context, string) error { return down }
	back.deleteURL = func(context.Context, string) error { return down }
	front := NewMemoryStorage(0)
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprint(w, "v1")
	}, WithStorage(must(NewTieredStorage(front, back, time.Minute))))
	h.get("/doc")
	h.transport.waitForWrites()
	if r := h.get("/doc"); !r.cache.Hit {
		t.Fatalf("not a hit from the memory tier: %+v", r.cache)
	}
	time.Sleep(1500 * time.Millisecond)
	if r := h.get("/doc"); !r.cache.Hit {
		t.Fatalf("memory tier's copy gone %v after the failed back write (origin requests %d)", 1500*time.Millisecond, h.requests.Load())
	}
}
