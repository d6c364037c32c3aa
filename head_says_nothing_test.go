package httpcache

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestHeadWithoutValidatorKeepsTheStoredResponse: a stored GET
// with an ETag and a stale-if-error window goes stale; a HEAD (the caller
// checks whether the resource exists) reaches the origin, whose HEAD handler
// omits the ETag (common: ETags computed from the body). Such a HEAD
// neither matches nor contradicts the stored response (headSaysNothing):
// the cache deleted it (freshenFromHead), and when the origin then failed,
// the GET, which stale-if-error would have answered from the stored
// response, got the 500. Found by a probe; it now stays.
func TestHeadWithoutValidatorKeepsTheStoredResponse(t *testing.T) {
	var failing atomic.Bool
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, "down")
			return
		}
		w.Header().Set("Cache-Control", "max-age=10, stale-if-error=3600")
		if r.Method == http.MethodGet {
			w.Header().Set("ETag", `"v1"`)
		}
		fmt.Fprint(w, "page")
	})
	h.get("/p")
	h.clock.Advance(20 * time.Second)
	if head := h.do(http.MethodHead, "/p"); head.status != http.StatusOK {
		t.Fatalf("setup: HEAD %d", head.status)
	}
	failing.Store(true)
	got := h.get("/p")
	if got.status != http.StatusOK || got.body != "page" {
		t.Fatalf("after a HEAD without ETag, the failing origin's %d %q was served instead of the stored response (stale-if-error=3600): %q",
			got.status, got.body, got.header.Get("Cache-Status"))
	}
}
