package httpcache

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A write dropped for a full queue must not leave the version already in
// the store served as fresh after the origin sent a newer one: the key is
// a miss, never older than it should be. (Found by review.)
func TestWriteDroppedForFullQueueHidesOlderVersion(t *testing.T) {
	var version atomic.Int64
	version.Store(1)
	upstream := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		body := "v" + string(rune('0'+version.Load()))
		if strings.HasSuffix(req.URL.Path, "/big") {
			body = strings.Repeat("x", 4096)
		}
		return &http.Response{StatusCode: 200, Header: http.Header{"Cache-Control": {"max-age=600"}},
			Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: req}, nil
	})
	s := newFakeStorage()
	block := make(chan struct{})
	s.set = func(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
		if strings.Contains(key, "/big") {
			<-block
		}
		return s.memory.Set(ctx, key, e, ttl)
	}
	tr := New(WithTransport(upstream), WithStorage(s))
	defer tr.Close()
	get := func(path string, hdr ...string) string {
		req := must(http.NewRequest("GET", "http://example.test"+path, nil))
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		_, body := send(t, tr, req)
		return body
	}
	get("/k") // v1, written behind
	for s.sets.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	get("/big") // holds the writer
	tr.writes.mu.Lock()
	tr.writes.limit = tr.writes.pendingBytes + 100 // the queue is now full for /k's entry
	tr.writes.mu.Unlock()
	version.Store(2)
	if got := get("/k", "Cache-Control", "no-cache"); got != "v2" {
		t.Fatalf("refresh got %q", got)
	}
	close(block)
	if got := get("/k"); got != "v2" {
		t.Fatalf("after the origin sent v2 (whose write was dropped), the cache serves %q as fresh", got)
	}
}

// close's timer counts what it drops under the lock; it may fire as the
// queue empties, after close returned (go test -race). (Found by review.)
func TestWriteBehindCloseTimerRace(t *testing.T) {
	for range 300 {
		w := newWriteBehind()
		w.write("k", &Entry{}, 1, func() { time.Sleep(time.Millisecond) })
		_ = w.close(time.Millisecond)
	}
}

// A delete waits for the write of its key under way when it starts, not
// for writes of the key queued after it. (Found by review.)
func TestDeleteWaitsOnlyForTheWriteUnderWay(t *testing.T) {
	w := newWriteBehind()
	first, second := make(chan struct{}), make(chan struct{})
	w.write("k", &Entry{}, 1, func() { <-first })
	for w.pendingHolder() == "" { // the writer holds the first write
		time.Sleep(time.Millisecond)
	}
	deleted := make(chan struct{})
	go func() {
		w.delete(oneKey("k"), func() {})
		close(deleted)
	}()
	time.Sleep(10 * time.Millisecond) // let the delete wait (if not, it cancels the next write: no harm)
	w.write("k", &Entry{}, 1, func() { <-second })
	close(first)
	select {
	case <-deleted:
	case <-time.After(10 * time.Second):
		t.Fatal("the delete waited for a write of its key queued after it")
	}
	close(second)
	w.close(time.Second)
}

// After close starts, a write runs at once in its caller, but not before
// an older queued write of its key, which must not land after it. (Found
// by review.)
func TestWriteAfterCloseLandsAfterOlderQueuedWrite(t *testing.T) {
	w := newWriteBehind()
	var mu sync.Mutex
	store := map[string]string{}
	set := func(k, v string) func() {
		return func() { mu.Lock(); store[k] = v; mu.Unlock() }
	}
	block := make(chan struct{})
	w.write("other", &Entry{}, 1, func() { <-block }) // a slow write of another key
	w.write("k", &Entry{}, 1, set("k", "v1"))         // queued behind it
	closed := make(chan int)
	go func() { closed <- w.close(time.Minute) }()
	for {
		w.mu.Lock()
		c := w.closed
		w.mu.Unlock()
		if c {
			break
		}
		time.Sleep(time.Millisecond)
	}
	w.write("k", &Entry{}, 1, set("k", "v2")) // the newer response
	close(block)
	<-closed
	if store["k"] != "v2" {
		t.Fatalf("store holds %q after v2 was written", store["k"])
	}
}

// Close ends a retry pass of failed deletes, and the storage call under
// way, instead of retrying every remembered delete first. (Found by review.)
func TestCloseEndsRetryPass(t *testing.T) {
	s := newFakeStorage()
	var calls atomic.Int64
	s.delete = func(ctx context.Context, key string) error {
		calls.Add(1)
		<-ctx.Done()
		return ctx.Err()
	}
	tr := New(WithStorage(s), WithStorageTimeout(time.Hour))
	for i := range 20 {
		tr.failedDeletes.remember(tr, "key"+string(rune('a'+i)), false, time.Now())
	}
	for calls.Load() == 0 { // the first retry pass (after a second) has begun
		time.Sleep(5 * time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { tr.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for the retry pass (20 deletes under an hour's timeout)")
	}
	if n := calls.Load(); n >= 20 {
		t.Fatalf("%d deletes tried before Close returned", n)
	}
}
