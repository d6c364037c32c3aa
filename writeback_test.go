package httpcache

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
	for h.transport.writes.pendingHolder() == "" {
		time.Sleep(time.Millisecond) // the write has started: the POST must wait for it
	}
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

// TestWritesOverTheLimitAreDropped: a write that does not fit the queue is
// dropped, with the queued writes of its key, so that no older version of
// the key lands after it; writes of other keys stay queued.
func TestWritesOverTheLimitAreDropped(t *testing.T) {
	w := newWriteBehind()
	w.limit = 10
	release := make(chan struct{})
	var ran []string
	var mu sync.Mutex
	record := func(name string) func() {
		return func() { mu.Lock(); ran = append(ran, name); mu.Unlock() }
	}
	w.write("hold", nil, 1, func() { <-release }) // holds the goroutine
	for w.pendingHolder() != "hold" {
		time.Sleep(time.Millisecond)
	}
	w.write("a", nil, 4, record("a v1"))
	w.write("b", nil, 4, record("b v1"))
	if w.write("a", nil, 4, record("a v2")) {
		t.Fatal("a write over the limit was queued")
	}
	close(release)
	w.close(time.Minute)
	if fmt.Sprint(ran) != "[b v1]" {
		t.Fatalf("ran %v, want [b v1]: a's older version must not land after its newer one was dropped", ran)
	}
	ran = nil
	w.write("c", nil, 1, record("c")) // after close: at once
	if fmt.Sprint(ran) != "[c]" {
		t.Fatal("a write after close was queued")
	}
}

// TestDeleteWaitsOnlyForItsKeys: a delete supersedes the queued writes of
// its keys, waits for one being written, and never for other keys' writes.
func TestDeleteWaitsOnlyForItsKeys(t *testing.T) {
	w := newWriteBehind()
	release := make(chan struct{})
	var ran []string
	var mu sync.Mutex
	record := func(name string) func() {
		return func() { mu.Lock(); ran = append(ran, name); mu.Unlock() }
	}
	w.write("other", nil, 1, func() { <-release }) // a slow write of another key
	for w.pendingHolder() != "other" {
		time.Sleep(time.Millisecond)
	}
	w.write("k", nil, 1, record("set k"))
	deleted := make(chan struct{})
	go func() {
		w.delete(oneKey("k"), record("delete k"))
		close(deleted)
	}()
	select {
	case <-deleted:
	case <-time.After(10 * time.Second):
		t.Fatal("the delete of k waited for another key's write")
	}
	close(release)
	w.close(time.Minute)
	if fmt.Sprint(ran) != "[delete k]" {
		t.Fatalf("ran %v: the queued write of k must be superseded by its delete", ran)
	}
}

// TestCloseIsBounded: Close waits for the queue up to its timeout, then
// drops what is left and says how much.
func TestCloseIsBounded(t *testing.T) {
	w := newWriteBehind()
	release := make(chan struct{})
	defer close(release)
	w.write("slow", nil, 1, func() { <-release })
	for w.pendingHolder() != "slow" {
		time.Sleep(time.Millisecond)
	}
	w.write("a", nil, 1, func() {})
	w.write("b", nil, 1, func() {})
	done := make(chan int)
	go func() { done <- w.close(10 * time.Millisecond) }()
	time.Sleep(20 * time.Millisecond)
	release <- struct{}{} // the slow write ends once the timeout has passed
	if dropped := <-done; dropped != 2 {
		t.Fatalf("close dropped %d writes, want 2", dropped)
	}
}

// TestReadYourWrites: with a store written behind, the next request is a
// hit while its entry still waits to be written.
func TestReadYourWrites(t *testing.T) {
	store := newGatedStorage()
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "ok")
	}, WithStorage(store))
	defer close(store.release)
	h.get("/a")
	for i := range 3 {
		if got := h.get("/a"); !got.cache.Hit || got.body != "ok" {
			t.Fatalf("request %d while the write is pending: %+v", i+2, got.cache)
		}
	}
	h.wantOriginRequests(1)
}

// TestSynchronousWrites: WithSynchronousWrites stores the entry before the
// body's end reaches the caller, with no goroutine behind.
func TestSynchronousWrites(t *testing.T) {
	store := newFakeStorage()
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "ok")
	}, WithStorage(store), WithSynchronousWrites(true))
	h.get("/a")
	if h.transport.writes != nil || store.sets.Load() != 1 {
		t.Fatalf("write behind %v, %d sets once the body was read", h.transport.writes != nil, store.sets.Load())
	}
}

// TestFailedInvalidationIsNotForgotten: when the store fails to delete, the
// invalidated entry is not served, and the delete is retried until it
// succeeds.
func TestFailedInvalidationIsNotForgotten(t *testing.T) {
	store := newFakeStorage()
	var failing atomic.Bool
	store.deleteURL = func(ctx context.Context, url string) error {
		if failing.Load() {
			return errors.New("the store is unreachable")
		}
		return store.memory.DeleteURL(ctx, url)
	}
	var version atomic.Int64
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			version.Add(1)
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "v%d", version.Load())
	}, WithStorage(store))
	h.get("/a")
	h.transport.waitForWrites()
	failing.Store(true)
	h.do(http.MethodPost, "/a") // its invalidation fails
	h.clock.Advance(time.Second)
	if got := h.get("/a"); got.cache.Hit || got.body != "v1" {
		t.Fatalf("after a failed invalidation: %q (hit %v), want v1 from the origin", got.body, got.cache.Hit)
	}
	h.transport.waitForWrites()
	if got := h.get("/a"); !got.cache.Hit || got.body != "v1" {
		t.Fatalf("the entry stored after the failed invalidation: %q (hit %v)", got.body, got.cache.Hit)
	}
	failing.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for h.transport.failedDeletes.count.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the failed delete was not retried")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestInvalidationDoesNotWaitForOtherKeys: with a store stuck on earlier
// writes of other URLs, an unsafe request returns at once: its
// invalidation supersedes its URL's queued write and waits for no other.
func TestInvalidationDoesNotWaitForOtherKeys(t *testing.T) {
	store := newGatedStorage()
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "ok")
	}, WithStorage(store))
	for i := range 20 {
		h.get(fmt.Sprintf("/b%d", i)) // queued behind the stuck store
	}
	h.get("/a")
	posted := make(chan struct{})
	go func() {
		h.do(http.MethodPost, "/a")
		close(posted)
	}()
	select {
	case <-posted:
	case <-time.After(10 * time.Second):
		t.Fatal("the POST waited for other URLs' writes")
	}
	if got := h.get("/a"); got.cache.Hit {
		t.Fatal("the invalidated entry was served from the pending writes")
	}
	close(store.release)
	h.transport.waitForWrites()
	if got := h.get("/b3"); !got.cache.Hit {
		t.Fatal("another URL's write was lost")
	}
}

// TestCancelledWritesAreReleased: while the writer is stuck on a slow
// store, writes cancelled by deletes release their entries at once, and
// the queue does not grow with them (a helper measured 300 MiB held for a
// queue bound of 64 MiB before).
func TestCancelledWritesAreReleased(t *testing.T) {
	w := newWriteBehind()
	stuck, release := make(chan struct{}), make(chan struct{})
	w.write("first", &Entry{}, 1, func() { close(stuck); <-release })
	<-stuck
	for i := range 1000 {
		key := fmt.Sprint("k", i)
		if !w.write(key, &Entry{Body: BytesBody(make([]byte, 1<<10))}, 1<<10, func() { t.Error("a cancelled write ran") }) {
			t.Fatal("the queue refused a write")
		}
		w.delete(oneKey(key), func() {})
	}
	w.mu.Lock()
	queued, held := len(w.queue), 0
	for _, p := range w.queue {
		if p.entry != nil || p.work != nil {
			held++
		}
	}
	w.mu.Unlock()
	if queued > 200 || held != 0 {
		t.Errorf("after 1000 cancelled writes: %d in the queue, %d holding their entry", queued, held)
	}
	if writes, bytes := w.queued(); writes != 0 || bytes != 1 {
		t.Errorf("queued() = %d writes, %d bytes; want only the write under way, of 1 byte", writes, bytes)
	}
	close(release)
	w.close(time.Second)
}

// TestDeleteSelectsItsKeysOnly: the delete of a URL supersedes the queued
// writes of every partition of that URL and of no other URL, however
// alike (a longer path, a query); the delete of a key, that key's only.
// What is left is found again: no key stays indexed once its writes end.
func TestDeleteSelectsItsKeysOnly(t *testing.T) {
	w := newWriteBehind()
	stuck, release := make(chan struct{}), make(chan struct{})
	w.write("writer", &Entry{}, 1, func() { close(stuck); <-release })
	<-stuck
	ran := map[string]bool{}
	var mu sync.Mutex
	keys := []string{"https://a/x", "https://a/x\x00alice", "https://a/x\x00bob", "https://a/xy", "https://a/x?q=1", "https://a/x/y\x00alice"}
	for _, key := range keys {
		w.write(key, &Entry{}, 1, func() { mu.Lock(); ran[key] = true; mu.Unlock() })
	}
	w.delete(urlKeys("https://a/x"), func() {})
	w.delete(oneKey("https://a/xy"), func() {})
	close(release)
	w.close(time.Minute)
	want := map[string]bool{"https://a/x?q=1": true, "https://a/x/y\x00alice": true}
	if fmt.Sprint(ran) != fmt.Sprint(want) {
		t.Fatalf("written: %v, want %v", ran, want)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.byKey) != 0 || len(w.byURL) != 0 {
		t.Fatalf("left indexed: %d keys, %d URLs", len(w.byKey), len(w.byURL))
	}
}
