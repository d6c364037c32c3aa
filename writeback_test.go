package httpcache

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// gatedStorage is a fakeStorage whose Set waits for release, and which
// records the writes that reach it, in order.
type gatedStorage struct {
	*fakeStorage
	release chan struct{}
	mu      sync.Mutex
	order   []string
}

func newGatedStorage() *gatedStorage {
	s := &gatedStorage{fakeStorage: newFakeStorage(), release: make(chan struct{})}
	s.set = func(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
		<-s.release
		s.record("set " + key)
		return s.memory.Set(ctx, key, e, ttl)
	}
	s.delete = func(ctx context.Context, key string) error {
		s.record("delete " + key)
		return s.memory.Delete(ctx, key)
	}
	s.deleteURL = func(ctx context.Context, url string) error {
		s.record("delete " + url)
		return s.memory.DeleteURL(ctx, url)
	}
	return s
}

func (s *gatedStorage) record(op string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.order = append(s.order, op)
}

func TestWritesDoNotHoldTheCaller(t *testing.T) {
	store := newGatedStorage()
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "ok")
	}, WithStorage(store))
	// The store's Set waits; the caller has its response all the same.
	if got := h.get("/a"); got.body != "ok" || !got.cache.Stored {
		t.Fatalf("got %q %+v", got.body, got.cache)
	}
	if store.sets.Load() != 0 {
		t.Fatal("the write ran before it was released")
	}
	close(store.release)
	h.transport.Close() // waits for the write
	if store.sets.Load() != 1 {
		t.Fatalf("after Close, %d writes done, want 1", store.sets.Load())
	}
	if got := h.get("/a"); !got.cache.Hit {
		t.Fatalf("the entry written behind is not served: %+v", got.cache)
	}
}

// TestInvalidationWaitsForEarlierWrites: an unsafe request's invalidation
// runs after the writes queued before it, so that none brings the stale
// entry back once the response has reached the caller.
func TestInvalidationWaitsForEarlierWrites(t *testing.T) {
	store := newGatedStorage()
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "ok")
	}, WithStorage(store))
	h.get("/a") // its write waits
	posted := make(chan struct{})
	go func() {
		h.do(http.MethodPost, "/a")
		close(posted)
	}()
	select {
	case <-posted:
		t.Fatal("the POST returned while a write of the URL was still pending")
	case <-time.After(50 * time.Millisecond):
	}
	close(store.release)
	<-posted
	store.mu.Lock()
	order := fmt.Sprint(store.order)
	store.mu.Unlock()
	if want := fmt.Sprintf("[set %s delete %s]", cacheKey(mustParseURL(t, h.origin.URL+"/a")), cacheKey(mustParseURL(t, h.origin.URL+"/a"))); order != want {
		t.Fatalf("storage saw %s, want %s", order, want)
	}
	if got := h.get("/a"); got.cache.Hit {
		t.Fatal("the invalidated entry was served")
	}
}

func TestWritesRunAtOnceWhenTooManyArePending(t *testing.T) {
	w := newWriteBehind()
	w.limit = 10
	release := make(chan struct{})
	w.write(8, func() { <-release }) // queued, and holding the goroutine
	ran := false
	w.write(8, func() { ran = true }) // over the limit: runs here
	if !ran {
		t.Fatal("a write over the pending limit was queued")
	}
	close(release)
	w.close()
	if running, queued := w.pending(); running || queued != 0 {
		t.Fatal("close returned with writes pending")
	}
	ran = false
	w.write(1, func() { ran = true }) // after close: at once
	if !ran {
		t.Fatal("a write after close was queued")
	}
}
