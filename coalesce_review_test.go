package httpcache

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// blockingBody signals on its first Read, then blocks until ctx ends.
type blockingBody struct {
	ctx     context.Context
	reading chan struct{}
	once    sync.Once
}

func (b *blockingBody) Read(p []byte) (int, error) {
	b.once.Do(func() { close(b.reading) })
	<-b.ctx.Done()
	return 0, b.ctx.Err()
}

func (b *blockingBody) Close() error { return nil }

// The leader cancels while its shared body is being read (waiters have
// joined). CoalesceOptions.Timeout and README: "the others do not fail:
// they send their request anew, one of them first" / "one of the waiting
// callers takes the flight over with a request of its own, which the rest
// share". share() sets f.own instead, so every waiter goes to the origin.
func TestCoalesceReviewLeaderCancelledDuringBodyReadHandsOver(t *testing.T) {
	release := make(chan struct{})
	reading := make(chan struct{})
	var requests atomic.Int64
	origin := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		h := http.Header{"Cache-Control": {"max-age=0"}}
		if requests.Add(1) == 1 {
			<-release
			return &http.Response{StatusCode: 200, Header: h, ContentLength: -1,
				Body: &blockingBody{ctx: req.Context(), reading: reading}, Request: req}, nil
		}
		return &http.Response{StatusCode: 200, Header: h, ContentLength: 6,
			Body: io.NopCloser(strings.NewReader("answer")), Request: req}, nil
	})
	tr := New(WithTransport(origin))
	defer tr.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	leader := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.example/a", nil)
		resp, err := tr.RoundTrip(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		leader <- err
	}()
	waitForWaiters(t, tr, 1)
	const n = 8
	var wg sync.WaitGroup
	bodies := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, "http://api.example/a", nil)
			resp, err := tr.RoundTrip(req)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				bodies[i] = string(b)
			}
			errs[i] = err
		}()
	}
	waitForWaiters(t, tr, n+1)
	close(release)
	<-reading // the leader reads the shared body
	cancel()
	if err := <-leader; !errors.Is(err, context.Canceled) {
		t.Fatalf("leader: %v, want context.Canceled", err)
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || bodies[i] != "answer" {
			t.Fatalf("waiter %d: %q, %v", i, bodies[i], errs[i])
		}
	}
	if got := requests.Load(); got != 2 {
		t.Fatalf("origin requests = %d, want 2 (the leader's, then one taking over, shared by the rest)", got)
	}
}

// The flight's one timer is armed by the first caller to join and is not
// disarmed when that caller leaves. A caller joining later, after it has
// fired, waits not at all: it sends its own request at once, although
// "Timeout bounds how long a caller waits ...; past it, it sends its own".
// With a slow origin, coalescing is off for the rest of the flight.
func TestCoalesceReviewLateJoinerWaitsDespiteAnEarlierJoinersTimer(t *testing.T) {
	release := make(chan struct{})
	var requests atomic.Int64
	origin := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		body := "own"
		if requests.Add(1) == 1 {
			select {
			case <-release:
			case <-req.Context().Done():
				return nil, req.Context().Err()
			}
			body = "shared"
		}
		return &http.Response{StatusCode: 200, Header: http.Header{"Cache-Control": {"max-age=0"}},
			ContentLength: int64(len(body)), Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
	})
	tr := New(WithTransport(origin), WithCoalescing(CoalesceOptions{Timeout: 300 * time.Millisecond}))
	defer tr.Close()
	get := func(ctx context.Context) (string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.example/slow", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	defer cancelLeader()
	leader := make(chan string, 1)
	go func() { b, _ := get(leaderCtx); leader <- b }()
	waitForWaiters(t, tr, 1)

	// B joins, arming the flight's timer, and leaves.
	ctxB, cancelB := context.WithCancel(context.Background())
	b := make(chan error, 1)
	go func() { _, err := get(ctxB); b <- err }()
	waitForWaiters(t, tr, 2)
	c := tr.coalescer
	c.mu.Lock()
	var expired chan struct{}
	for _, f := range c.flights {
		expired = f.joined.expired
	}
	c.mu.Unlock()
	cancelB()
	<-b
	<-expired // B's timer fires; the leader is still at the origin

	// C joins now: it has not waited at all.
	type result struct {
		body string
		err  error
	}
	cDone := make(chan result, 1)
	go func() { body, err := get(context.Background()); cDone <- result{body, err} }()
	for {
		select {
		case r := <-cDone:
			close(release)
			<-leader
			t.Fatalf("C, joining after an earlier joiner's timer fired, sent its own request at once: %q, %v (origin requests %d)",
				r.body, r.err, requests.Load())
		default:
		}
		if tr.coalescedWaiters() >= 2 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	if r := <-cDone; r.err != nil || r.body != "shared" {
		t.Fatalf("C: %q, %v", r.body, r.err)
	}
	<-leader
}
