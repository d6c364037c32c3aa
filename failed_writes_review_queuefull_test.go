package httpcache

// Regression tests for findings of a review of this session's commits:
// each comment says what the former code did.

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// A write dropped because the write-behind queue is full hides everything
// under the key up to now (remember(..., now)), the memory tier's copy of
// the new response too, which cc9ad55 keeps for a failed Set.
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
