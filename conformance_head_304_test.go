package httpcache

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Adversarial tests: HEAD (§4.3.5), Vary (§4.1), 304 freshening (§4.3.3,
// §4.3.4, §3.2). Each test scripts its upstream exactly.

// scriptedReply is what the scripted upstream answers.
type scriptedReply struct {
	status int
	header http.Header
	body   string
	// length is resp.ContentLength; -2 means len(body) with a
	// Content-Length field, -1 unknown (chunked) with none.
	length int64
}

type exchangeRig struct {
	t       *testing.T
	clock   *testClock
	mu      sync.Mutex
	sent    []*http.Request
	answer  func(n int, req *http.Request) scriptedReply
	tr      *Transport
	baseURL string
}

func newExchangeRig(t *testing.T, answer func(n int, req *http.Request) scriptedReply, opts ...Option) *exchangeRig {
	t.Helper()
	r := &exchangeRig{t: t, clock: newTestClock(), answer: answer, baseURL: "http://origin.example"}
	upstream := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		r.mu.Lock()
		r.sent = append(r.sent, req)
		n := len(r.sent)
		r.mu.Unlock()
		a := answer(n, req)
		h := a.header.Clone()
		if h == nil {
			h = make(http.Header)
		}
		if h.Get("Date") == "" {
			h.Set("Date", httpDate(r.clock.Now()))
		}
		length := a.length
		switch length {
		case -2:
			length = int64(len(a.body))
			h.Set("Content-Length", strconv.Itoa(len(a.body)))
		}
		body := io.NopCloser(strings.NewReader(a.body))
		if req.Method == http.MethodHead || a.status == http.StatusNotModified {
			body = http.NoBody
			if a.length == -2 {
				length = 0
			}
		}
		return &http.Response{
			Status: statusLine(a.status), StatusCode: a.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: h, Body: body, ContentLength: length, Request: req,
		}, nil
	})
	all := append([]Option{WithTransport(upstream), WithClock(r.clock.Now)}, opts...)
	tr, err := NewTransport(all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	r.tr = tr
	return r
}

type rigResult struct {
	status int
	header http.Header
	body   string
	cache  CacheStatus
	length int64
}

func (r *exchangeRig) do(method, path string, pairs ...string) rigResult {
	r.t.Helper()
	req, err := http.NewRequest(method, r.baseURL+path, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		req.Header.Add(pairs[i], pairs[i+1])
	}
	resp, err := r.tr.RoundTrip(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	st, _ := StatusOf(resp)
	return rigResult{status: resp.StatusCode, header: resp.Header, body: string(b), cache: st, length: resp.ContentLength}
}

func (r *exchangeRig) sentCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sent)
}

func (r *exchangeRig) lastSent() *http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sent[len(r.sent)-1]
}

// ---------------------------------------------------------------- HEAD

// TestHeadLengthAgainstChunkedStoredGET: the stored GET came without
// Content-Length (chunked), body "hello" (5 bytes), no validators. A HEAD
// response says Content-Length: 11. §4.3.5: "if the HEAD response has a
// Content-Length header field, the value of Content-Length matches that
// of the stored response" -- it does not (the stored response is 5 bytes
// long), so the stored response must be considered stale, not freshened
// and served as a fresh hit with a body of the wrong length.
func TestHeadLengthAgainstChunkedStoredGET(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		if req.Method == http.MethodHead {
			return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100", "Content-Length", "11"), length: 11}
		}
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=10"), body: "hello", length: -1}
	})
	r.do("GET", "/r")
	r.clock.Advance(20 * time.Second)
	r.do("HEAD", "/r")
	got := r.do("GET", "/r")
	if got.cache.Hit {
		t.Fatalf("a HEAD response with Content-Length 11 freshened a stored 5-byte GET: served %q as a hit (%q)", got.body, got.header.Get("Cache-Status"))
	}
}

// TestHeadFreshensStored404: the stored GET response is a 404
// (heuristically cacheable, here max-age=10), no validators. The resource
// now exists: a HEAD answers 200. RFC 9110 §9.3.2: a HEAD response is what
// the GET would have been, so the stored 404 is outdated; the cache must
// not freshen it with the 200's metadata and serve the 404 as a fresh hit.
func TestHeadFreshensStored404(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		if req.Method == http.MethodHead {
			return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100", "Content-Type", "text/plain")}
		}
		if n == 1 {
			return scriptedReply{status: 404, header: header("Cache-Control", "max-age=10"), body: "nope", length: -1}
		}
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100"), body: "now it exists", length: -2}
	})
	if got := r.do("GET", "/r"); got.status != 404 {
		t.Fatalf("setup: %d", got.status)
	}
	r.clock.Advance(20 * time.Second)
	if head := r.do("HEAD", "/r"); head.status != 200 {
		t.Fatalf("HEAD status %d", head.status)
	}
	got := r.do("GET", "/r")
	if got.status == 404 && got.cache.Hit {
		t.Fatalf("a HEAD 200 freshened the stored 404, served as a fresh hit (%q)", got.header.Get("Cache-Status"))
	}
}

// TestHeadFreshensStoredRedirect: as above with a stored 301.
func TestHeadFreshensStoredRedirect(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		if req.Method == http.MethodHead {
			return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100")}
		}
		if n == 1 {
			return scriptedReply{status: 301, header: header("Cache-Control", "max-age=10", "Location", "/elsewhere"), length: -1}
		}
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100"), body: "here", length: -2}
	})
	r.do("GET", "/r")
	r.clock.Advance(20 * time.Second)
	r.do("HEAD", "/r")
	got := r.do("GET", "/r")
	if got.status == 301 && got.cache.Hit {
		t.Fatalf("a HEAD 200 freshened the stored 301, served as a fresh hit (%q)", got.header.Get("Cache-Status"))
	}
}

// TestHeadFreshenedKeepsLength: a matching HEAD freshens; the stored
// body, Content-Length and Content-Encoding stay (§3.2), and the HEAD's
// Content-Type-like fields are taken.
func TestHeadFreshenedKeepsLength(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		if req.Method == http.MethodHead {
			return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100", "ETag", `"a"`, "X-V", "2", "Content-Length", "5"), length: 5}
		}
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=10", "ETag", `"a"`, "X-V", "1"), body: "hello", length: -2}
	})
	r.do("GET", "/r")
	r.clock.Advance(20 * time.Second)
	head := r.do("HEAD", "/r")
	if head.body != "" {
		t.Fatalf("HEAD got a body %q", head.body)
	}
	got := r.do("GET", "/r")
	if !got.cache.Hit || got.body != "hello" || got.header.Get("X-V") != "2" || got.header.Get("Content-Length") != "5" || got.length != 5 {
		t.Fatalf("hit %v body %q X-V %q CL %q/%d", got.cache.Hit, got.body, got.header.Get("X-V"), got.header.Get("Content-Length"), got.length)
	}
	if r.sentCount() != 2 {
		t.Fatalf("sent %d", r.sentCount())
	}
}

// TestHeadMismatchingETag: a HEAD response with another ETag makes the
// stored GET unusable as fresh (§4.3.5); and a weak form of the same tag
// (W/"a" against "a") is another validator value too.
func TestHeadMismatchingETag(t *testing.T) {
	for _, etag := range []string{`"b"`, `W/"a"`} {
		t.Run(etag, func(t *testing.T) {
			r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
				if req.Method == http.MethodHead {
					return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100", "ETag", etag)}
				}
				return scriptedReply{status: 200, header: header("Cache-Control", "max-age=10", "ETag", `"a"`), body: "hello", length: -2}
			})
			r.do("GET", "/r")
			r.clock.Advance(20 * time.Second)
			r.do("HEAD", "/r")
			if got := r.do("GET", "/r"); got.cache.Hit {
				t.Fatalf("a HEAD with ETag %s freshened the stored \"a\"", etag)
			}
		})
	}
}

// TestHeadFromStoredGET: a fresh stored GET answers HEAD, without body,
// with its Content-Length; a caller's matching If-None-Match gets 304.
func TestHeadFromStoredGET(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100", "ETag", `"a"`), body: "hello", length: -2}
	})
	r.do("GET", "/r")
	got := r.do("HEAD", "/r")
	if !got.cache.Hit || got.body != "" || got.header.Get("Content-Length") != "5" {
		t.Fatalf("HEAD: hit %v body %q CL %q", got.cache.Hit, got.body, got.header.Get("Content-Length"))
	}
	if got := r.do("HEAD", "/r", "If-None-Match", `"a"`); got.status != 304 {
		t.Fatalf("conditional HEAD: %d", got.status)
	}
	if r.sentCount() != 1 {
		t.Fatalf("sent %d", r.sentCount())
	}
}

// TestHeadNotStoredAsGET: a HEAD miss must never leave an empty body
// under the key that GET reads.
func TestHeadNotStoredAsGET(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100", "Content-Length", "5"), body: "hello", length: -2}
	})
	r.do("HEAD", "/r")
	got := r.do("GET", "/r")
	if got.body != "hello" {
		t.Fatalf("GET after HEAD: %q (%q)", got.body, got.header.Get("Cache-Status"))
	}
}

// TestHeadVaryOtherVariantUntouched: HEAD for fr, with fr not stored,
// must not freshen or remove the en variant.
func TestHeadVaryOtherVariant(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		lang := req.Header.Get("Accept-Language")
		if req.Method == http.MethodHead {
			return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100", "Vary", "Accept-Language", "ETag", `"`+lang+`2"`)}
		}
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=10", "Vary", "Accept-Language", "ETag", `"`+lang+`"`), body: lang, length: -2}
	})
	r.do("GET", "/r", "Accept-Language", "en")
	r.do("HEAD", "/r", "Accept-Language", "fr")
	if got := r.do("GET", "/r", "Accept-Language", "en"); !got.cache.Hit || got.body != "en" {
		t.Fatalf("en after HEAD fr: hit %v body %q", got.cache.Hit, got.body)
	}
}

// ---------------------------------------------------------------- Vary

// TestVaryCaseSensitiveValue: a field whose values are not defined as
// case-insensitive must not match across case (§4.1 allows case
// normalisation only where the field's definition does).
func TestVaryCaseSensitiveValue(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100", "Vary", "X-Tenant"), body: "tenant " + req.Header.Get("X-Tenant"), length: -2}
	})
	r.do("GET", "/r", "X-Tenant", "Acme")
	if got := r.do("GET", "/r", "X-Tenant", "acme"); got.body != "tenant acme" {
		t.Fatalf("X-Tenant acme got %q", got.body)
	}
}

// TestVaryNormalisation: whitespace and combined lines match (§4.1);
// case folding of Accept-Language/Accept-Encoding; an absent field matches
// only absent; order of members matters.
func TestVaryNormalisation(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100", "Vary", "accept-language, X-Flags"),
			body: strconv.Itoa(n), length: -2}
	})
	r.do("GET", "/r", "Accept-Language", "en-US, fr;q=0.5", "X-Flags", "a, b")
	for _, tc := range []struct {
		name  string
		pairs []string
		hit   bool
	}{
		{"same", []string{"Accept-Language", "en-US, fr;q=0.5", "X-Flags", "a, b"}, true},
		{"ws", []string{"Accept-Language", "en-US,fr;q=0.5", "X-Flags", "a,b"}, true},
		{"lines", []string{"Accept-Language", "en-US", "Accept-Language", "fr;q=0.5", "X-Flags", "a", "X-Flags", "b"}, true},
		{"case lang", []string{"Accept-Language", "EN-us, FR;q=0.5", "X-Flags", "a, b"}, true},
		{"case flags", []string{"Accept-Language", "en-US, fr;q=0.5", "X-Flags", "A, b"}, false},
		{"order", []string{"Accept-Language", "fr;q=0.5, en-US", "X-Flags", "a, b"}, false},
		{"absent flags", []string{"Accept-Language", "en-US, fr;q=0.5"}, false},
		{"empty flags", []string{"Accept-Language", "en-US, fr;q=0.5", "X-Flags", ""}, false},
		{"extra member", []string{"Accept-Language", "en-US, fr;q=0.5", "X-Flags", "a, b, c"}, false},
		{"quoted comma", []string{"Accept-Language", "en-US, fr;q=0.5", "X-Flags", `"a, b"`}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := r.do("GET", "/r", tc.pairs...)
			if got.cache.Hit != tc.hit {
				t.Fatalf("hit %v, want %v (%q)", got.cache.Hit, tc.hit, got.header.Get("Cache-Status"))
			}
		})
	}
}

// TestVaryChangesBetweenResponses: a stored variant under Vary:
// Accept-Language; the origin's next response to a no-cache request says
// Vary: X-B. The newest matching response is used for a request both match.
func TestVaryChangesBetweenResponses(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		if n == 1 {
			return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100", "Vary", "Accept-Language"), body: "v1", length: -2}
		}
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100", "Vary", "X-B"), body: "v2", length: -2}
	})
	r.do("GET", "/r", "Accept-Language", "en")
	r.clock.Advance(time.Second)
	r.do("GET", "/r", "Accept-Language", "en", "Cache-Control", "no-cache")
	if got := r.do("GET", "/r", "Accept-Language", "en"); got.body != "v2" {
		t.Fatalf("got %q, want the newest v2", got.body)
	}
}

// TestVaryStarRemovesOld: a Vary: * response to a GET outdates the stored
// response (it cannot be stored, §4.1), and is never served.
func TestVaryStar(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		if n == 1 {
			return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100"), body: "v1", length: -2}
		}
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100", "Vary", "*"), body: "v" + strconv.Itoa(n), length: -2}
	})
	r.do("GET", "/r")
	r.do("GET", "/r", "Cache-Control", "no-cache")
	got := r.do("GET", "/r")
	if got.cache.Hit {
		t.Fatalf("served %q from storage after Vary: *", got.body)
	}
}

// TestManyVariants: 40 variants; the latest are served right, no
// variant ever answers another's request.
func TestManyVariants(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100", "Vary", "X-K"), body: "k=" + req.Header.Get("X-K"), length: -2}
	})
	for i := 0; i < 40; i++ {
		r.do("GET", "/r", "X-K", strconv.Itoa(i))
		r.clock.Advance(time.Millisecond)
	}
	for i := 0; i < 40; i++ {
		got := r.do("GET", "/r", "X-K", strconv.Itoa(i))
		if got.body != "k="+strconv.Itoa(i) {
			t.Fatalf("X-K %d got %q", i, got.body)
		}
	}
}

// ---------------------------------------------------------------- 304

// TestNotModifiedKeepsBodyFields: a 304 carrying Content-Length: 0,
// Content-Encoding and Content-Range must not update them (§3.2); other
// fields it carries replace the stored ones, all their lines.
func TestNotModifiedKeepsBodyFields(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		if req.Header.Get("If-None-Match") != "" {
			return scriptedReply{status: 304, header: header("Cache-Control", "max-age=100", "ETag", `"a"`, "Content-Length", "0",
				"Content-Encoding", "gzip", "Content-Range", "bytes 0-0/1", "X-Multi", "new")}
		}
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=10", "ETag", `"a"`, "X-Multi", "o1", "X-Multi", "o2", "X-Keep", "k"), body: "hello", length: -2}
	})
	r.do("GET", "/r")
	r.clock.Advance(20 * time.Second)
	first := r.do("GET", "/r")
	got := r.do("GET", "/r")
	for _, res := range []rigResult{first, got} {
		if res.body != "hello" || res.header.Get("Content-Length") != "5" || res.header.Get("Content-Encoding") != "" ||
			res.header.Get("Content-Range") != "" || strings.Join(res.header["X-Multi"], ",") != "new" || res.header.Get("X-Keep") != "k" {
			t.Fatalf("body %q header %v", res.body, res.header)
		}
	}
	if !got.cache.Hit {
		t.Fatalf("not freshened: %q", got.header.Get("Cache-Status"))
	}
}

// TestNotModifiedNewCookie: a private cache stores Set-Cookie. A 304
// carries a new Set-Cookie; §4.3.4 says it replaces "all instances of the
// corresponding header fields in the stored response". Later hits must not
// replay the old cookie, which would roll the client's cookie back.
func TestNotModifiedNewCookie(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		if req.Header.Get("If-None-Match") != "" {
			return scriptedReply{status: 304, header: header("Cache-Control", "max-age=100", "ETag", `"a"`, "Set-Cookie", "s=2")}
		}
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=10", "ETag", `"a"`, "Set-Cookie", "s=1"), body: "hello", length: -2}
	})
	if got := r.do("GET", "/r"); got.header.Get("Set-Cookie") != "s=1" {
		t.Fatalf("setup: %v", got.header)
	}
	if got := r.do("GET", "/r"); got.header.Get("Set-Cookie") != "s=1" {
		t.Skipf("private cache does not replay stored cookies: %v", got.header["Set-Cookie"])
	}
	r.clock.Advance(20 * time.Second)
	if got := r.do("GET", "/r"); got.header.Get("Set-Cookie") != "s=2" {
		t.Fatalf("the 304's cookie did not reach its caller: %v", got.header["Set-Cookie"])
	}
	got := r.do("GET", "/r")
	if !got.cache.Hit {
		t.Fatalf("not a hit: %q", got.header.Get("Cache-Status"))
	}
	if sc := got.header["Set-Cookie"]; len(sc) > 0 && sc[0] == "s=1" {
		t.Fatalf("after a 304 with Set-Cookie s=2, a hit replays the stale stored Set-Cookie %v", sc)
	}
}

// TestNotModifiedWeakSelectsStrong: a 304 with W/"a" selects a stored
// response with "a" by weak comparison (§4.3.4); one with a strong "a"
// does not select a stored W/"a".
func TestNotModifiedValidatorSelection(t *testing.T) {
	for _, tc := range []struct {
		stored, notModified string
		updates             bool
	}{
		{`"a"`, `W/"a"`, true},
		{`W/"a"`, `W/"a"`, true},
		{`W/"a"`, `"a"`, false},
		{`"a"`, `"b"`, false},
		{`"a"`, `"a"`, true},
	} {
		t.Run(tc.stored+"/"+tc.notModified, func(t *testing.T) {
			r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
				if req.Header.Get("If-None-Match") != "" {
					return scriptedReply{status: 304, header: header("Cache-Control", "max-age=100", "ETag", tc.notModified, "X-V", "2")}
				}
				return scriptedReply{status: 200, header: header("Cache-Control", "max-age=10", "ETag", tc.stored, "X-V", strconv.Itoa(n)), body: "b" + strconv.Itoa(n), length: -2}
			})
			r.do("GET", "/r")
			r.clock.Advance(20 * time.Second)
			got := r.do("GET", "/r")
			updated := got.header.Get("X-V") == "2" && got.body == "b1"
			if updated != tc.updates {
				t.Fatalf("updated %v, want %v: body %q X-V %q sent %d", updated, tc.updates, got.body, got.header.Get("X-V"), r.sentCount())
			}
			if !tc.updates && got.body == "b1" {
				t.Fatalf("served the stored body after a 304 that selects nothing")
			}
		})
	}
}

// TestNotModifiedLastModifiedSelection: a 304 with Last-Modified but no
// ETag selects a stored response with the same date; another date, none.
func TestNotModifiedLastModifiedSelection(t *testing.T) {
	lm := httpDate(epoch.Add(-time.Hour))
	other := httpDate(epoch.Add(-time.Minute))
	for _, tc := range []struct {
		notModified string
		updates     bool
	}{{lm, true}, {other, false}} {
		t.Run(tc.notModified, func(t *testing.T) {
			r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
				if req.Header.Get("If-Modified-Since") != "" {
					return scriptedReply{status: 304, header: header("Cache-Control", "max-age=100", "Last-Modified", tc.notModified, "X-V", "2")}
				}
				return scriptedReply{status: 200, header: header("Cache-Control", "max-age=10", "Last-Modified", lm), body: "b" + strconv.Itoa(n), length: -2}
			})
			r.do("GET", "/r")
			r.clock.Advance(20 * time.Second)
			got := r.do("GET", "/r")
			if updated := got.header.Get("X-V") == "2" && got.body == "b1"; updated != tc.updates {
				t.Fatalf("updated %v want %v, body %q", updated, tc.updates, got.body)
			}
		})
	}
}

// TestNotModifiedVariantsOnlySelectedUpdated: two variants with their
// own ETags, both stale; the 304 for en updates en only.
func TestNotModifiedVariantsOnlySelectedUpdated(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		lang := req.Header.Get("Accept-Language")
		if inm := req.Header.Get("If-None-Match"); inm != "" {
			if inm != `"`+lang+`"` {
				t.Errorf("sent If-None-Match %s for %s", inm, lang)
			}
			return scriptedReply{status: 304, header: header("Cache-Control", "max-age=100", "Vary", "Accept-Language", "ETag", inm)}
		}
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=10", "Vary", "Accept-Language", "ETag", `"`+lang+`"`), body: lang, length: -2}
	})
	r.do("GET", "/r", "Accept-Language", "en")
	r.do("GET", "/r", "Accept-Language", "fr")
	r.clock.Advance(20 * time.Second)
	if got := r.do("GET", "/r", "Accept-Language", "en"); got.body != "en" {
		t.Fatalf("en: %q", got.body)
	}
	if got := r.do("GET", "/r", "Accept-Language", "fr"); got.cache.Hit || got.body != "fr" {
		t.Fatalf("fr freshened by en's 304: hit %v body %q", got.cache.Hit, got.body)
	}
	if got := r.do("GET", "/r", "Accept-Language", "en"); !got.cache.Hit || got.body != "en" {
		t.Fatalf("en: hit %v body %q", got.cache.Hit, got.body)
	}
}

// TestNotModifiedWithoutValidatorsSeveralVariants: stored without
// validators, two variants that match the request: a 304 to the caller's
// If-Modified-Since updates neither (§4.3.4).
func TestNotModifiedWithoutValidatorsSeveralVariants(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		switch {
		case n == 1:
			return scriptedReply{status: 200, header: header("Cache-Control", "max-age=10", "Vary", "X-A"), body: "A", length: -2}
		case n == 2:
			return scriptedReply{status: 200, header: header("Cache-Control", "max-age=10", "Vary", "X-B"), body: "B", length: -2}
		}
		return scriptedReply{status: 304, header: header("Cache-Control", "max-age=100")}
	})
	r.do("GET", "/r", "X-A", "1", "X-B", "1")
	r.clock.Advance(time.Second)
	r.do("GET", "/r", "X-A", "1", "X-B", "1", "Cache-Control", "no-cache")
	r.clock.Advance(20 * time.Second)
	r.do("GET", "/r", "X-A", "1", "X-B", "1", "If-Modified-Since", httpDate(epoch))
	if got := r.do("GET", "/r", "X-A", "1", "X-B", "1"); got.cache.Hit {
		t.Fatalf("a 304 without validators freshened one of two variants: %q", got.body)
	}
}

// TestNotModifiedVaryChange: the 304 changes Vary. The merged entry
// must never answer a request its new Vary does not allow.
func TestNotModifiedVaryChange(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		if req.Header.Get("If-None-Match") != "" {
			return scriptedReply{status: 304, header: header("Cache-Control", "max-age=100", "ETag", `"a"`, "Vary", "X-B")}
		}
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=10", "ETag", `"a"`, "Vary", "X-A"), body: "a=" + req.Header.Get("X-A") + " b=" + req.Header.Get("X-B"), length: -2}
	})
	r.do("GET", "/r", "X-A", "1", "X-B", "1")
	r.clock.Advance(20 * time.Second)
	r.do("GET", "/r", "X-A", "1", "X-B", "1")
	got := r.do("GET", "/r", "X-A", "1", "X-B", "2")
	if got.cache.Hit {
		t.Fatalf("served %q (stored for X-B 1) to X-B 2 after the 304 said Vary: X-B", got.body)
	}
}

// TestNotModifiedPrivateFieldShared: shared cache; the 304 newly says
// private="X-User". §5.2.2.7: a shared cache MUST NOT store the named
// field; the stored value must not be served from storage afterwards.
func TestNotModifiedPrivateFieldShared(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		if req.Header.Get("If-None-Match") != "" {
			return scriptedReply{status: 304, header: header("Cache-Control", `max-age=100, private="X-User"`, "ETag", `"a"`, "X-User", "bob")}
		}
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=10", "ETag", `"a"`, "X-User", "alice"), body: "hello", length: -2}
	}, WithShared(true))
	r.do("GET", "/r")
	r.clock.Advance(20 * time.Second)
	r.do("GET", "/r")
	got := r.do("GET", "/r")
	if got.cache.Hit && got.header.Get("X-User") != "" {
		t.Fatalf("after a 304 with private=\"X-User\", a shared hit still serves stored X-User %q", got.header.Get("X-User"))
	}
}

// TestNotModifiedNoCacheFieldServedFromFresh: the 304 brings
// no-cache="X-T"; X-T is served to the 304's caller from the 304, not
// afterwards from storage without revalidation.
func TestNotModifiedNoCacheField(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		if req.Header.Get("If-None-Match") != "" {
			return scriptedReply{status: 304, header: header("Cache-Control", `max-age=100, no-cache="X-T"`, "ETag", `"a"`, "X-T", "t2")}
		}
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=10", "ETag", `"a"`, "X-T", "t1"), body: "hello", length: -2}
	})
	r.do("GET", "/r")
	r.clock.Advance(20 * time.Second)
	if got := r.do("GET", "/r"); got.header.Get("X-T") != "t2" {
		t.Fatalf("304 caller X-T %q", got.header.Get("X-T"))
	}
	if got := r.do("GET", "/r"); got.cache.Hit && got.header.Get("X-T") != "" {
		t.Fatalf("hit served X-T %q despite no-cache=X-T", got.header.Get("X-T"))
	}
}

// TestNotModifiedHeadCaller: a stale stored GET; a caller's HEAD goes to
// the origin as HEAD; it must never be a GET with a body for the caller.
func TestStaleHeadGetsNoBody(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=10", "ETag", `"a"`), body: "hello", length: -2}
	})
	r.do("GET", "/r")
	r.clock.Advance(20 * time.Second)
	got := r.do("HEAD", "/r")
	if got.body != "" || r.lastSent().Method != http.MethodHead {
		t.Fatalf("HEAD body %q, sent %s", got.body, r.lastSent().Method)
	}
	if got := r.do("GET", "/r"); !got.cache.Hit || got.body != "hello" {
		t.Fatalf("GET after matching HEAD: hit %v body %q", got.cache.Hit, got.body)
	}
}

// TestHeadNewCookie: as TestNotModifiedNewCookie, with a HEAD
// response freshening the stored GET (§4.3.5 updates as §3.2 says).
func TestHeadNewCookie(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		if req.Method == http.MethodHead {
			return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100", "ETag", `"a"`, "Set-Cookie", "s=2")}
		}
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=10", "ETag", `"a"`, "Set-Cookie", "s=1"), body: "hello", length: -2}
	})
	r.do("GET", "/r")
	r.clock.Advance(20 * time.Second)
	if got := r.do("HEAD", "/r"); got.header.Get("Set-Cookie") != "s=2" {
		t.Fatalf("HEAD caller cookie %v", got.header["Set-Cookie"])
	}
	got := r.do("GET", "/r")
	if sc := got.header["Set-Cookie"]; got.cache.Hit && len(sc) > 0 && sc[0] == "s=1" {
		t.Fatalf("after a HEAD with Set-Cookie s=2 freshened the GET, a hit replays the stale stored Set-Cookie %v", sc)
	}
}

// TestHeadPrivateFieldShared: a HEAD response freshening in a shared
// cache newly says private="X-User" (§5.2.2.7).
func TestHeadPrivateFieldShared(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		if req.Method == http.MethodHead {
			return scriptedReply{status: 200, header: header("Cache-Control", `max-age=100, private="X-User"`, "ETag", `"a"`, "X-User", "bob")}
		}
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=10", "ETag", `"a"`, "X-User", "alice"), body: "hello", length: -2}
	}, WithShared(true))
	r.do("GET", "/r")
	r.clock.Advance(20 * time.Second)
	r.do("HEAD", "/r")
	got := r.do("GET", "/r")
	if got.cache.Hit && got.header.Get("X-User") != "" {
		t.Fatalf("after a HEAD with private=\"X-User\", a shared hit still serves stored X-User %q", got.header.Get("X-User"))
	}
}

// TestNotModifiedWithoutValidatorForValidatedStored: the stored
// response has an ETag; the 304 has no validator. It selects nothing
// (§4.3.4), so the cache must get a full response, not serve the stored.
func TestNotModifiedWithoutValidatorForValidatedStored(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		if req.Header.Get("If-None-Match") != "" {
			return scriptedReply{status: 304, header: header("Cache-Control", "max-age=100")}
		}
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=10", "ETag", `"v`+strconv.Itoa(n)+`"`), body: "b" + strconv.Itoa(n), length: -2}
	})
	r.do("GET", "/r")
	r.clock.Advance(20 * time.Second)
	got := r.do("GET", "/r")
	if got.status != 200 || got.body != "b3" {
		t.Fatalf("status %d body %q sent %d", got.status, got.body, r.sentCount())
	}
}

// TestNotModifiedCallerValidatorsAfterUpdate: a caller's own
// If-None-Match matching the stored ETag, stale entry: the cache's 304
// freshens and the caller gets a 304 with the merged fields.
func TestNotModifiedCallerValidators(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		if req.Header.Get("If-None-Match") != "" {
			return scriptedReply{status: 304, header: header("Cache-Control", "max-age=100", "ETag", `"a"`, "X-V", "2")}
		}
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=10", "ETag", `"a"`, "X-V", "1"), body: "hello", length: -2}
	})
	r.do("GET", "/r")
	r.clock.Advance(20 * time.Second)
	got := r.do("GET", "/r", "If-None-Match", `"a"`)
	if got.status != 304 || got.body != "" {
		t.Fatalf("status %d body %q", got.status, got.body)
	}
	if got := r.do("GET", "/r", "If-None-Match", `"zz"`); got.status != 200 || got.body != "hello" || got.header.Get("X-V") != "2" || !got.cache.Hit {
		t.Fatalf("status %d body %q X-V %q", got.status, got.body, got.header.Get("X-V"))
	}
}
