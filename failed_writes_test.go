package httpcache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestFailedWriteHidesTheOlderResponse: when the store cannot take a newer
// response (a read-only disk, a full Redis), what it still holds under the
// key is older than what the caller got, and is never served again as a
// hit: the next request goes to the origin. With writes behind the request
// and synchronous ones, and whatever the clock did between the two
// responses: moved on, read the same (a coarse clock), or stepped back (or
// the older one came from a host whose clock is ahead). Hiding by
// ResponseTime served the older one in the last two cases.
func TestFailedWriteHidesTheOlderResponse(t *testing.T) {
	for _, step := range []time.Duration{time.Second, 0, -time.Second} {
		for _, synchronous := range []bool{false, true} {
			t.Run(fmt.Sprintf("clock%+v/synchronous=%v", step, synchronous), func(t *testing.T) {
				var version atomic.Int64
				version.Store(1)
				store, readOnly := newReadOnlyAtWillStorage()
				h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Cache-Control", "max-age=600")
					fmt.Fprintf(w, "v%d", version.Load())
				}, WithStorage(store), WithSynchronousWrites(synchronous))
				if r := h.get("/doc"); r.body != "v1" {
					t.Fatalf("first: %q", r.body)
				}
				h.transport.waitForWrites()
				if r := h.get("/doc"); r.body != "v1" || !r.cache.Hit {
					t.Fatalf("stored: %q %+v", r.body, r.cache)
				}
				readOnly.Store(true)
				version.Store(2)
				h.clock.Advance(step)
				body, _ := getWith(t, h.client, h.origin.URL+"/doc", withHeader("Cache-Control", "no-cache"))
				if body != "v2" {
					t.Fatalf("refresh: %q", body)
				}
				h.transport.waitForWrites()
				if r := h.get("/doc"); r.body != "v2" || r.cache.Hit {
					t.Fatalf("after the failed write: %q %+v; want v2 from the origin", r.body, r.cache)
				}
				if got := h.transport.Stats().StorageErrors["set"]; got == 0 {
					t.Error("the failed write was not counted")
				}
			})
		}
	}
}

// TestNoRetryGoroutineAtCloseReturn: when Close returns, the retries of
// failed deletes have done all their work, the goroutine that watches for
// Close included (it could still be waiting to run its cancel when Close
// returned). A goroutine left then is one returning, which goleak allows
// for; one still waiting would be found.
func TestNoRetryGoroutineAtCloseReturn(t *testing.T) {
	for range 20 {
		before := goleak.IgnoreCurrent()
		store := newFakeStorage()
		store.deleteURL = func(ctx context.Context, url string) error { return errors.New("read-only") }
		store.delete = func(ctx context.Context, key string) error { return errors.New("read-only") }
		tr := must(NewTransport(WithTransport(statusOrigin(http.StatusOK)), WithStorage(store)))
		req := must(http.NewRequest(http.MethodPost, "http://api.example/doc", nil))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if tr.failedDeletes.count.Load() == 0 {
			t.Fatal("the failed delete was not remembered: no retries to stop")
		}
		tr.Close()
		if err := goleak.Find(before); err != nil {
			t.Fatal(err)
		}
	}
}

// statusOrigin answers every request with code and an empty body.
type statusOrigin int

func (o statusOrigin) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: int(o), Header: http.Header{}, Body: http.NoBody, Request: req}, nil
}

// TestContractBreakingNeighbours: an upstream or a store that breaks its
// contract makes an error or a miss, never a panic, with coalescing on or
// off: an upstream returning neither response nor error, one that panics,
// a response without a body, a store returning nil entries.
func TestContractBreakingNeighbours(t *testing.T) {
	upstreams := map[string]roundTripFunc{
		"nil, nil": func(*http.Request) (*http.Response, error) { return nil, nil },
		"panic":    func(*http.Request) (*http.Response, error) { panic("boom") },
	}
	for _, coalescing := range []bool{true, false} {
		for name, upstream := range upstreams {
			tr := must(NewTransport(WithTransport(upstream), WithCoalescing(CoalesceOptions{Disabled: !coalescing})))
			resp, err := tr.RoundTrip(must(http.NewRequest(http.MethodGet, "http://api.example/a", nil)))
			if err == nil || resp != nil {
				t.Errorf("%s, coalescing %v: %v, %v; want an error", name, coalescing, resp, err)
			}
			tr.Close()
		}
		tr := must(NewTransport(WithTransport(roundTripFunc(func(req *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Header: http.Header{"Cache-Control": {"max-age=60"}}, Request: req}, nil
		})), WithCoalescing(CoalesceOptions{Disabled: !coalescing})))
		resp, err := tr.RoundTrip(must(http.NewRequest(http.MethodGet, "http://api.example/a", nil)))
		if err != nil || resp.Body == nil {
			t.Errorf("a response without a body, coalescing %v: %v, %v", coalescing, resp, err)
		} else {
			resp.Body.Close()
		}
		tr.Close()
	}
	store := newFakeStorage()
	store.get = func(context.Context, string) ([]*Entry, error) { return []*Entry{nil, {StatusCode: 200}}, nil }
	tr := must(NewTransport(WithTransport(statusOrigin(http.StatusOK)), WithStorage(store)))
	defer tr.Close()
	resp, err := tr.RoundTrip(must(http.NewRequest(http.MethodGet, "http://api.example/a", nil)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st, _ := StatusOf(resp); st.Hit {
		t.Error("a nil entry was served")
	}
}

// TestOptionsThatWouldDoNothingAreRefused: Disabled with other options of
// the same feature, which would then be silently ignored, is an error.
func TestOptionsThatWouldDoNothingAreRefused(t *testing.T) {
	for name, opt := range map[string]Option{
		"coalescing": WithCoalescing(CoalesceOptions{Disabled: true, All: true}),
		"back-off":   WithBackoff(BackoffOptions{Disabled: true, StaleWindow: time.Hour}),
	} {
		if _, err := NewTransport(opt); err == nil || !strings.Contains(err.Error(), "Disabled") {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, opt := range map[string]Option{
		"coalescing": WithCoalescing(CoalesceOptions{Disabled: true}),
		"back-off":   WithBackoff(BackoffOptions{Disabled: true}),
	} {
		if tr, err := NewTransport(opt); err != nil {
			t.Errorf("%s, Disabled alone: %v", name, err)
		} else {
			tr.Close()
		}
	}
}

// newReadOnlyAtWillStorage returns a store whose writes and deletes fail
// while readOnly is set, as a disk remounted read-only does.
func newReadOnlyAtWillStorage() (store *fakeStorage, readOnly *atomic.Bool) {
	store, readOnly = newFakeStorage(), new(atomic.Bool)
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
	return store, readOnly
}

// TestFailedWriteKeepsTheMemoryTiersCopy: with a TieredStorage whose back
// tier is down, the failed write's retry deletes from that tier only: the
// memory tier's copy of the new response stays a hit (the retry's delete of
// the whole store wiped it a second later).
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

// TestQueueFullKeepsTheMemoryTiersCopy: a write dropped because the
// write-behind queue is full is a failed write: the memory tier's copy of
// the new response stays a hit (everything under the key up to then was
// hidden, that copy too).
func TestQueueFullKeepsTheMemoryTiersCopy(t *testing.T) {
	front := NewMemoryStorage(0)
	back := newFakeStorage()
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprint(w, "v1")
	}, WithStorage(must(NewTieredStorage(front, back, time.Minute))))
	h.transport.writes.mu.Lock()
	h.transport.writes.limit = 1 // every write behind is dropped as over the queue's bound
	h.transport.writes.mu.Unlock()
	h.get("/doc")
	if n := front.Len(); n != 1 {
		t.Fatalf("memory tier holds %d keys", n)
	}
	if r := h.get("/doc"); !r.cache.Hit {
		t.Fatalf("the memory tier's copy is hidden after a dropped write behind: %+v", r.cache)
	}
}

// TestRetryConfirmKeepsANewerFailedWrite: a retry's delete that succeeds
// confirms only what was remembered before it started. It confirmed the
// key whatever was remembered meanwhile, so a write that failed while the
// delete was under way was forgotten with it, and the older response it
// was meant to hide was served as a hit after the caller got the newer
// one.
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

// TestDroppedWriteWaitsForTheOlderWriteUnderWay: a write dropped because
// the queue behind the requests was full, while an older write of the same
// key was under way, is hidden until the key is deleted; the retry's
// delete waits for that older write, which would otherwise land after it,
// and the older response be served as fresh after the caller got the newer
// one (found by a probe).
func TestDroppedWriteWaitsForTheOlderWriteUnderWay(t *testing.T) {
	var version atomic.Int64
	version.Store(1)
	store := newFakeStorage()
	release := make(chan struct{})
	var first atomic.Bool
	store.set = func(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
		if first.CompareAndSwap(false, true) {
			<-release // the write of v1 is slow
		}
		return store.memory.Set(ctx, key, e, ttl)
	}
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, "v%d", version.Load())
	}, WithStorage(store))
	h.get("/doc") // v1, written behind, held
	waitForWriting(h)
	fillWriteQueue(h) // v2's write does not fit
	version.Store(2)
	if body, _ := getWith(t, h.client, h.origin.URL+"/doc", withHeader("Cache-Control", "no-cache")); body != "v2" {
		t.Fatalf("refresh: %q", body)
	}
	pass := make(chan struct{})
	go func() {
		defer close(pass)
		h.transport.failedDeletes.retryPass(context.Background(), h.transport)
	}()
	select {
	case <-pass: // the former code: deleted, and confirmed, before v1 landed
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	<-pass
	h.transport.waitForWrites()
	if r := h.get("/doc"); r.body != "v2" {
		t.Fatalf("after the caller got v2, whose write was dropped, the cache serves %q (hit %v): the older write landed after the retry's delete", r.body, r.cache.Hit)
	}
}
