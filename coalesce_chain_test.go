package httpcache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// A leader whose context ends hands its flight over and returns; its
// caller may then reuse its request. A retry of that request with another
// header must not be taken for the flight's identity: the waiter, whose
// header is the first one's, gets a response to its own header, never the
// retry's. (Found by review: the flight kept the old leader's exchange as
// its identity, whose request the retry had changed.)
func TestCoalesceHandoverIsNotJoinedByTheRetry(t *testing.T) {
	var requests atomic.Int64
	origin := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if requests.Add(1) == 1 {
			<-req.Context().Done() // the first leader never gets an answer
			return nil, req.Context().Err()
		}
		body := "for " + req.Header.Get("X-Variant")
		return &http.Response{StatusCode: 200, Header: http.Header{"Cache-Control": {"max-age=0"}},
			ContentLength: int64(len(body)), Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
	})
	tr := New(WithTransport(origin))
	defer tr.Close()
	ctx, cancel := context.WithCancel(context.Background())
	retried := make(chan string, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.example/a", nil)
		req.Header.Set("X-Variant", "a")
		if _, err := tr.RoundTrip(req); !errors.Is(err, context.Canceled) {
			retried <- fmt.Sprint("first: ", err)
			return
		}
		// WithContext shares the Header map, as retries commonly do.
		req = req.WithContext(context.Background())
		req.Header.Set("X-Variant", "b")
		_, body := send(t, tr, req)
		retried <- body
	}()
	waitForWaiters(t, tr, 1)
	waiter := make(chan string, 1)
	go func() {
		_, body := send(t, tr, mustRequest(t, "http://api.example/a", "X-Variant", "a"))
		waiter <- body
	}()
	waitForWaiters(t, tr, 2)
	cancel()
	if got, retry := <-waiter, <-retried; got != "for a" || retry != "for b" {
		t.Fatalf("the waiter (X-Variant: a) got %q, the retry (X-Variant: b) %q", got, retry)
	}
}

// A URL requested by many clients at once, each with a header of its own
// (a gateway's User-Agents), keeps at most maxFlightsPerKey flights under
// its key, which each request compares itself with under the coalescer's
// lock; the others go alone, and every request is answered.
func TestCoalesceFlightsPerKeyAreBounded(t *testing.T) {
	origin := newGatedOrigin()
	tr := New(WithTransport(origin))
	defer tr.Close()
	const clients = 3 * maxFlightsPerKey
	var wg sync.WaitGroup
	bodies := make(chan string, clients)
	for i := range clients {
		wg.Go(func() {
			_, body := send(t, tr, mustRequest(t, "http://api.example/hot", "User-Agent", fmt.Sprint("client-", i)))
			bodies <- body
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for origin.requests.Load() < clients {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d requests reached the origin: the others wait", origin.requests.Load(), clients)
		}
		time.Sleep(time.Millisecond)
	}
	c := tr.coalescer
	c.mu.Lock()
	chained := 0
	for _, head := range c.flights {
		for f := head; f != nil; f = f.next {
			chained++
		}
	}
	c.mu.Unlock()
	if chained != maxFlightsPerKey {
		t.Errorf("%d flights under the key, want %d", chained, maxFlightsPerKey)
	}
	close(origin.release)
	wg.Wait()
	close(bodies)
	for body := range bodies {
		if body != "body of /hot" {
			t.Fatalf("a client got %q", body)
		}
	}
}

// Ended passes are swept, so that passCount falls back to zero and
// requests stop hashing their identity once no identity is passing.
// (Found by review: an ended pass stayed until its own identity came.)
func TestCoalescePassCountFallsWhenPassesEnd(t *testing.T) {
	clock := newTestClock()
	tr := New(WithClock(clock.Now))
	defer tr.Close()
	c := tr.coalescer
	c.mu.Lock()
	c.passFor(c.identityHash(tr.coalesceExchange(mustRequest(t, "http://api.example/set-cookie"))))
	c.mu.Unlock()
	if !tr.coalescePassing(mustRequest(t, "http://api.example/set-cookie")) || c.passCount.Load() != 1 {
		t.Fatalf("the pass is not on: passCount = %d", c.passCount.Load())
	}
	clock.Advance(coalescePass + time.Second)
	if tr.coalescePassing(mustRequest(t, "http://api.example/other")) {
		t.Fatal("another identity is passing")
	}
	if n := c.passCount.Load(); n != 0 {
		t.Fatalf("after the only pass ended, passCount = %d", n)
	}
}

// TestFlightFitsItsSizeClass guards what a request alone at the origin
// allocates for coalescing: its flight, which holds a copy of its exchange,
// must stay within the size class of 512 bytes (the next is 576, and a
// pointerful object above 512 bytes also carries an allocation header).
// The fields only joined callers need are in joinedFlight; one added to
// exchange or flight that crosses the line costs every miss.
func TestFlightFitsItsSizeClass(t *testing.T) {
	if size := unsafe.Sizeof(flight{}); size > 512 {
		t.Fatalf("a flight is %d bytes, over 512 (its exchange: %d)", size, unsafe.Sizeof(exchange{}))
	}
}
