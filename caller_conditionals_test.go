package httpcache

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The caller's own validators (RFC 9111 §4.3.2, RFC 9110 §13.2.2), and the
// 304s that freshen stored responses (RFC 9111 §4.3.4), on every path: a
// fresh hit, a revalidation, a Vary miss, a 304 that selects nothing,
// coalesced waiters, stale-if-error, stale-while-revalidate.

// TestFreshStoredAnswersCallerConditionals: a fresh stored response
// answers the caller's validators itself (RFC 9111 §4.3.2, RFC 9110
// §13.1.2 weak comparison, §13.1.3, §13.2.2 precedence).
func TestFreshStoredAnswersCallerConditionals(t *testing.T) {
	lm := httpDate(epoch.Add(-time.Hour))
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `W/"a"`)
		w.Header().Set("Last-Modified", lm)
		fmt.Fprint(w, "body")
	})
	h.get("/f")
	cases := []struct {
		name   string
		method string
		pairs  []string
		want   int
	}{
		{"none", "GET", nil, 200},
		{"weak match", "GET", []string{"If-None-Match", `"a"`}, 304},
		{"list", "GET", []string{"If-None-Match", `"x", W/"a"`}, 304},
		{"two lines", "GET", []string{"If-None-Match", `"x"`, "If-None-Match", `W/"a"`}, 304},
		{"star", "GET", []string{"If-None-Match", `*`}, 304},
		{"other tag beats matching IMS", "GET", []string{"If-None-Match", `"x"`, "If-Modified-Since", httpDate(epoch)}, 200},
		{"IMS later", "GET", []string{"If-Modified-Since", httpDate(epoch)}, 304},
		{"IMS equal", "GET", []string{"If-Modified-Since", lm}, 304},
		{"IMS earlier", "GET", []string{"If-Modified-Since", httpDate(epoch.Add(-2 * time.Hour))}, 200},
		{"IMS invalid", "GET", []string{"If-Modified-Since", "yesterday"}, 200},
		{"HEAD match", "HEAD", []string{"If-None-Match", `W/"a"`}, 304},
		{"lower-case key", "GET", []string{"if-none-match", `W/"a"`}, 304},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, h.origin.URL+"/f", nil)
		for i := 0; i+1 < len(c.pairs); i += 2 {
			if c.pairs[i] == "if-none-match" {
				req.Header["if-none-match"] = append(req.Header["if-none-match"], c.pairs[i+1])
				continue
			}
			req.Header.Add(c.pairs[i], c.pairs[i+1])
		}
		resp, body := send(t, h.transport, req)
		st, _ := StatusOf(resp)
		if resp.StatusCode != c.want || !st.Hit {
			t.Errorf("%s: %d %q (%q), want %d from the cache", c.name, resp.StatusCode, body, resp.Header.Get("Cache-Status"), c.want)
		}
		if resp.StatusCode == 304 && (body != "" || resp.Header.Get("ETag") != `W/"a"`) {
			t.Errorf("%s: 304 with body %q, ETag %q", c.name, body, resp.Header.Get("ETag"))
		}
	}
	h.wantOriginRequests(1)
}

// TestCallerValidatorsAfterRevalidation304: a stale stored response validated by
// the cache's own validators; the caller's are evaluated against the
// freshened response: 304 only where they match it, 200 from storage
// otherwise (RFC 9111 §4.3.2: "MUST generate a 200 (OK) response for the
// client by reusing its corresponding stored response"), and no 304 to
// an unconditional request.
func TestCallerValidatorsAfterRevalidation304(t *testing.T) {
	var seen sync.Map
	var n atomic.Int64
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		seen.Store(n.Add(1), r.Header.Get("If-None-Match"))
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("ETag", `"a"`)
		if r.Header.Get("If-None-Match") == `"a"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, "A")
	})
	h.get("/s")
	for i, c := range []struct {
		pairs []string
		want  int
		body  string
	}{
		{[]string{"If-None-Match", `"a"`}, 304, ""},
		{[]string{"If-None-Match", `"b"`}, 200, "A"},
		{nil, 200, "A"},
		{[]string{"If-None-Match", `"b", "a"`}, 304, ""},
		{[]string{"If-Modified-Since", httpDate(epoch.Add(-time.Hour))}, 200, "A"}, // no Last-Modified: Date (epoch+...) is later
	} {
		h.clock.Advance(time.Minute)
		got := h.get("/s", c.pairs...)
		if got.status != c.want || got.body != c.body || got.cache.ForwardStatus != http.StatusNotModified {
			t.Errorf("case %d %v: %d %q (%q), want %d %q after a 304", i, c.pairs, got.status, got.body, got.header.Get("Cache-Status"), c.want, c.body)
		}
		if v, _ := seen.Load(n.Load()); v != `"a"` {
			t.Errorf("case %d: the origin saw If-None-Match %q, want the stored tag only", i, v)
		}
	}
}

// TestCallerValidatorsOtherVariant: the caller's validators on a Vary
// miss go to the origin, whose answer stands, and a 304 to them freshens
// no stored variant (§4.3.4: the initial set is empty).
func TestCallerValidatorsOtherVariant(t *testing.T) {
	var honour atomic.Bool
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("Vary", "Accept-Language")
		w.Header().Set("ETag", `"same"`)
		if honour.Load() && r.Header.Get("If-None-Match") == `"same"` {
			w.Header().Set("Cache-Control", "max-age=1000")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, "lang-"+r.Header.Get("Accept-Language"))
	})
	h.get("/v", "Accept-Language", "en")
	if got := h.get("/v", "Accept-Language", "fr", "If-None-Match", `"same"`); got.status != 200 || got.body != "lang-fr" {
		t.Fatalf("origin ignoring conditionals: %d %q, want its 200", got.status, got.body)
	}
	honour.Store(true)
	if got := h.get("/v", "Accept-Language", "de", "If-None-Match", `"same"`); got.status != 304 {
		t.Fatalf("origin's 304 to the caller: %d", got.status)
	}
	h.clock.Advance(time.Minute)
	honour.Store(false)
	// en is stale; de's 304 (max-age=1000) must not have freshened it.
	if got := h.get("/v", "Accept-Language", "en"); got.cache.Hit {
		t.Fatalf("a 304 for another variant freshened en: %q", got.header.Get("Cache-Status"))
	}
}

// TestCallerValidatorsAfterUnmatched304: the cache revalidates with its
// own validators (the caller's removed), the origin's 304 selects no stored
// response (a strong "a" for the stored weak W/"a", §4.3.4), and the cache
// fetches the full response without any validators (fetchUnconditionally).
// The caller's If-None-Match, which the origin never saw, matches that
// response: the cache should answer 304, as answerCallersValidators does
// for a 200 to the cache's own conditional request (RFC 9111 §4.3.2 SHOULD,
// RFC 9110 §13.2.2).
func TestCallerValidatorsAfterUnmatched304(t *testing.T) {
	var n atomic.Int64
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10")
		if n.Add(1) == 1 {
			w.Header().Set("ETag", `W/"a"`)
			fmt.Fprint(w, "A")
			return
		}
		w.Header().Set("ETag", `"a"`)
		if r.Header.Get("If-None-Match") != "" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, "A")
	})
	h.get("/u")
	h.clock.Advance(time.Minute)
	got := h.get("/u", "If-None-Match", `"a"`)
	h.wantOriginRequests(3) // first, the 304, the full request
	if got.status != http.StatusNotModified {
		t.Fatalf("the caller's If-None-Match \"a\" matches the full response (ETag \"a\") the cache fetched without it: got %d %q (%q), want 304",
			got.status, got.body, got.header.Get("Cache-Status"))
	}
}

// TestCoalescedConditionalWaiters: identical conditional requests for
// a stale response share one revalidation and each gets the 304.
func TestCoalescedConditionalWaiters(t *testing.T) {
	var revalidations atomic.Int64
	release := make(chan struct{})
	h := newHarness(t, heldRevalidations("max-age=10", &revalidations, release))
	h.get("/c")
	h.clock.Advance(time.Minute)
	const callers = 5
	results := make([]result, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", h.origin.URL+"/c", nil)
			req.Header.Set("If-None-Match", `"a"`)
			resp, body := send(t, h.transport, req)
			results[i] = result{status: resp.StatusCode, body: body, header: resp.Header}
		}()
	}
	waitForWaiters(t, h.transport, callers-1)
	close(release)
	wg.Wait()
	for i, r := range results {
		if r.status != 304 || r.body != "" {
			t.Errorf("caller %d: %d %q", i, r.status, r.body)
		}
	}
	if revalidations.Load() != 1 {
		t.Errorf("%d revalidations, want 1", revalidations.Load())
	}
}

// TestBackgroundRevalidationSendsNoCallerValidators: a stale response
// without validators, served under stale-while-revalidate to a caller with
// If-None-Match; the background request is the cache's own, for the
// stored response: it must not carry the caller's validators, whose 304
// (for the caller's representation, not the stored one) freshens nothing
// and leaves the stored response stale.
func TestBackgroundRevalidationSendsNoCallerValidators(t *testing.T) {
	var version atomic.Int64
	version.Store(1)
	var sawINM atomic.Int64
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		v := version.Load()
		w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=600")
		if inm := r.Header.Get("If-None-Match"); inm != "" {
			sawINM.Add(1)
			if inm == fmt.Sprintf(`"v%d"`, v) {
				w.Header().Set("ETag", inm)
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		fmt.Fprintf(w, "v%d", v) // no validators in the stored response
	})
	h.get("/b")
	version.Store(2)
	h.clock.Advance(30 * time.Second)
	// A caller that knows v2 from elsewhere: served the stale v1 at once
	// (its tag does not match: v1 has none), revalidated in the background.
	if got := h.get("/b", "If-None-Match", `"v2"`); got.status != 200 || got.body != "v1" || !got.cache.Hit {
		t.Fatalf("stale hit: %d %q %q", got.status, got.body, got.header.Get("Cache-Status"))
	}
	h.transport.waitForBackground()
	h.wantOriginRequests(2)
	got := h.get("/b")
	if got.body != "v2" || !got.cache.Hit || got.cache.TTL <= 0 {
		t.Fatalf("after the background revalidation (origin saw the caller's If-None-Match %d time(s)): %q %q, want a fresh hit on v2",
			sawINM.Load(), got.body, got.header.Get("Cache-Status"))
	}
}

// TestStaleIfErrorAnswersCallerConditionals: a stale response served because the
// origin failed answers the caller's validators (304 where they match,
// 200 otherwise, never 304 to an unconditional request).
func TestStaleIfErrorAnswersCallerConditionals(t *testing.T) {
	var fail atomic.Bool
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Cache-Control", "max-age=10, stale-if-error=600")
		w.Header().Set("ETag", `"a"`)
		fmt.Fprint(w, "A")
	})
	h.get("/e")
	fail.Store(true)
	h.clock.Advance(time.Minute)
	for _, c := range []struct {
		pairs []string
		want  int
	}{
		{[]string{"If-None-Match", `"a"`}, 304},
		{[]string{"If-None-Match", `"b"`}, 200},
		{nil, 200},
	} {
		got := h.get("/e", c.pairs...)
		if got.status != c.want || got.cache.Detail != detailStaleIfError {
			t.Errorf("%v: %d (%q), want %d stale-if-error", c.pairs, got.status, got.header.Get("Cache-Status"), c.want)
		}
	}
}

// TestOnlyIfCachedEveryMethod: GET and HEAD with only-if-cached are
// answered from a fresh stored response, a stale one gives 504, and an
// unsafe method with only-if-cached is neither sent nor invalidates
// (§5.2.1.7, §4.4).
func TestOnlyIfCachedEveryMethod(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"a"`)
		fmt.Fprint(w, "x")
	})
	h.get("/o")
	if got := h.get("/o", "Cache-Control", "only-if-cached"); !got.cache.Hit || got.body != "x" {
		t.Errorf("GET only-if-cached: %d %q", got.status, got.header.Get("Cache-Status"))
	}
	if got := h.do("HEAD", "/o", "Cache-Control", "only-if-cached"); !got.cache.Hit || got.status != 200 {
		t.Errorf("HEAD only-if-cached: %d %q", got.status, got.header.Get("Cache-Status"))
	}
	if got := h.get("/o", "Cache-Control", "only-if-cached", "If-None-Match", `"a"`); got.status != 304 {
		t.Errorf("GET only-if-cached conditional: %d %q", got.status, got.header.Get("Cache-Status"))
	}
	for _, m := range []string{"DELETE", "PUT", "PATCH", "post"} {
		if got := h.do(m, "/o", "CACHE-CONTROL", "max-age=0, only-if-cached"); got.status != 504 {
			t.Errorf("%s: %d", m, got.status)
		}
		req, _ := http.NewRequestWithContext(RequestContext(context.Background(), RequestOptions{OnlyIfCached: true}), m, h.origin.URL+"/o", nil)
		resp, _ := send(t, h.transport, req)
		if resp.StatusCode != 504 {
			t.Errorf("%s options: %d", m, resp.StatusCode)
		}
	}
	h.wantOriginRequests(1)
	if got := h.get("/o"); !got.cache.Hit {
		t.Fatalf("invalidated: %q", got.header.Get("Cache-Status"))
	}
	h.clock.Advance(2 * time.Minute)
	if got := h.get("/o", "Cache-Control", "only-if-cached"); got.status != 504 {
		t.Errorf("stale GET only-if-cached: %d", got.status)
	}
	if got := h.do("HEAD", "/o", "Cache-Control", "only-if-cached"); got.status != 504 {
		t.Errorf("stale HEAD only-if-cached: %d", got.status)
	}
	h.wantOriginRequests(1)
}

// TestNotModifiedSelectsForUpdate: §4.3.4 selection on the cache's own
// revalidation: a strong tag in the 304 does not select a stored weak one
// (full request follows), a weak one selects a stored strong one by weak
// comparison; a 304 to the caller's validators without a validator
// freshens the one variant chosen and not its sibling.
func TestNotModifiedSelectsForUpdate(t *testing.T) {
	t.Run("strong 304 for stored weak", func(t *testing.T) {
		var n atomic.Int64
		h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=10")
			if n.Add(1) == 1 {
				w.Header().Set("ETag", `W/"a"`)
				fmt.Fprint(w, "old")
				return
			}
			w.Header().Set("ETag", `"a"`)
			if r.Header.Get("If-None-Match") != "" {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			fmt.Fprint(w, "new")
		})
		h.get("/w")
		h.clock.Advance(time.Minute)
		if got := h.get("/w"); got.body != "new" {
			t.Fatalf("got %q, want the full response", got.body)
		}
		h.wantOriginRequests(3)
	})
	t.Run("weak 304 for stored strong", func(t *testing.T) {
		h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=10")
			if r.Header.Get("If-None-Match") != "" {
				w.Header().Set("ETag", `W/"a"`)
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", `"a"`)
			fmt.Fprint(w, "A")
		})
		h.get("/w")
		h.clock.Advance(time.Minute)
		if got := h.get("/w"); got.body != "A" || got.cache.ForwardStatus != 304 {
			t.Fatalf("got %q %q", got.body, got.header.Get("Cache-Status"))
		}
		h.wantOriginRequests(2)
	})
	t.Run("caller 304 among Vary variants", func(t *testing.T) {
		var n atomic.Int64
		h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Vary", "Accept-Language")
			if n.Add(1) <= 2 {
				w.Header().Set("Cache-Control", "max-age=10")
				fmt.Fprint(w, r.Header.Get("Accept-Language"))
				return
			}
			if r.Header.Get("If-Modified-Since") != "" {
				w.Header().Set("Cache-Control", "max-age=100")
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("Cache-Control", "max-age=10")
			fmt.Fprint(w, "new-"+r.Header.Get("Accept-Language"))
		})
		h.get("/m", "Accept-Language", "en")
		h.get("/m", "Accept-Language", "fr")
		h.clock.Advance(20 * time.Second)
		if got := h.get("/m", "Accept-Language", "en", "If-Modified-Since", httpDate(epoch)); got.status != 304 {
			t.Fatalf("got %d", got.status)
		}
		if got := h.get("/m", "Accept-Language", "en"); !got.cache.Hit || got.body != "en" {
			t.Errorf("en not freshened: %q %q", got.body, got.header.Get("Cache-Status"))
		}
		if got := h.get("/m", "Accept-Language", "fr"); got.cache.Hit {
			t.Errorf("fr freshened by en's 304: %q %q", got.body, got.header.Get("Cache-Status"))
		}
	})
}

// TestConditionalWithAnEmptyFirstLine: If-None-Match sent as two field
// lines, the first empty (net/http sends both; the origin reads the list
// `, "a"`, RFC 9110 §5.6.1 empty elements), is a conditional request: the
// cache reads only values[0] (request.go readField nonEmpty) and serves
// the fresh stored 200 instead of evaluating it (RFC 9111 §4.3.2 SHOULD).
func TestConditionalWithAnEmptyFirstLine(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"a"`)
		fmt.Fprint(w, "A")
	})
	h.get("/z")
	req, _ := http.NewRequest("GET", h.origin.URL+"/z", nil)
	req.Header["If-None-Match"] = []string{"", `"a"`}
	resp, body := send(t, h.transport, req)
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("got %d %q (%q), want 304", resp.StatusCode, body, resp.Header.Get("Cache-Status"))
	}
}

// TestCallerNotModifiedKeepsTheOriginsCookies: a 304 the cache makes of the
// origin's 200 to its own conditional (the stored tag changed, the
// caller's matches the new one) answers that caller's request, which the
// origin's Set-Cookie answers too; a later 304 from storage has no cookie.
func TestCallerNotModifiedKeepsTheOriginsCookies(t *testing.T) {
	var version atomic.Int64
	version.Store(1)
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		v := version.Load()
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("ETag", fmt.Sprintf(`"v%d"`, v))
		w.Header().Set("Set-Cookie", fmt.Sprintf("seen=%d", v))
		fmt.Fprintf(w, "v%d", v) // conditionals ignored: always a 200
	})
	h.get("/c")
	version.Store(2)
	h.clock.Advance(time.Minute)
	got := h.get("/c", "If-None-Match", `"v2"`)
	if got.status != http.StatusNotModified || got.header.Get("Set-Cookie") != "seen=2" {
		t.Fatalf("revalidated: %d, Set-Cookie %q (%q), want 304 with seen=2", got.status, got.header.Get("Set-Cookie"), got.header.Get("Cache-Status"))
	}
	got = h.get("/c", "If-None-Match", `"v2"`)
	if got.status != http.StatusNotModified || !got.cache.Hit || got.header.Get("Set-Cookie") != "" {
		t.Fatalf("from storage: %d, Set-Cookie %q (%q), want a 304 hit without a cookie", got.status, got.header.Get("Set-Cookie"), got.header.Get("Cache-Status"))
	}
}

// TestEntityTagWithAComma: a comma is a character of an entity tag (RFC
// 9110 §8.8.3: etagc includes %x2C); only one outside quotes separates the
// members of If-None-Match.
func TestEntityTagWithAComma(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"a,b"`)
		fmt.Fprint(w, "A")
	})
	h.get("/e")
	for _, tc := range []struct {
		inm  string
		want int
	}{
		{`"a,b"`, 304},
		{`"x", "a,b"`, 304},
		{`"a,b" , "x"`, 304},
		{`"a", "b"`, 200},
		{`"a,b,c"`, 200},
	} {
		if got := h.get("/e", "If-None-Match", tc.inm); got.status != tc.want {
			t.Errorf("If-None-Match: %s: %d, want %d", tc.inm, got.status, tc.want)
		}
	}
}
