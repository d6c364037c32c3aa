package httpcache

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestWaiterOfBackoffAnswerStartsNoPhantomProbe: two identical
// requests coalesce on a miss; the origin answers 429 with Retry-After: 1
// and a body that arrives slowly. By the time the body is whole (and the
// waiter wakes) the one second is up. serveStoredAsBackoffStarts called
// backoff.holds, which, finding the time up, marked the scope as probing
// for backoffProbeTimeout (30 s), though no request probed: every request
// for 30 s more was held (the 429 replayed), while the origin asked to
// wait 1 s (found by a review). It now reads the back-off without claiming
// its probe (backingOff).
func TestWaiterOfBackoffAnswerStartsNoPhantomProbe(t *testing.T) {
	release := make(chan struct{})
	answer := make(chan struct{})
	var mu sync.Mutex
	calls := 0
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			<-answer
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, "slow ")
			w.(http.Flusher).Flush()
			<-release
			fmt.Fprint(w, "down")
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "page")
	})
	c := h.transport.coalescer
	waiters := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		n := 0
		for _, f := range c.flights {
			n += f.waiters
		}
		return n
	}
	type got struct {
		status int
		body   string
		err    error
	}
	leaderDone := make(chan *http.Response, 1)
	waiterDone := make(chan got, 1)
	do := func() (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodGet, h.origin.URL+"/p", nil)
		return h.client.Do(req)
	}
	go func() {
		resp, err := do()
		if err != nil {
			t.Error(err)
			leaderDone <- nil
			return
		}
		leaderDone <- resp
	}()
	deadline := time.Now().Add(5 * time.Second)
	for waiters() < 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	go func() {
		resp, err := do()
		if err != nil {
			waiterDone <- got{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		waiterDone <- got{status: resp.StatusCode, body: string(b)}
	}()
	for waiters() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if waiters() < 2 {
		close(answer)
		close(release)
		t.Fatal("setup: the second request did not join the flight")
	}
	close(answer)
	// The 429's header reaches the leader: the back-off starts now, for 1 s.
	leader := <-leaderDone
	if leader == nil {
		close(release)
		return
	}
	if leader.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("setup: leader got %d", leader.StatusCode)
	}
	h.clock.Advance(2 * time.Second) // the body takes 2 s: the back-off is over
	close(release)
	io.ReadAll(leader.Body)
	leader.Body.Close()
	w := <-waiterDone
	if w.err != nil || w.status != http.StatusTooManyRequests {
		t.Fatalf("setup: waiter got %d %q %v", w.status, w.body, w.err)
	}
	before := h.requests.Load()
	// Back-off over a second ago: this request probes the origin.
	third := h.get("/p")
	if h.requests.Load() == before {
		t.Fatalf("the back-off (Retry-After: 1) ended a second ago, yet the request was held and not sent: %d %q (%q); the waiter's holds() started a probe that no request makes (held %v more)",
			third.status, third.body, third.header.Get("Cache-Status"), backoffProbeTimeout)
	}
	if third.status != http.StatusOK || third.body != "page" {
		t.Fatalf("third: %d %q", third.status, third.body)
	}
}
