package httpcache

// Shared test scaffolding of package httpcache: the helpers more than one
// test file uses. A helper used by one file stays in that file.
//
// Most test files are in package httpcache and use these directly. The
// files in package httpcache_test (example, storage_disk, storage_encoding,
// storage_memory, storage_tiered) share no helper among themselves; what
// they need from here they reach through export_test.go, which is package
// httpcache and whose exported names are visible to httpcache_test in the
// same test binary. That is simpler than a second, external helper file,
// and keeps one copy of each helper. Should the external files come to
// share a helper of their own, it belongs in an external helper file
// (package httpcache_test), not here.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain checks that the tests of the package (internal and external)
// leave no goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// epoch is the time tests start at: the test clock's first reading and the
// receipt time of stored entries.
var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// httpDate formats t as an HTTP date (IMF-fixdate).
func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// header builds an http.Header from name/value pairs.
func header(pairs ...string) http.Header {
	h := make(http.Header)
	for i := 0; i+1 < len(pairs); i += 2 {
		h.Add(pairs[i], pairs[i+1])
	}
	return h
}

// storedAt returns a 200 entry received at epoch, with the given header.
func storedAt(h http.Header) *Entry {
	return &Entry{StatusCode: 200, Header: h, RequestTime: epoch, ResponseTime: epoch}
}

// testPolicy is the default policy; tests copy it and set shared.
var testPolicy = defaultConfig().policy

// testClock is an injected clock that tests move by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: epoch} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// harness is a Transport in front of a local origin, with a test clock.
type harness struct {
	t         *testing.T
	clock     *testClock
	origin    *httptest.Server
	requests  atomic.Int64 // requests the origin received
	transport *Transport
	client    *http.Client
}

// newHarness starts an origin serving handler. The origin stamps every
// response with Date from the test clock, as a real origin would with its own.
func newHarness(t *testing.T, handler http.HandlerFunc, opts ...Option) *harness {
	t.Helper()
	h := &harness{t: t, clock: newTestClock()}
	h.origin = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.requests.Add(1)
		w.Header().Set("Date", httpDate(h.clock.Now()))
		handler(w, r)
	}))
	upstream := &http.Transport{}
	t.Cleanup(func() {
		upstream.CloseIdleConnections()
		h.origin.Close()
	})
	all := append([]Option{WithTransport(upstream), WithClock(h.clock.Now)}, opts...)
	tr, err := NewTransport(all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	h.transport = tr
	h.client = &http.Client{Transport: tr}
	return h
}

// result is what the harness's caller got.
type result struct {
	status int
	header http.Header
	body   string
	cache  CacheStatus
}

// do sends a request through the cache and reads the whole body.
func (h *harness) do(method, path string, headerPairs ...string) result {
	h.t.Helper()
	req, err := http.NewRequest(method, h.origin.URL+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for i := 0; i+1 < len(headerPairs); i += 2 {
		req.Header.Add(headerPairs[i], headerPairs[i+1])
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	status, ok := StatusOf(resp)
	if !ok {
		h.t.Fatalf("%s %s: no Cache-Status header", method, path)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: string(body), cache: status}
}

// get is do for a GET.
func (h *harness) get(path string, headerPairs ...string) result {
	h.t.Helper()
	return h.do(http.MethodGet, path, headerPairs...)
}

// wantOriginRequests fails the test unless the origin received n requests.
func (h *harness) wantOriginRequests(n int64) {
	h.t.Helper()
	if got := h.requests.Load(); got != n {
		h.t.Fatalf("origin received %d requests, want %d", got, n)
	}
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// mustParseURL parses raw, failing the test on an error.
func mustParseURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// heldRevalidations is an origin whose responses carry cacheControl and an
// ETag, and which holds every conditional request (counted in
// revalidations) until release is closed, then answers 304.
func heldRevalidations(cacheControl string, revalidations *atomic.Int64, release <-chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", cacheControl)
		w.Header().Set("ETag", `"a"`)
		if r.Header.Get("If-None-Match") != "" {
			revalidations.Add(1)
			<-release
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, "a")
	}
}

// fakeStorage is a Storage scripted by functions, for tests of how the
// Transport uses its store: each method calls its function when it is set,
// and its memory store when it is nil. gets, sets and deletes count the
// calls of each method that have returned. Tests set the functions before
// the store is used, and may reach memory directly to read or write behind
// the fake's back (uncounted). memory is a field, not embedded: the fake
// implements none of the optional Storage interfaces, so the Transport
// uses it as a store of its own (written behind, calls under a timeout).
type fakeStorage struct {
	memory *MemoryStorage

	get       func(ctx context.Context, key string) ([]*Entry, error)
	set       func(ctx context.Context, key string, e *Entry, ttl time.Duration) error
	delete    func(ctx context.Context, key string) error
	deleteURL func(ctx context.Context, url string) error

	gets, sets, deletes atomic.Int64 // deletes counts DeleteURL calls too
}

// newFakeStorage returns a fakeStorage that, until its functions are set,
// is an unbounded MemoryStorage that counts its calls.
func newFakeStorage() *fakeStorage { return &fakeStorage{memory: NewMemoryStorage(0)} }

func (s *fakeStorage) Get(ctx context.Context, key string) ([]*Entry, error) {
	defer s.gets.Add(1)
	if s.get != nil {
		return s.get(ctx, key)
	}
	return s.memory.Get(ctx, key)
}

func (s *fakeStorage) Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
	defer s.sets.Add(1)
	if s.set != nil {
		return s.set(ctx, key, e, ttl)
	}
	return s.memory.Set(ctx, key, e, ttl)
}

func (s *fakeStorage) Delete(ctx context.Context, key string) error {
	defer s.deletes.Add(1)
	if s.delete != nil {
		return s.delete(ctx, key)
	}
	return s.memory.Delete(ctx, key)
}

func (s *fakeStorage) DeleteURL(ctx context.Context, url string) error {
	defer s.deletes.Add(1)
	if s.deleteURL != nil {
		return s.deleteURL(ctx, url)
	}
	return s.memory.DeleteURL(ctx, url)
}

// calls is the number of calls of any method that have returned.
func (s *fakeStorage) calls() int64 { return s.gets.Load() + s.sets.Load() + s.deletes.Load() }

var _ Storage = (*fakeStorage)(nil)

// requestDirectives returns a request header's cache directives, with
// Pragma: no-cache as RFC 9111 §5.4 says, as readRequest reads them.
func requestDirectives(h http.Header) cacheControl {
	return readRequest(&http.Request{Header: h}).directives
}

// newExchange returns req read for the cache, as RoundTrip reads it.
func (t *Transport) newExchange(req *http.Request) exchange {
	var x exchange
	t.readExchange(&x, req)
	return x
}

// testPartitioner is a partitioner with the default credential fields.
var testPartitioner = newPartitioner(slices.Clone(DefaultCredentialFields), nil, newPartitionSecret(), true)

// readRequest reads req as RoundTrip does, with the default credential
// fields.
func readRequest(req *http.Request) cacheRequest {
	var r cacheRequest
	readRequestInto(&r, req, testPartitioner)
	return r
}

// coalesceExchange returns the exchange t's coalescer sees for req: its
// storage key set, as on its way to the network.
func (t *Transport) coalesceExchange(req *http.Request) *exchange {
	x := t.newExchange(req)
	var buffer [512]byte
	x.key = string(x.appendKey(buffer[:0]))
	return &x
}

// coalesceIdentical reports whether t's coalescer would let a and b share a
// flight, and fails the test when requests it finds identical have other
// identity hashes: then they would never meet.
func (t *Transport) coalesceIdentical(tb testing.TB, a, b *http.Request) bool {
	tb.Helper()
	c := t.coalescer
	x, y := t.coalesceExchange(a), t.coalesceExchange(b)
	identical := c.identical(x, y)
	if identical != c.identical(y, x) {
		tb.Fatalf("identical is not symmetric for %v and %v", a.Header, b.Header)
	}
	if identical && c.identityHash(x) != c.identityHash(y) {
		tb.Fatalf("identical requests with other hashes: %v and %v", a.Header, b.Header)
	}
	return identical
}

// must returns v, and panics on err: for set-up that cannot fail.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// send runs req through rt and reads the whole body; it fails the test on
// an error. Use harness.get for requests to a harness's origin.
func send(t testing.TB, rt http.RoundTripper, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := rt.RoundTrip(req)
	return readWhole(t, resp, err)
}

// get sends a GET through client (redirects followed, as a caller's
// client does) and reads the body; it fails the test on an error.
func get(t testing.TB, client *http.Client, rawURL string) (*http.Response, string) {
	t.Helper()
	resp, err := client.Get(rawURL)
	return readWhole(t, resp, err)
}

// readWhole reads a response's whole body, failing the test on err or a
// read error.
func readWhole(t testing.TB, resp *http.Response, err error) (*http.Response, string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// waitUntil polls cond until it holds, and fails the test after 10
// seconds: a hang, not a measure of speed.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for " + what)
		}
	}
}
