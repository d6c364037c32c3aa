package httpcache

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestRefusedNotModifiedRemovesTheOldFreshness: a 304 that may not be stored
// (here it withholds a field neededToServe: a qualified no-cache naming
// Expires, which it carries) removes the stored entry, whose metadata it
// supersedes. Kept as it was, the entry was served as fresh for its old
// max-age=3600, though the origin's latest word, the 304, said max-age=0.
func TestRefusedNotModifiedRemovesTheOldFreshness(t *testing.T) {
	var h *harness
	var changed atomic.Bool
	h = newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			changed.Store(true)
			w.Header().Set("Cache-Control", `max-age=0, no-cache="Expires"`)
			w.Header().Set("Expires", httpDate(h.clock.Now().Add(-time.Hour)))
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Cache-Control", "max-age=3600")
		io.WriteString(w, "v1")
	})
	h.get("/a")
	h.clock.Advance(time.Second)
	// A caller forces revalidation; the origin answers 304, max-age=0.
	h.get("/a", "Cache-Control", "no-cache")
	h.wantOriginRequests(2)
	if !changed.Load() {
		t.Fatal("no conditional request reached the origin")
	}
	h.clock.Advance(time.Second)
	third := h.get("/a")
	if got := h.requests.Load(); got != 3 {
		t.Errorf("after the origin's 304 said max-age=0, the next request was served from storage (Cache-Status %+v): "+
			"the refused update left the stored max-age=3600 in force; origin requests = %d, want 3", third.cache, got)
	}
}

// TestRefusedHeadRemovesTheOldFreshness: the same through a HEAD (RFC 9111
// §4.3.5): a HEAD response that matches the stored GET and says
// max-age=0, with a qualified no-cache naming Date (which every response
// carries), may not be stored; the stored GET stayed fresh for its old
// hour, and is now removed.
func TestRefusedHeadRemovesTheOldFreshness(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		if r.Method == http.MethodHead {
			w.Header().Set("Cache-Control", `max-age=0, no-cache="Date"`)
			return
		}
		w.Header().Set("Cache-Control", "max-age=3600")
		io.WriteString(w, "v1")
	})
	h.get("/h")
	h.clock.Advance(time.Second)
	h.do(http.MethodHead, "/h", "Cache-Control", "no-cache")
	h.wantOriginRequests(2)
	h.clock.Advance(time.Second)
	third := h.get("/h")
	if got := h.requests.Load(); got != 3 {
		t.Errorf("after a matching HEAD said max-age=0, the stored GET was served as fresh (Cache-Status %+v); origin requests = %d, want 3", third.cache, got)
	}
}
