package httpcache

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestBackoffTriggeringRequestGetsStoredResponse: a stale stored
// response inside its stale-if-error window is revalidated; the origin
// answers 429 with Retry-After. Every later request during the back-off
// gets the stored response (serveDuringBackoff), and so does the very
// request whose 429 started the back-off: it got the 429, a failure served
// where the stored response may answer (promise 4: "back-off serve it
// where allowed"), though the same caller one millisecond later got a 200.
// Found by a probe.
func TestBackoffTriggeringRequestGetsStoredResponse(t *testing.T) {
	var limited atomic.Bool
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if limited.Load() {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, "slow down")
			return
		}
		w.Header().Set("Cache-Control", "max-age=1, stale-if-error=3600")
		w.Header().Set("ETag", `"v1"`)
		fmt.Fprint(w, "page")
	})
	h.get("/p")
	h.clock.Advance(5 * time.Second)
	limited.Store(true)
	first := h.get("/p") // revalidated: 429, back-off starts
	h.clock.Advance(time.Millisecond)
	second := h.get("/p") // during the back-off: the stored response
	if second.status != http.StatusOK || second.body != "page" {
		t.Fatalf("setup: during the back-off: %d %q", second.status, second.body)
	}
	if first.status != http.StatusOK || first.body != "page" {
		t.Fatalf("the request whose 429 started the back-off got %d %q (%q), while the next one gets the stored response %d %q",
			first.status, first.body, first.header.Get("Cache-Status"), second.status, second.body)
	}
}
