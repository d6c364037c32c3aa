package httpcache

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

// A status a rule does not store (its CacheableStatuses) says so
// (detail=status) and, like any response a rule keeps out, leaves the
// stored response in place: a 404 under a rule that stores only 200s
// does not wipe the stored 200.
func TestRuleStatusKeepsTheStoredResponse(t *testing.T) {
	status := http.StatusOK
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=0, must-revalidate")
		w.Header().Set("ETag", `"1"`)
		w.WriteHeader(status)
		io.WriteString(w, "body")
	}, WithRules(Rule{Pattern: "*", CacheableStatuses: []int{200}}), WithSynchronousWrites(true))
	h.get("/a")
	status = http.StatusNotFound
	got := h.get("/a")
	if got.status != http.StatusNotFound || got.cache.Detail != detailStatus {
		t.Fatalf("the 404: %d %+v", got.status, got.cache)
	}
	if entries, _, _ := h.transport.load(context.Background(), []byte(h.origin.URL+"/a"), time.Now()); len(entries) != 1 {
		t.Fatalf("the stored 200 was removed by a 404 the rule keeps out (%d entries)", len(entries))
	}
}
