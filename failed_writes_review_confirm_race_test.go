package httpcache

// Regression tests for findings of a review of this session's commits:
// each comment says what the former code did.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRetryConfirmKeepsANewerFailedWrite: a retry's delete that succeeds
// confirmed (forgot) the key whatever was
// remembered for it meanwhile: a write that failed while the delete was
// under way is forgotten with it, and the older response it was meant to
// hide is served as a hit after the caller got the newer one.
func TestRetryConfirmKeepsANewerFailedWrite(t *testing.T) {
	var version atomic.Int64
	store := newFakeStorage()
	var failSet atomic.Bool
	failSet.Store(true)
	inDelete, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	store.set = func(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
		if failSet.Load() {
			return errors.New("OOM")
		}
		return store.memory.Set(ctx, key, e, ttl)
	}
	store.delete = func(ctx context.Context, key string) error {
		first := false
		once.Do(func() { first = true })
		if first {
			store.memory.Delete(ctx, key) // done at the store...
			close(inDelete)
			<-release // ...its reply on its way
			return nil
		}
		if failSet.Load() {
			return errors.New("OOM")
		}
		return store.memory.Delete(ctx, key)
	}
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, "v%d", version.Load())
	}, WithStorage(store), WithSynchronousWrites(true))
	h.get("/doc") // v0, its write fails: remembered, retried in a second
	select {
	case <-inDelete:
	case <-time.After(3 * time.Second):
		t.Fatal("no retry")
	}
	failSet.Store(false)
	h.clock.Advance(time.Second)
	version.Store(1)
	if r := h.get("/doc"); r.body != "v1" {
		t.Fatalf("v1: %q", r.body)
	}
	failSet.Store(true)
	h.clock.Advance(time.Second)
	version.Store(2)
	if body, _ := getWith(t, h.client, h.origin.URL+"/doc", withHeader("Cache-Control", "no-cache")); body != "v2" {
		t.Fatalf("v2: %q", body)
	}
	close(release)
	time.Sleep(100 * time.Millisecond)
	if r := h.get("/doc"); r.body != "v2" || r.cache.Hit {
		t.Fatalf("after the caller got v2: %q %+v", r.body, r.cache)
	}
}
