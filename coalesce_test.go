package httpcache

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitForWaiters waits until n callers wait on flights of tr.
func waitForWaiters(t *testing.T, tr *Transport, n int) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("%d callers waiting", n), func() bool { return tr.coalescedWaiters() >= n })
}

// gatedOrigin answers once release is closed; its answers are not stored
// (max-age=0 without validators), so only coalescing can spare the origin
// a request.
type gatedOrigin struct {
	release  chan struct{}
	requests atomic.Int64
	header   http.Header
}

func newGatedOrigin(pairs ...string) *gatedOrigin {
	h := header(pairs...)
	if h.Get("Cache-Control") == "" {
		// Not stored (stale at once, without validators), yet shareable:
		// the coalescer never shares a no-store response.
		h.Set("Cache-Control", "max-age=0")
	}
	return &gatedOrigin{release: make(chan struct{}), header: h}
}

func (o *gatedOrigin) RoundTrip(req *http.Request) (*http.Response, error) {
	o.requests.Add(1)
	select {
	case <-o.release:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	body := "body of " + req.URL.Path
	return &http.Response{StatusCode: 200, Header: o.header.Clone(), ContentLength: int64(len(body)),
		Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
}

type outcome struct {
	resp *http.Response
	body string
	err  error
}

// concurrentGets sends n GETs for each URL at once and returns their
// outcomes once release has let the origin answer.
func concurrentGets(t *testing.T, tr *Transport, origin *gatedOrigin, n int, urls ...string) []outcome {
	t.Helper()
	outcomes := make([]outcome, n*len(urls))
	var wg sync.WaitGroup
	for i := range outcomes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, urls[i%len(urls)], nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				outcomes[i].err = err
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			outcomes[i] = outcome{resp: resp, body: string(body), err: err}
		}()
	}
	waitForWaiters(t, tr, len(outcomes))
	close(origin.release)
	wg.Wait()
	return outcomes
}

func TestCoalesceThousandCallers(t *testing.T) {
	origin := newGatedOrigin("Content-Type", "text/plain")
	tr := New(WithTransport(origin))
	defer tr.Close()
	outcomes := concurrentGets(t, tr, origin, 1000, "http://api.example/a")
	if n := origin.requests.Load(); n != 1 {
		t.Fatalf("1000 identical callers made %d origin requests, want 1", n)
	}
	collapsed := 0
	headers := map[uintptr]bool{}
	for _, o := range outcomes {
		if o.err != nil || o.body != "body of /a" {
			t.Fatalf("caller got %q, %v", o.body, o.err)
		}
		if st, _ := StatusOf(o.resp); st.Collapsed {
			collapsed++
		}
		headers[reflect.ValueOf(o.resp.Header).Pointer()] = true
	}
	if collapsed != 999 {
		t.Fatalf("%d responses say collapsed, want 999 (all but the first caller's)", collapsed)
	}
	if got := tr.Stats().Collapsed; got != 999 {
		t.Fatalf("Stats().Collapsed = %d, want 999", got)
	}
	if len(headers) != 1000 {
		t.Fatalf("1000 responses share %d header maps, want 1000 of their own", len(headers))
	}
	outcomes[0].resp.Header.Set("Content-Type", "changed")
	outcomes[0].resp.Header["Cache-Status"][0] = "changed"
	for _, o := range outcomes[1:] {
		if o.resp.Header.Get("Content-Type") != "text/plain" || strings.HasPrefix(o.resp.Header.Get("Cache-Status"), "changed") {
			t.Fatal("changing one caller's header changed another's")
		}
	}
}

func TestCoalescePerURL(t *testing.T) {
	origin := newGatedOrigin()
	tr := New(WithTransport(origin))
	defer tr.Close()
	var urls []string
	for i := range 10 {
		urls = append(urls, fmt.Sprintf("http://api.example/%d", i))
	}
	outcomes := concurrentGets(t, tr, origin, 100, urls...)
	if n := origin.requests.Load(); n != 10 {
		t.Fatalf("callers on 10 URLs made %d origin requests, want 10", n)
	}
	for i, o := range outcomes {
		if want := "body of /" + fmt.Sprint(i%10); o.err != nil || o.body != want {
			t.Fatalf("caller of %s got %q, %v", urls[i%10], o.body, o.err)
		}
	}
}

func TestCoalesceFirstCallerCancels(t *testing.T) {
	origin := newGatedOrigin()
	tr := New(WithTransport(origin))
	defer tr.Close()
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.example/a", nil)
		_, err := tr.RoundTrip(req)
		first <- err
	}()
	waitForWaiters(t, tr, 1)
	var wg sync.WaitGroup
	results := make([]outcome, 20)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, "http://api.example/a", nil)
			resp, err := tr.RoundTrip(req)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				results[i].body = string(b)
			}
			results[i].err = err
		}()
	}
	waitForWaiters(t, tr, 21)
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled caller got %v, want context.Canceled at once", err)
	}
	close(origin.release)
	wg.Wait()
	for _, r := range results {
		if r.err != nil || r.body != "body of /a" {
			t.Fatalf("another caller got %q, %v", r.body, r.err)
		}
	}
	// The first caller's request ended with its cancellation; one of the
	// others took the flight over, and the rest shared its request.
	if n := origin.requests.Load(); n != 2 {
		t.Fatalf("origin requests = %d, want 2", n)
	}
}

func TestCoalesceAllCallersCancel(t *testing.T) {
	cancelled := make(chan struct{})
	origin := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		<-req.Context().Done()
		close(cancelled)
		return nil, req.Context().Err()
	})
	tr := New(WithTransport(origin))
	defer tr.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.example/a", nil)
			if _, err := tr.RoundTrip(req); !errors.Is(err, context.Canceled) {
				t.Errorf("error = %v, want context.Canceled", err)
			}
		}()
	}
	waitForWaiters(t, tr, 5)
	cancel()
	wg.Wait()
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the origin request was not cancelled when every caller had gone")
	}
}

func TestCoalescePanicBecomesAnError(t *testing.T) {
	release := make(chan struct{})
	origin := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		<-release
		panic("upstream bug")
	})
	tr := New(WithTransport(origin))
	defer tr.Close()
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, "http://api.example/a", nil)
			_, err := tr.RoundTrip(req)
			if err == nil || !strings.Contains(err.Error(), "panicked: upstream bug") {
				t.Errorf("error = %v, want the panic as an error", err)
			}
		}()
	}
	waitForWaiters(t, tr, 10)
	close(release)
	wg.Wait()
}

func TestCoalesceSharedModeRules(t *testing.T) {
	tests := []struct {
		name       string
		opts       CoalesceOptions
		header     []string
		wantShared bool
	}{
		{name: "stored response is shared", opts: CoalesceOptions{}, header: []string{"Cache-Control", "max-age=60"}, wantShared: true},
		{name: "private response is not shared", opts: CoalesceOptions{}, header: []string{"Cache-Control", "private, max-age=60"}, wantShared: false},
		{name: "Set-Cookie response is not shared", opts: CoalesceOptions{}, header: []string{"Cache-Control", "max-age=60", "Set-Cookie", "s=1"}, wantShared: false},
		{name: "no-store response is not shared", opts: CoalesceOptions{}, header: []string{"Cache-Control", "no-store"}, wantShared: false},
		{name: "All shares a private response", opts: CoalesceOptions{All: true}, header: []string{"Cache-Control", "private"}, wantShared: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			origin := newGatedOrigin(tt.header...)
			clock := newTestClock()
			tr := New(WithTransport(origin), WithShared(true), WithCoalescing(tt.opts), WithClock(clock.Now))
			defer tr.Close()
			outcomes := concurrentGets(t, tr, origin, 5, "http://api.example/a")
			for _, o := range outcomes {
				if o.err != nil || o.body != "body of /a" {
					t.Fatalf("caller got %q, %v", o.body, o.err)
				}
			}
			if tt.wantShared {
				if n := origin.requests.Load(); n != 1 {
					t.Fatalf("origin requests = %d, want 1", n)
				}
				return
			}
			if n := origin.requests.Load(); n != 5 {
				t.Fatalf("origin requests = %d, want 5: one shared, and one each for the 4 others", n)
			}
			// Hit-for-pass: for a while, identical requests go on their own.
			if !tr.coalescePassing(mustRequest(t, "http://api.example/a")) {
				t.Fatal("the URL is not remembered as not worth coalescing")
			}
			clock.Advance(coalescePass)
			if tr.coalescePassing(mustRequest(t, "http://api.example/a")) {
				t.Fatal("the hit-for-pass mark did not expire")
			}
		})
	}
}

func mustRequest(t *testing.T, rawURL string, headerPairs ...string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headerPairs); i += 2 {
		req.Header.Add(headerPairs[i], headerPairs[i+1])
	}
	return req
}

func withMethod(req *http.Request, method string) *http.Request { req.Method = method; return req }
func withHost(req *http.Request, host string) *http.Request     { req.Host = host; return req }

// withField gives req a header key with no value, which net/http does not send.
func withField(req *http.Request, name string) *http.Request { req.Header[name] = nil; return req }

func TestCoalesceIdentity(t *testing.T) {
	c := New()
	base := mustRequest(t, "http://api.example/a", "Accept", "json", "Traceparent", "00-1")
	tests := []struct {
		name string
		req  *http.Request
		same bool
	}{
		{"other trace header", mustRequest(t, "http://api.example/a", "Accept", "json", "Traceparent", "00-2", "X-Request-Id", "9"), true},
		{"other Accept", mustRequest(t, "http://api.example/a", "Accept", "xml"), false},
		{"credentials", mustRequest(t, "http://api.example/a", "Accept", "json", "Authorization", "Bearer x"), false},
		{"cookie", mustRequest(t, "http://api.example/a", "Accept", "json", "Cookie", "a=b"), false},
		{"other URL", mustRequest(t, "http://api.example/b", "Accept", "json"), false},
		{"other options", mustRequest(t, "http://api.example/a", "Accept", "json").WithContext(
			RequestContext(context.Background(), RequestOptions{Refresh: true})), false},
		{"other method", withMethod(mustRequest(t, "http://api.example/a", "Accept", "json"), http.MethodHead), false},
		{"other Host", withHost(mustRequest(t, "http://api.example/a", "Accept", "json"), "other.example"), false},
		{"a field more", mustRequest(t, "http://api.example/a", "Accept", "json", "X-Debug", "1"), false},
		{"a value more", mustRequest(t, "http://api.example/a", "Accept", "json", "Accept", "xml"), false},
		{"a field with no value", withField(mustRequest(t, "http://api.example/a", "Accept", "json"), "X-Empty"), true},
	}
	for _, tt := range tests {
		if got := c.coalesceIdentical(t, tt.req, base); got != tt.same {
			t.Errorf("%s: same identity = %v, want %v", tt.name, got, tt.same)
		}
	}
}

// TestCoalesceIdentityReadsFieldsNotLines: a value holding a line feed and
// what reads as another field (which a custom upstream transport may not
// refuse) is not that other field.
func TestCoalesceIdentityReadsFieldsNotLines(t *testing.T) {
	c := New()
	two := mustRequest(t, "http://api.example/a", "Accept", "json", "X-Tenant", "1")
	one := mustRequest(t, "http://api.example/a")
	one.Header["Accept"] = []string{"json\nX-Tenant: 1"}
	if c.coalesceIdentical(t, one, two) {
		t.Fatal("a value that spells a second field is identical to that field")
	}
}

// TestCoalesceIdentityIgnoresFieldOrder: requests whose fields are the
// same share a flight, whatever the order the maps give them in.
func TestCoalesceIdentityIgnoresFieldOrder(t *testing.T) {
	c := New()
	a := mustRequest(t, "http://api.example/a", "Accept", "json", "X-One", "1", "X-Two", "2", "X-Three", "3")
	b := mustRequest(t, "http://api.example/a", "X-Three", "3", "X-Two", "2", "X-One", "1", "Accept", "json")
	for range 20 {
		if !c.coalesceIdentical(t, a, b) {
			t.Fatal("requests with the same fields are not identical")
		}
	}
	swapped := mustRequest(t, "http://api.example/a", "Accept", "json", "X-One", "2", "X-Two", "1", "X-Three", "3")
	if c.coalesceIdentical(t, a, swapped) {
		t.Fatal("requests whose fields' values are swapped are identical")
	}
}

// TestCoalesceIgnoresIgnoredFieldsInAnyCase: an ignored field under a map
// key that is not canonical (req.Header["x-request-id"], which net/http
// sends as it is) is ignored as under its canonical key; a field that is
// not ignored still tells requests apart in any case.
func TestCoalesceIgnoresIgnoredFieldsInAnyCase(t *testing.T) {
	c := New()
	a := mustRequest(t, "http://api.example/a", "Accept", "json")
	a.Header["X-Request-Id"] = []string{"one"}
	b := mustRequest(t, "http://api.example/a", "Accept", "json")
	b.Header["x-request-id"] = []string{"two"}
	if !c.coalesceIdentical(t, a, b) {
		t.Fatal("requests that differ only in an ignored field, under a lower-case key, are not identical")
	}
	b.Header["x-other"] = []string{"two"}
	if c.coalesceIdentical(t, a, b) {
		t.Fatal("a field that is not ignored, under a lower-case key, does not tell requests apart")
	}
	delete(b.Header, "x-other")
	// Field names fold in ASCII only (RFC 9110 §5.1): "x-requeſt-id" (a
	// long s) is another field, one that Unicode folding would make the
	// ignored X-Request-Id, and two values of it are two requests.
	a.Header["x-reque\u017ft-id"] = []string{"one"}
	b.Header["x-reque\u017ft-id"] = []string{"two"}
	if c.coalesceIdentical(t, a, b) {
		t.Fatal("a field whose name folds onto an ignored one only in Unicode does not tell requests apart")
	}
}

// TestCoalesceOtherIdentityUnderOneKeyIsNotJoined: a request that finds,
// under its storage key, a flight of another identity (other header
// fields) never waits for it, nor gets its response: it leads a flight of
// its own beside it, and takes only its own out of the flights.
func TestCoalesceOtherIdentityUnderOneKeyIsNotJoined(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept")
		io.WriteString(w, "body for "+r.Header.Get("Accept"))
	}))
	defer upstream.Close()
	tr := New()
	defer tr.Close()
	a, b := mustRequest(t, upstream.URL+"/a"), mustRequest(t, upstream.URL+"/a")
	a.Header.Set("Accept", "text/plain")
	b.Header.Set("Accept", "application/json")
	c := tr.coalescer
	other := &flight{waiters: 1, leader: *tr.coalesceExchange(a)}
	other.identity = &other.leader
	key := other.leader.key
	if bKey := tr.coalesceExchange(b).key; bKey != key {
		t.Fatalf("the requests have other keys, %q and %q", key, bKey)
	}
	c.mu.Lock()
	other.keyHash = c.keyHash(key)
	c.flights[other.keyHash] = other // text/plain's flight, in flight under /a's key
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := tr.RoundTrip(b.WithContext(ctx))
	if err != nil {
		t.Fatalf("the request failed (it waited for another identity's flight?): %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "body for application/json" {
		t.Fatalf("body = %q, want application/json's", body)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.flights[other.keyHash] != other || other.next != nil || other.waiters != 1 {
		t.Fatalf("the other identity's flight was joined, ended or left linked: waiters = %d, next = %p", other.waiters, other.next)
	}
}

// Flights of several identities under one key are taken out in any order,
// each leaving the others in place.
func TestCoalesceFlightsUnderOneKeyAreRemovedAlone(t *testing.T) {
	tr := New()
	defer tr.Close()
	c := tr.coalescer
	for _, order := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 0, 2}, {1, 2, 0}} {
		var flights [3]*flight
		c.mu.Lock()
		for i := range flights {
			f := &flight{keyHash: 1}
			f.next = c.flights[1]
			c.flights[1] = f
			flights[i] = f
		}
		for n, i := range order {
			c.removeLocked(flights[i])
			c.removeLocked(flights[i]) // again: nothing more
			var left []*flight
			for f := c.flights[1]; f != nil; f = f.next {
				left = append(left, f)
			}
			if want := 3 - n - 1; len(left) != want || slices.Contains(left, flights[i]) {
				t.Fatalf("order %v: after removing %d, %d flights are left (want %d), the removed one among them: %v", order, i, len(left), want, slices.Contains(left, flights[i]))
			}
		}
		if _, found := c.flights[1]; found {
			t.Fatalf("order %v: the key stays with no flight", order)
		}
		c.mu.Unlock()
	}
}

func TestCoalesceLargeBodiesAreNotShared(t *testing.T) {
	origin := newGatedOrigin()
	tr := New(WithTransport(origin), WithCoalescing(CoalesceOptions{MaxBodyBytes: 4}))
	defer tr.Close()
	outcomes := concurrentGets(t, tr, origin, 5, "http://api.example/large")
	for _, o := range outcomes {
		if o.err != nil || o.body != "body of /large" {
			t.Fatalf("caller got %q, %v", o.body, o.err)
		}
	}
	if n := origin.requests.Load(); n != 5 {
		t.Fatalf("origin requests = %d, want 5: the body is over the sharing limit", n)
	}
}

func TestCoalesceRevalidations(t *testing.T) {
	var conditional atomic.Int64
	release := make(chan struct{})
	h := newHarness(t, heldRevalidations("max-age=10", &conditional, release))
	h.get("/a")
	h.clock.Advance(20 * time.Second)
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := h.client.Get(h.origin.URL + "/a")
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if st, _ := StatusOf(resp); string(b) != "a" || st.ForwardStatus != http.StatusNotModified {
				t.Errorf("got %q, Cache-Status %q", b, resp.Header.Get("Cache-Status"))
			}
		}()
	}
	waitForWaiters(t, h.transport, 50)
	close(release)
	wg.Wait()
	if n := conditional.Load(); n != 1 {
		t.Fatalf("50 stale callers sent %d conditional requests, want 1", n)
	}
}

func TestCoalescingOff(t *testing.T) {
	origin := newGatedOrigin()
	tr := New(WithTransport(origin), WithCoalescing(CoalesceOptions{Disabled: true}))
	defer tr.Close()
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, "http://api.example/a", nil)
			if resp, err := tr.RoundTrip(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	// With coalescing on, the second and third would wait for the first
	// and the origin would see one request.
	deadline := time.Now().Add(10 * time.Second)
	for origin.requests.Load() < 3 {
		if time.Now().After(deadline) {
			close(origin.release)
			wg.Wait()
			t.Fatalf("origin saw %d requests from 3 callers with coalescing off", origin.requests.Load())
		}
		time.Sleep(time.Millisecond)
	}
	close(origin.release)
	wg.Wait()
}

func TestCoalesceBadOptions(t *testing.T) {
	tests := []struct {
		opts CoalesceOptions
		want string
	}{
		{CoalesceOptions{IgnoreHeaders: []string{"authorization"}}, "WithCoalescing: authorization cannot be ignored"},
		{CoalesceOptions{IgnoreHeaders: []string{"Cookie"}}, "WithCoalescing: Cookie cannot be ignored"},
		{CoalesceOptions{IgnoreHeaders: []string{"bad name"}}, `WithCoalescing: "bad name" is not a header field name`},
		// A request without them would share the answer to one with them:
		// a 304 it never asked for, a part, another coding.
		{CoalesceOptions{IgnoreHeaders: []string{"If-None-Match"}}, "WithCoalescing: If-None-Match cannot be ignored"},
		{CoalesceOptions{IgnoreHeaders: []string{"if-modified-since"}}, "WithCoalescing: if-modified-since cannot be ignored"},
		{CoalesceOptions{IgnoreHeaders: []string{"X-Request-Id", "Range"}}, "WithCoalescing: Range cannot be ignored"},
		{CoalesceOptions{IgnoreHeaders: []string{"If-Range"}}, "WithCoalescing: If-Range cannot be ignored"},
		{CoalesceOptions{IgnoreHeaders: []string{"ACCEPT-ENCODING"}}, "WithCoalescing: ACCEPT-ENCODING cannot be ignored"},
		{CoalesceOptions{MaxBodyBytes: -1}, "WithCoalescing: MaxBodyBytes -1 is negative"},
		{CoalesceOptions{Timeout: -time.Second}, "WithCoalescing: Timeout -1s is negative"},
	}
	for _, tt := range tests {
		if _, err := NewTransport(WithCoalescing(tt.opts)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error = %v, want %q", err, tt.want)
		}
	}
}

// TestCallerAloneKeepsItsContext: a caller alone is not bound by the shared
// request's timeout (a body slower than it arrives whole), and its own
// cancellation stops the body at once.
func TestCallerAloneKeepsItsContext(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for i := 0; i < 6; i++ {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			fmt.Fprint(w, "chunk.")
			w.(http.Flusher).Flush()
		}
	}))
	defer origin.Close()
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	tr := New(WithTransport(upstream), WithCoalescing(CoalesceOptions{Timeout: 60 * time.Millisecond}))
	defer tr.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, origin.URL+"/slow", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(body) != strings.Repeat("chunk.", 6) {
		t.Fatalf("a body slower than the shared timeout, for a caller alone: %q, %v", body, err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, origin.URL+"/slow2", nil)
	resp, err = tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 6)
	io.ReadFull(resp.Body, buf)
	cancel()
	start := time.Now()
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Fatal("reading went on to the end after the caller cancelled")
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("reading went on for %v after the caller cancelled", waited)
	}
}

// A caller that joins a shared request and leaves arms the shared timeout;
// the first caller, alone again, must keep its own context and not be cut
// off at a deadline it never set. (Found by review.)
func TestCoalesceTimeoutDisarmedWhenAloneAgain(t *testing.T) {
	release := make(chan struct{})
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "slow page")
	}))
	defer origin.Close()
	defer close(release)
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	const timeout = 50 * time.Millisecond
	tr := New(WithTransport(upstream), WithCoalescing(CoalesceOptions{Timeout: timeout}))
	defer tr.Close()
	client := &http.Client{Transport: tr}
	get := func(ctx context.Context) (string, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", origin.URL+"/p", nil)
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return string(body), err
	}
	ctxA, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	type result struct {
		body string
		err  error
	}
	a := make(chan result, 1)
	go func() { body, err := get(ctxA); a <- result{body, err} }()
	for tr.coalescedWaiters() < 1 {
		time.Sleep(time.Millisecond)
	}
	ctxB, cancelB := context.WithCancel(context.Background())
	b := make(chan error, 1)
	go func() { _, err := get(ctxB); b <- err }()
	for tr.coalescedWaiters() < 2 {
		time.Sleep(time.Millisecond)
	}
	cancelB()
	if err := <-b; err == nil {
		t.Fatal("B, cancelled, got no error")
	}
	time.Sleep(4 * timeout) // past the shared deadline B armed
	release <- struct{}{}
	if r := <-a; r.err != nil || r.body != "slow page" {
		t.Fatalf("A, alone again after B left: %q, %v", r.body, r.err)
	}
}

// A caller that joined waits for the leader's request at most the
// coalescer's timeout, then sends its own: a leader stuck at a slow origin
// does not hold up the others past it.
func TestCoalesceWaiterSendsItsOwnAfterTheTimeout(t *testing.T) {
	release := make(chan struct{})
	var requests atomic.Int64
	origin := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if requests.Add(1) == 1 {
			<-release // the leader's request hangs
		}
		return &http.Response{StatusCode: 200, Header: http.Header{"Cache-Control": {"max-age=0"}},
			Body: io.NopCloser(strings.NewReader("answer")), Request: req}, nil
	})
	tr := New(WithTransport(origin), WithCoalescing(CoalesceOptions{Timeout: 20 * time.Millisecond}))
	defer tr.Close()
	leader := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, "http://api.example/slow", nil)
		resp, err := tr.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		leader <- err
	}()
	waitForWaiters(t, tr, 1)
	req, _ := http.NewRequest(http.MethodGet, "http://api.example/slow", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "answer" || requests.Load() != 2 {
		t.Fatalf("the waiter got %q after %d origin requests", body, requests.Load())
	}
	select {
	case <-leader:
		t.Fatal("the leader was answered before its origin")
	default:
	}
	close(release)
	if err := <-leader; err != nil {
		t.Fatal(err)
	}
}

// TestCoalescedStreamReachesEveryCaller: two identical requests for an
// event stream, which never ends, both get their headers and first event
// at once. The leader's response streams to it; the waiter, once the
// leader has closed a body that never arrived whole, sends its own.
func TestCoalescedStreamReachesEveryCaller(t *testing.T) {
	stop := make(chan struct{})
	arrived := make(chan struct{})
	var requests atomic.Int64
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			<-arrived // both callers are in the flight
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		for i := 0; ; i++ {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-stop:
				return
			case <-r.Context().Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}))
	defer server.Close()
	defer close(stop)
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	tr := New(WithTransport(upstream))
	defer tr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// The first caller holds its stream open until the second has read
	// from its own: the second's headers never wait for the first's
	// stream to end (they waited for the coalescer's timeout before).
	secondRead := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, server.URL+"/events", nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Errorf("caller %d: %v", i, err)
				if i == 1 {
					close(secondRead)
				}
				return
			}
			defer resp.Body.Close()
			if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || line != "data: 0\n" {
				t.Errorf("caller %d: first line %q, %v", i, line, err)
			}
			if i == 1 {
				close(secondRead)
				return
			}
			select {
			case <-secondRead:
			case <-ctx.Done():
				t.Error("the second caller waited for the first caller's stream")
			}
		}()
		waitForWaiters(t, tr, i+1)
	}
	close(arrived)
	wg.Wait()
}

// TestCoalescedWaitersGetWhatStorageWouldServe: in a shared cache, a
// waiter is another user. It never gets a field a qualified no-cache keeps
// from other requests (RFC 9111 §5.2.2.4), which storage would not serve
// either, nor a response an unqualified no-cache says must be validated
// for each request: for that one, each waiter sends its own.
func TestCoalescedWaitersGetWhatStorageWouldServe(t *testing.T) {
	for _, tt := range []struct {
		cc       string
		requests int64
	}{
		{cc: `public, max-age=60, no-cache="X-Session"`, requests: 1},
		{cc: `max-age=60, no-cache`, requests: 5},
	} {
		t.Run(tt.cc, func(t *testing.T) {
			var sessions atomic.Int64
			release := make(chan struct{})
			origin := roundTripFunc(func(req *http.Request) (*http.Response, error) {
				<-release
				h := http.Header{"Cache-Control": {tt.cc}, "Etag": {`"v"`}, "X-Session": {fmt.Sprintf("session-%d", sessions.Add(1))}}
				return &http.Response{StatusCode: 200, Header: h, ContentLength: 4, Body: io.NopCloser(strings.NewReader("page")), Request: req}, nil
			})
			tr := New(WithTransport(origin), WithShared(true))
			defer tr.Close()
			var wg sync.WaitGroup
			var mu sync.Mutex
			seen := map[string]int{}
			for range 5 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := tr.RoundTrip(must(http.NewRequest(http.MethodGet, "http://api.example/page", nil)))
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					mu.Lock()
					seen[resp.Header.Get("X-Session")]++
					mu.Unlock()
				}()
			}
			waitForWaiters(t, tr, 5)
			close(release)
			wg.Wait()
			if n := sessions.Load(); n != tt.requests {
				t.Fatalf("origin requests = %d, want %d", n, tt.requests)
			}
			for session, n := range seen {
				if session != "" && n > 1 {
					t.Fatalf("%d callers got X-Session %s", n, session)
				}
			}
		})
	}
}

// TestCoalescedLeaderThatDecodesStillShares: a leader that reads a JSON
// value and closes the body before its end (json.Decoder) has the rest
// read for it, so the waiters share its response.
func TestCoalescedLeaderThatDecodesStillShares(t *testing.T) {
	origin := newGatedOrigin()
	origin.header.Set("Content-Type", "application/json")
	tr := New(WithTransport(roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := origin.RoundTrip(req)
		if err == nil {
			body := `{"path":"` + req.URL.Path + `"}` + "\n"
			resp.Body, resp.ContentLength = io.NopCloser(strings.NewReader(body)), int64(len(body))
		}
		return resp, err
	})))
	defer tr.Close()
	var wg sync.WaitGroup
	paths := make([]string, 6)
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := tr.RoundTrip(must(http.NewRequest(http.MethodGet, "http://api.example/v", nil)))
			if err != nil {
				t.Error(err)
				return
			}
			var v struct{ Path string }
			if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
				t.Error(err)
			}
			resp.Body.Close()
			paths[i] = v.Path
		}()
	}
	waitForWaiters(t, tr, len(paths))
	close(origin.release)
	wg.Wait()
	for i, p := range paths {
		if p != "/v" {
			t.Fatalf("caller %d decoded %q", i, p)
		}
	}
	if n := origin.requests.Load(); n != 1 {
		t.Fatalf("origin requests = %d, want 1", n)
	}
}

// TestFlightOutlastingTheTimeoutTakesNoOneElse: a first caller that never
// reads its body keeps those who joined at most the coalescer's timeout,
// and the flight then takes no one else (each later caller waited the
// timeout in turn before, and the flight stayed for good).
func TestFlightOutlastingTheTimeoutTakesNoOneElse(t *testing.T) {
	arrived := make(chan struct{})
	var requests atomic.Int64
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			<-arrived
		}
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, strings.Repeat("x", 100))
	}))
	defer server.Close()
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	tr := New(WithTransport(upstream), WithCoalescing(CoalesceOptions{Timeout: 50 * time.Millisecond}))
	defer tr.Close()
	firstResp := make(chan *http.Response, 1)
	go func() {
		resp, err := tr.RoundTrip(must(http.NewRequest(http.MethodGet, server.URL+"/a", nil)))
		if err != nil {
			t.Error(err)
		}
		firstResp <- resp
	}()
	waitForWaiters(t, tr, 1)
	second := make(chan CacheStatus, 1)
	go func() {
		resp, body := get(t, &http.Client{Transport: tr}, server.URL+"/a")
		if body != strings.Repeat("x", 100) {
			t.Errorf("second caller: %q", body)
		}
		st, _ := StatusOf(resp)
		second <- st
	}()
	waitForWaiters(t, tr, 2)
	close(arrived)
	if first := <-firstResp; first != nil {
		defer first.Body.Close() // never read
	}
	if st := <-second; st.Collapsed {
		t.Fatal("the second caller shared a body that never arrived")
	}
	tr.coalescer.mu.Lock()
	flights := len(tr.coalescer.flights)
	tr.coalescer.mu.Unlock()
	if flights != 0 {
		t.Fatalf("%d flights still take callers", flights)
	}
}
