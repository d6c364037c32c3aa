package httpcache

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestStaleIfError503WithRetryAfterCountsAsStaleOnError: a stale
// stored response inside stale-if-error is revalidated; the origin answers
// 503 with Retry-After. The request went to the origin, which failed, and
// the stored response answered: RFC 5861 §4's stale-if-error (StaleOnError
// 1, detail stale-if-error). serveStoredAsBackoffStarts, run first (found
// by a review), counted it as Backoff ("answered without the origin",
// which it was not); it runs only when stale-if-error does not answer.
func TestStaleIfError503WithRetryAfterCountsAsStaleOnError(t *testing.T) {
	var failing atomic.Bool
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, "down")
			return
		}
		w.Header().Set("Cache-Control", "max-age=1, stale-if-error=3600")
		w.Header().Set("ETag", `"v1"`)
		fmt.Fprint(w, "page")
	})
	h.get("/p")
	h.clock.Advance(5 * time.Second)
	failing.Store(true)
	got := h.get("/p")
	if got.status != http.StatusOK || got.body != "page" {
		t.Fatalf("setup: %d %q", got.status, got.body)
	}
	h.wantOriginRequests(2)
	s := h.transport.Stats().Requests
	if s.StaleOnError != 1 || s.Backoff != 0 {
		t.Fatalf("a request the origin failed (503), answered by stale-if-error: StaleOnError %d, Backoff %d (want 1, 0: Backoff counts requests answered without the origin); Cache-Status %q",
			s.StaleOnError, s.Backoff, got.header.Get("Cache-Status"))
	}
}

// TestBackgroundRevalidation503IsAFailure: a stale-while-revalidate
// hit starts a background revalidation, which the origin answers 503 with
// Retry-After. That is a failed background revalidation (BackgroundFailed,
// and its warning). serveStoredAsBackoffStarts answered the background
// step with the stored response itself (found by a review): no failure
// counted, and a Backoff request counted though no caller made one. A
// background revalidation has no fallback.
func TestBackgroundRevalidation503IsAFailure(t *testing.T) {
	var failing atomic.Bool
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, "down")
			return
		}
		w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=600, stale-if-error=3600")
		w.Header().Set("ETag", `"v1"`)
		fmt.Fprint(w, "page")
	})
	h.get("/p")
	h.clock.Advance(5 * time.Second)
	failing.Store(true)
	if got := h.get("/p"); got.status != http.StatusOK || got.body != "page" {
		t.Fatalf("setup: %d %q", got.status, got.body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.transport.background.busy() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	h.wantOriginRequests(2)
	s := h.transport.Stats()
	if s.BackgroundFailed != 1 || s.Requests.Backoff != 0 {
		t.Fatalf("the background revalidation got a 503: BackgroundFailed %d, Backoff %d (want 1, 0)", s.BackgroundFailed, s.Requests.Backoff)
	}
}

func (b *background) busy() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.running) > 0
}
