package httpcache

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// /doc's v1 (no Vary, Variant "") is queued behind a slow write; the
// origin then adds Vary: Accept-Language, and v2's write is dropped for
// a full queue. The drop cancels the queued writes v2 outdates
// (outdatedBy): v1's too, under another Vary list, so it never lands to
// be served after the caller got v2.
func TestDroppedWriteCancelsQueuedWriteOfOtherVaryList(t *testing.T) {
	version := new(atomic.Int64)
	store := variantDeleterStore{newFakeStorage()}
	release := make(chan struct{})
	store.set = func(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
		if strings.Contains(key, "/slow") {
			<-release
		}
		return store.memory.Set(ctx, key, e, ttl)
	}
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		v := version.Load()
		if v >= 2 {
			w.Header().Set("Vary", "Accept-Language")
		}
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, "v%d", v)
	}, WithStorage(store))
	version.Store(0)
	h.get("/doc", "Accept-Language", "en")
	h.transport.waitForWrites()
	h.get("/slow")
	variantQueueWaitWriting(h)
	version.Store(1)
	if r := h.get("/doc", "Accept-Language", "en", "Cache-Control", "no-cache"); r.body != "v1" {
		t.Fatalf("set-up: %q", r.body)
	}
	w := h.transport.writes
	w.mu.Lock()
	w.limit = w.pendingBytes + 1 // v2's write does not fit
	w.mu.Unlock()
	version.Store(2)
	if r := h.get("/doc", "Accept-Language", "en", "Cache-Control", "no-cache"); r.body != "v2" {
		t.Fatalf("set-up: %q", r.body)
	}
	close(release)
	h.transport.waitForWrites()
	if r := h.get("/doc", "Accept-Language", "en"); r.body == "v1" || r.body == "v0" {
		t.Fatalf("after the caller got v2 (its write dropped), an older response is served: %q (hit %v, %q)", r.body, r.cache.Hit, r.header.Get("Cache-Status"))
	}
}
