package httpcache

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestStaleWhileRevalidate(t *testing.T) {
	var version atomic.Int64
	version.Store(1)
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=60")
		w.Header().Set("ETag", fmt.Sprintf(`"v%d"`, version.Load()))
		if r.Header.Get("If-None-Match") == fmt.Sprintf(`"v%d"`, version.Load()) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprintf(w, "v%d", version.Load())
	})
	h.get("/a")
	version.Store(2)
	h.clock.Advance(30 * time.Second)

	stale := h.get("/a")
	// RFC 9211 §2.1, §2.3: a hit is not forwarded; a stale one has a
	// negative ttl.
	if stale.body != "v1" || !stale.cache.Hit || stale.cache.Forward != "" || stale.cache.TTL != -20*time.Second {
		t.Fatalf("RFC 5861 §3: want the stale v1 served at once as a hit with ttl=-20; got %q %+v", stale.body, stale.cache)
	}
	h.transport.waitForBackground()
	h.wantOriginRequests(2)

	fresh := h.get("/a")
	if fresh.body != "v2" || !fresh.cache.Hit || fresh.cache.Forward != "" {
		t.Fatalf("after the background revalidation: want a fresh hit on v2, got %q %+v", fresh.body, fresh.cache)
	}

	// Past the window the caller waits for the revalidation (a 304 now).
	h.clock.Advance(80 * time.Second)
	late := h.get("/a")
	if late.body != "v2" || late.cache.Hit || late.cache.ForwardStatus != http.StatusNotModified {
		t.Fatalf("past the window: want a foreground 304 revalidation, got %q %+v", late.body, late.cache)
	}
	h.wantOriginRequests(3)
}

// TestBackgroundRevalidationIsDeduplicated sends 100 concurrent stale hits
// while the origin holds the revalidation: one revalidation reaches it.
func TestBackgroundRevalidationIsDeduplicated(t *testing.T) {
	release := make(chan struct{})
	var revalidations atomic.Int64
	h := newHarness(t, heldRevalidations("max-age=10, stale-while-revalidate=600", &revalidations, release))
	h.get("/a")
	h.clock.Advance(20 * time.Second)

	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := h.client.Get(h.origin.URL + "/a")
			if err != nil {
				errs <- err.Error()
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if st, _ := StatusOf(resp); string(body) != "a" || !st.Hit || st.Forward != "" || st.TTL >= 0 {
				errs <- fmt.Sprintf("%q %+v", body, st)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error("stale hit:", e)
	}
	close(release)
	h.transport.waitForBackground()
	if got := revalidations.Load(); got != 1 {
		t.Fatalf("origin saw %d revalidations for 100 stale hits, want 1", got)
	}
}

func TestBackgroundLimit(t *testing.T) {
	release := make(chan struct{})
	var revalidations atomic.Int64
	h := newHarness(t, heldRevalidations("max-age=10, stale-while-revalidate=600", &revalidations, release), WithBackgroundLimit(1))
	h.get("/a")
	h.get("/b")
	h.clock.Advance(20 * time.Second)
	if r := h.get("/a"); !r.cache.Hit {
		t.Fatalf("/a: %+v", r.cache)
	}
	// /a's revalidation holds the only slot: /b is served stale, and no
	// second revalidation starts.
	if r := h.get("/b"); !r.cache.Hit || r.cache.Forward != "" || r.cache.TTL >= 0 {
		t.Fatalf("/b: %+v", r.cache)
	}
	close(release)
	h.transport.waitForBackground()
	h.wantOriginRequests(3)
}

func TestBackgroundFailureKeepsStaleEntry(t *testing.T) {
	var failing atomic.Bool
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=600")
		fmt.Fprint(w, "good")
	})
	h.get("/a")
	failing.Store(true)
	h.clock.Advance(20 * time.Second)
	for i := range 3 {
		r := h.get("/a")
		h.transport.waitForBackground()
		if r.body != "good" || !r.cache.Hit {
			t.Fatalf("stale hit %d after a failed background revalidation: %q %+v", i, r.body, r.cache)
		}
	}
	h.wantOriginRequests(4)
}

// TestCloseWaitsForBackgroundWork closes the Transport while a background
// revalidation waits on the origin: Close cancels it and returns once it has
// ended, and later stale requests are revalidated in the foreground.
func TestCloseWaitsForBackgroundWork(t *testing.T) {
	started := make(chan struct{})
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=600")
		if r.Header.Get("If-None-Match") == "" && r.Header.Get("X-Hang") == "" {
			fmt.Fprint(w, "a")
			return
		}
		close(started)
		<-r.Context().Done() // the origin hangs until the cache gives up
	})
	h.get("/a")
	h.clock.Advance(20 * time.Second)
	if r := h.get("/a", "X-Hang", "1"); !r.cache.Hit {
		t.Fatalf("stale hit: %+v", r.cache)
	}
	<-started
	done := make(chan struct{})
	go func() {
		h.transport.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return: it did not cancel the background revalidation")
	}
	if running := h.transport.backgroundRunning(); running != 0 {
		t.Fatalf("%d revalidations still registered after Close", running)
	}
	r := h.get("/a")
	if r.cache.Hit || r.cache.Forward != ForwardStale || r.cache.ForwardStatus != 200 {
		t.Fatalf("after Close a stale entry is revalidated in the foreground: %+v", r.cache)
	}
}

// faultyOrigin serves one good response, then fails in the way fault says.
type faultyOrigin struct {
	calls atomic.Int64
	fault func(req *http.Request) (*http.Response, error)
}

func (o *faultyOrigin) RoundTrip(req *http.Request) (*http.Response, error) {
	if o.calls.Add(1) == 1 {
		return &http.Response{StatusCode: 200, Header: http.Header{
			"Cache-Control": {"max-age=10, stale-if-error=60"},
			"Date":          {httpDate(epoch)},
			"Etag":          {`"a"`},
		}, Body: io.NopCloser(strings.NewReader("good")), ContentLength: 4, Request: req}, nil
	}
	return o.fault(req)
}

func statusResponse(code int) func(*http.Request) (*http.Response, error) {
	return func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: code, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("error page")), Request: req}, nil
	}
}

// realFault returns a fault that sends the request to a real failing
// endpoint through a real http.Transport.
func realFault(t *testing.T, rawURL string, transport *http.Transport) func(*http.Request) (*http.Response, error) {
	t.Cleanup(transport.CloseIdleConnections)
	return func(req *http.Request) (*http.Response, error) {
		out, err := http.NewRequestWithContext(req.Context(), req.Method, rawURL, nil)
		if err != nil {
			return nil, err
		}
		return transport.RoundTrip(out)
	}
}

func TestStaleIfError(t *testing.T) {
	// A port nothing listens on: connection refused.
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedURL := "http://" + refused.Addr().String() + "/"
	refused.Close()

	// A server that resets every connection.
	resetting, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var resetWG sync.WaitGroup
	resetWG.Add(1)
	go func() {
		defer resetWG.Done()
		for {
			conn, err := resetting.Accept()
			if err != nil {
				return
			}
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}
	}()
	t.Cleanup(func() { resetting.Close(); resetWG.Wait() })

	// A server that never answers: a timeout of the upstream transport.
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(hanging.Close)

	// A TLS server whose certificate the client does not trust.
	untrusted := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0)
	t.Cleanup(untrusted.Close)

	tests := []struct {
		name       string
		fault      func(*http.Request) (*http.Response, error)
		wantStatus int // the origin's, in fwd-status; 0 for a network error
	}{
		{"connection refused", realFault(t, refusedURL, &http.Transport{}), 0},
		{"connection reset", realFault(t, "http://"+resetting.Addr().String()+"/", &http.Transport{}), 0},
		{"timeout", realFault(t, hanging.URL, &http.Transport{ResponseHeaderTimeout: 50 * time.Millisecond}), 0},
		{"TLS failure", realFault(t, untrusted.URL, &http.Transport{TLSClientConfig: &tls.Config{}}), 0},
		{"500", statusResponse(500), 500},
		{"502", statusResponse(502), 502},
		{"503", statusResponse(503), 503},
		{"504", statusResponse(504), 504},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			origin := &faultyOrigin{fault: tt.fault}
			tr := New(WithTransport(origin), WithClock(clock.Now))
			defer tr.Close()
			client := &http.Client{Transport: tr}
			get(t, client, "http://api.example/a")
			clock.Advance(30 * time.Second)
			resp, body := get(t, client, "http://api.example/a")
			st, _ := StatusOf(resp)
			if resp.StatusCode != 200 || body != "good" || st.Detail != detailStaleIfError || st.ForwardStatus != tt.wantStatus ||
				st.Forward != ForwardStale || st.TTL != -20*time.Second {
				t.Fatalf("RFC 5861 §4: want the stale response; got %d %q, Cache-Status %q", resp.StatusCode, body, resp.Header.Get("Cache-Status"))
			}
			if origin.calls.Load() != 2 {
				t.Fatalf("origin calls = %d, want 2", origin.calls.Load())
			}
			// Past the window, the failure reaches the caller.
			clock.Advance(time.Minute)
			resp, err := client.Get("http://api.example/a")
			if tt.wantStatus == 0 {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("past the window: want the network error, got %d", resp.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("past the window: want the origin's %d, got %d", tt.wantStatus, resp.StatusCode)
			}
		})
	}
}

func TestStaleIfErrorNeverAnswersTheCallersCancellation(t *testing.T) {
	clock := newTestClock()
	ctx, cancel := context.WithCancel(context.Background())
	origin := &faultyOrigin{fault: func(req *http.Request) (*http.Response, error) {
		cancel() // the caller gives up while the origin is working
		<-req.Context().Done()
		return nil, req.Context().Err()
	}}
	tr := New(WithTransport(origin), WithClock(clock.Now))
	defer tr.Close()
	client := &http.Client{Transport: tr}
	get(t, client, "http://api.example/a")
	clock.Advance(30 * time.Second)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.example/a", nil)
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a cancelled request was answered: %d %q", resp.StatusCode, resp.Header.Get("Cache-Status"))
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}

func TestStaleIfErrorFromRule(t *testing.T) {
	clock := newTestClock()
	calls := 0
	origin := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		calls++
		if calls > 1 {
			return nil, errors.New("dial tcp: connection refused")
		}
		return &http.Response{StatusCode: 200, Header: http.Header{"Date": {httpDate(clock.Now())}},
			Body: io.NopCloser(strings.NewReader("data")), ContentLength: 4, Request: req}, nil
	})
	tr := New(WithTransport(origin), WithClock(clock.Now),
		WithRules(Rule{Pattern: "api.example/*", TTL: 10 * time.Second, StaleIfError: time.Hour}))
	defer tr.Close()
	client := &http.Client{Transport: tr}
	get(t, client, "http://api.example/a")
	clock.Advance(30 * time.Minute)
	resp, body := get(t, client, "http://api.example/a")
	if st, _ := StatusOf(resp); body != "data" || st.Detail != detailStaleIfError {
		t.Fatalf("want the stale response within the rule's window: %q %q", body, resp.Header.Get("Cache-Status"))
	}
}

// TestForwardReasonOfARequestedValidation: a request whose directives ask
// for validation (RFC 9111 §5.2.1) goes forward as fwd=request only when
// the stored response was fresh; a stale one is fwd=stale (RFC 9211 §2.2).
// Either way the client asked for the origin's answer, so a failure is not
// hidden behind the stored response's stale-if-error.
func TestForwardReasonOfARequestedValidation(t *testing.T) {
	tests := []struct {
		name    string
		age     time.Duration
		header  []string
		wantFwd string
	}{
		{"no-cache, fresh", 5 * time.Second, []string{"Cache-Control", "no-cache"}, ForwardRequest},
		{"no-cache, stale", 30 * time.Second, []string{"Cache-Control", "no-cache"}, ForwardStale},
		{"Pragma, fresh", 5 * time.Second, []string{"Pragma", "no-cache"}, ForwardRequest},
		{"Pragma, stale", 30 * time.Second, []string{"Pragma", "no-cache"}, ForwardStale},
		{"max-age=0, fresh", 5 * time.Second, []string{"Cache-Control", "max-age=0"}, ForwardRequest},
		{"max-age=0, stale", 30 * time.Second, []string{"Cache-Control", "max-age=0"}, ForwardStale},
		{"min-fresh, fresh", 5 * time.Second, []string{"Cache-Control", "min-fresh=60"}, ForwardRequest},
		{"min-fresh, stale", 30 * time.Second, []string{"Cache-Control", "min-fresh=60"}, ForwardStale},
		{"nothing asked, stale", 30 * time.Second, nil, ForwardStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			origin := &faultyOrigin{fault: statusResponse(503)}
			tr := New(WithTransport(origin), WithClock(clock.Now))
			defer tr.Close()
			client := &http.Client{Transport: tr}
			get(t, client, "http://api.example/a")
			clock.Advance(tt.age)
			req, err := http.NewRequest(http.MethodGet, "http://api.example/a", nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i+1 < len(tt.header); i += 2 {
				req.Header.Set(tt.header[i], tt.header[i+1])
			}
			resp, err := client.Do(req)
			resp, body := readWhole(t, resp, err)
			st, _ := StatusOf(resp)
			if st.Forward != tt.wantFwd || st.Hit {
				t.Fatalf("Cache-Status %q, want fwd=%s", resp.Header.Get("Cache-Status"), tt.wantFwd)
			}
			asked := tt.header != nil
			if asked && (resp.StatusCode != 503 || body != "error page") {
				t.Fatalf("the client asked for validation: want the origin's 503, got %d %q (%q)", resp.StatusCode, body, resp.Header.Get("Cache-Status"))
			}
			if !asked && (resp.StatusCode != 200 || st.Detail != detailStaleIfError) {
				t.Fatalf("stale-if-error: want the stored response, got %d %q (%q)", resp.StatusCode, body, resp.Header.Get("Cache-Status"))
			}
		})
	}
}

// hangingBody blocks every Read until it is closed.
type hangingBody struct {
	once   sync.Once
	closed chan struct{}
}

func (b *hangingBody) Read([]byte) (int, error) { <-b.closed; return 0, io.ErrUnexpectedEOF }
func (b *hangingBody) Close() error             { b.once.Do(func() { close(b.closed) }); return nil }

// TestStaleIfErrorDoesNotWaitForTheFailedBody: the stale answer does not
// wait for the failed response's body, which may never end (it waited for
// it to the end before).
func TestStaleIfErrorDoesNotWaitForTheFailedBody(t *testing.T) {
	clock := newTestClock()
	body := &hangingBody{closed: make(chan struct{})}
	origin := &faultyOrigin{fault: func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 503, Header: http.Header{}, Body: body, Request: req}, nil
	}}
	tr := New(WithTransport(origin), WithClock(clock.Now))
	defer tr.Close()
	client := &http.Client{Transport: tr}
	get(t, client, "http://api.example/a")
	clock.Advance(30 * time.Second)
	done := make(chan string, 1)
	go func() {
		resp, text := get(t, client, "http://api.example/a")
		st, _ := StatusOf(resp)
		done <- text + " " + st.Detail
	}()
	select {
	case got := <-done:
		if got != "good "+detailStaleIfError {
			t.Fatalf("got %q", got)
		}
	case <-time.After(10 * time.Second):
		body.Close()
		t.Fatal("the stale answer waited for the failed response's body")
	}
	select {
	case <-body.closed:
	default:
		t.Error("the failed response's body was not closed")
	}
}
