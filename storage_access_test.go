package httpcache

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestFreshnessIsJudgedAfterTheLookup: a store's lookup may take up to the
// storage timeout; a response that goes stale meanwhile is not served as
// fresh, nor with an Age that leaves the wait out. (The clock was once read
// before the lookup for every store, to spare the built-in memory store a
// second reading; that one answers at once and still shares the reading.)
func TestFreshnessIsJudgedAfterTheLookup(t *testing.T) {
	clock := newTestClock()
	var requests atomic.Int64
	origin := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		requests.Add(1)
		h := http.Header{"Cache-Control": {"max-age=1"}, "Date": {clock.Now().UTC().Format(http.TimeFormat)}}
		return &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(bytes.NewReader([]byte("x"))), ContentLength: 1, Request: req}, nil
	})
	store := newFakeStorage()
	var slow atomic.Bool
	store.get = func(ctx context.Context, key string) ([]*Entry, error) {
		if slow.Load() {
			clock.Advance(1500 * time.Millisecond) // a lookup within the storage timeout
		}
		return store.memory.Get(ctx, key)
	}
	tr := New(WithTransport(origin), WithStorage(store), WithClock(clock.Now), WithSynchronousWrites(true))
	defer tr.Close()
	get := func() CacheStatus {
		resp, _ := send(t, tr, must(http.NewRequest(http.MethodGet, "https://api.example.com/x", nil)))
		status, _ := StatusOf(resp)
		return status
	}
	get()
	if status := get(); !status.Hit {
		t.Fatalf("not stored: %+v", status)
	}
	slow.Store(true)
	if status := get(); status.Hit || requests.Load() != 2 {
		t.Fatalf("a response 1.5 s old with max-age=1 was answered with %+v after %d origin requests: judged before the lookup", status, requests.Load())
	}
}
