package httpcache

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestCoalescedConditionalCookiesStayWithTheirCaller: in a shared
// cache, identical conditional requests coalesced on a revalidation whose
// origin 200 sets a cookie: the 304 the cache makes for the leader carries
// the cookie; no waiter may get it.
func TestCoalescedConditionalCookiesStayWithTheirCaller(t *testing.T) {
	var version atomic.Int64
	version.Store(1)
	var n atomic.Int64
	release := make(chan struct{})
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		v := version.Load()
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("ETag", fmt.Sprintf(`"v%d"`, v))
		if v == 2 {
			<-release
			w.Header().Set("Set-Cookie", fmt.Sprintf("session=%d", n.Add(1)))
		}
		fmt.Fprintf(w, "v%d", v)
	}, WithShared(true))
	h.get("/c")
	version.Store(2)
	h.clock.Advance(time.Minute)
	const callers = 4
	results := make(chan result, callers)
	for range callers {
		go func() { results <- h.get("/c", "If-None-Match", `"v2"`) }()
	}
	time.Sleep(100 * time.Millisecond)
	close(release)
	cookies := map[string]int{}
	for range callers {
		r := <-results
		if r.status != http.StatusNotModified {
			t.Errorf("status %d, want 304", r.status)
		}
		for _, c := range r.header.Values("Set-Cookie") {
			cookies[c]++
		}
	}
	for c, k := range cookies {
		if k > 1 {
			t.Errorf("cookie %q went to %d callers", c, k)
		}
	}
	t.Logf("origin requests %d, cookies %v", h.requests.Load(), cookies)
}
