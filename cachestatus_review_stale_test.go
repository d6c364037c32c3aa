package httpcache

// Regression tests for findings of a review of this session's commits:
// each comment says what the former code did.

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// A response whose age equals its lifetime is stale (policy: fresh is
// age < lifetime), and served under stale-while-revalidate; its TTL is 0,
// so Stale() is false and the header says ttl=0, as a fresh hit's.
func TestStaleAtExactLifetime(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=60")
		fmt.Fprint(w, "x")
	})
	h.get("/a")
	h.transport.waitForWrites()
	h.clock.Advance(10 * time.Second)
	r := h.get("/a")
	t.Logf("Cache-Status: %q", r.header.Get("Cache-Status"))
	time.Sleep(300 * time.Millisecond)
	if h.requests.Load() != 2 {
		t.Fatalf("no background revalidation: %d", h.requests.Load())
	}
	if r.cache.Hit && !r.cache.Stale() {
		t.Fatalf("a stale (age == lifetime, revalidated in background: origin requests %d) hit reports Stale() false", h.requests.Load())
	}
}
