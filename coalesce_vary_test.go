package httpcache

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// TestCoalescedWaiterOfAnotherVariantSendsItsOwn: a field the coalescer
// ignores (X-Request-Id, by default), which the origin names in Vary: a
// waiter whose value differs got the leader's variant, a body the origin
// never chose for its request, and which the cache would never serve it
// from storage. It now sends its own request.
func TestCoalescedWaiterOfAnotherVariantSendsItsOwn(t *testing.T) {
	release := make(chan struct{})
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			<-release
		}
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Vary", "X-Request-Id")
		io.WriteString(w, "for "+r.Header.Get("X-Request-Id"))
	}))
	defer srv.Close()
	tr, err := NewTransport(WithTransport(&http.Transport{})) // default IgnoreHeaders include X-Request-Id
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var wg sync.WaitGroup
	bodies := make([]string, 2)
	do := func(i int, id string) {
		defer wg.Done()
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("X-Request-Id", id)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Error(err)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		bodies[i] = string(b)
	}
	wg.Add(1)
	go do(0, "A")
	waitUntil(t, "leader at origin", func() bool { return n.Load() == 1 })
	wg.Add(1)
	go do(1, "B")
	waitUntil(t, "waiter", func() bool { return tr.coalescedWaiters() >= 2 })
	close(release)
	wg.Wait()
	if bodies[1] != "for B" {
		t.Fatalf("caller with X-Request-Id B got %q; the origin varies on X-Request-Id", bodies[1])
	}
}
