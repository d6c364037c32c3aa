package httpcache

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// What is stored and served carries no one else's state (issue 12). Each
// test fails without the change it names.

// modes are the cache modes and coalescing settings the tests run in.
var modes = []struct {
	name string
	opts []Option
}{
	{name: "private", opts: nil},
	{name: "private, no coalescing", opts: []Option{WithCoalescing(CoalesceOptions{Disabled: true})}},
	{name: "shared", opts: []Option{WithShared(true)}},
	{name: "shared, no coalescing", opts: []Option{WithShared(true), WithCoalescing(CoalesceOptions{Disabled: true})}},
}

// cookieOrigin answers a stale, validated response; a conditional request
// gets a 304 that sets the cookie the request names in ?cookie=, and says
// what ?cc304= holds as its Cache-Control.
func cookieOrigin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("ETag", `"v1"`)
	if r.Header.Get("If-None-Match") == `"v1"` {
		if c := r.URL.Query().Get("cookie"); c != "" {
			w.Header().Set("Set-Cookie", "session="+c)
		}
		w.Header().Set("Cache-Control", r.URL.Query().Get("cc304"))
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=0")
	fmt.Fprint(w, "page")
}

// TestNotModifiedNeverStoresACookie: the attacker's revalidation (a
// no-cache GET, a HEAD, or a background revalidation) gets a 304 that sets
// his cookie; the stored entry, and every later response from it, never
// carries it (the class of Squid CVE-2016-10002).
func TestNotModifiedNeverStoresACookie(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t, cookieOrigin, mode.opts...)
			h.get("/p?cookie=attacker&cc304=public,max-age%3D60")
			// The attacker's revalidation: it gets its own cookie.
			if got := h.get("/p?cookie=attacker&cc304=public,max-age%3D60"); got.header.Get("Set-Cookie") != "session=attacker" {
				t.Fatalf("the revalidating caller did not get the 304's cookie: %q", got.header.Get("Set-Cookie"))
			}
			// The entry is fresh now: a visitor's hit carries no cookie.
			got := h.get("/p?cookie=attacker&cc304=public,max-age%3D60")
			if !got.cache.Hit || got.header.Get("Set-Cookie") != "" {
				t.Fatalf("a visitor got %q (hit %v)", got.header.Get("Set-Cookie"), got.cache.Hit)
			}
		})
	}
}

func TestHeadResponseNeverStoresACookie(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("ETag", `"v1"`)
		if r.Method == http.MethodHead {
			w.Header().Set("Set-Cookie", "session=attacker")
			return
		}
		fmt.Fprint(w, "page")
	}, WithShared(true))
	h.get("/p")
	h.do(http.MethodHead, "/p", "Cache-Control", "no-cache")
	if got := h.get("/p"); !got.cache.Hit || got.header.Get("Set-Cookie") != "" {
		t.Fatalf("after the attacker's HEAD, a visitor got %q (hit %v)", got.header.Get("Set-Cookie"), got.cache.Hit)
	}
}

func TestBackgroundRevalidationNeverStoresACookie(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Cache-Control", "public, max-age=1, stale-while-revalidate=60")
		if r.Header.Get("If-None-Match") != "" {
			w.Header().Set("Set-Cookie", "session=someone")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, "page")
	}, WithShared(true))
	h.get("/p")
	h.clock.Advance(2 * time.Second)
	h.get("/p") // served stale; revalidated behind
	h.transport.waitForBackground()
	if got := h.get("/p"); !got.cache.Hit || got.header.Get("Set-Cookie") != "" {
		t.Fatalf("after a background revalidation: %q (hit %v)", got.header.Get("Set-Cookie"), got.cache.Hit)
	}
}

// TestNotModifiedStoredOnlyWhereStorable: a 304 that says private (in a
// shared cache) or no-store answers its request, and leaves the stored
// entry as it was: stale, so the next request revalidates again.
func TestNotModifiedStoredOnlyWhereStorable(t *testing.T) {
	tests := []struct {
		name, cc304 string
		opts        []Option
		stored      bool
	}{
		{name: "shared cache, private 304", cc304: "private, max-age=60", opts: []Option{WithShared(true)}},
		{name: "no-store 304", cc304: "no-store, max-age=60"},
		{name: "shared cache, no-store 304", cc304: "no-store, max-age=60", opts: []Option{WithShared(true)}},
		{name: "private cache, private 304", cc304: "private, max-age=60", stored: true},
		{name: "shared cache, public 304", cc304: "public, max-age=60", opts: []Option{WithShared(true)}, stored: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, cookieOrigin, tt.opts...)
			path := "/p?cc304=" + url.QueryEscape(tt.cc304)
			h.get(path)
			if got := h.get(path); got.cache.ForwardStatus != http.StatusNotModified || got.body != "page" {
				t.Fatalf("revalidation: %+v %q", got.cache, got.body)
			}
			if got := h.get(path); got.cache.Hit != tt.stored {
				t.Fatalf("after the 304, hit = %v, want %v (the update stored or not)", got.cache.Hit, tt.stored)
			}
		})
	}
}

// TestSection35AppliesToNotModified: in a shared cache, a 304 to a request
// with credentials updates the entry only where §3.5 allows.
func TestSection35AppliesToNotModified(t *testing.T) {
	h := newHarness(t, cookieOrigin, WithShared(true))
	path := "/p?cc304=max-age%3D60" // no public: §3.5 forbids storing it
	h.get(path, "Authorization", "alice")
	h.get(path, "Authorization", "alice") // the 304
	if got := h.get(path, "Authorization", "alice"); got.cache.Hit {
		t.Fatal("a 304 to an authorized request updated the entry without §3.5's permission")
	}
}

// TestNoCacheFieldsNeverServedFromStorage: fields a qualified no-cache
// names are not served from storage on a hit, after a 304 (only the 304's
// own), or with a stale-if-error answer.
func TestNoCacheFieldsNeverServedFromStorage(t *testing.T) {
	var failing atomic.Bool
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Cache-Control", `max-age=0, no-cache="Set-Cookie, X-User", stale-if-error=600`)
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") != "" {
			if c := r.Header.Get("X-Want-Cookie"); c != "" {
				w.Header().Set("Set-Cookie", c)
			}
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Set-Cookie", "first")
		w.Header().Set("X-User", "alice")
		fmt.Fprint(w, "page")
	})
	h.get("/p")
	if got := h.get("/p", "X-Want-Cookie", "mine"); got.header.Get("Set-Cookie") != "mine" || got.header.Get("X-User") != "" {
		t.Fatalf("after a 304: Set-Cookie %q, X-User %q; want only the 304's", got.header.Values("Set-Cookie"), got.header.Get("X-User"))
	}
	if got := h.get("/p"); got.header.Get("Set-Cookie") != "" || got.header.Get("X-User") != "" {
		t.Fatalf("after a 304 without them: %q %q", got.header.Get("Set-Cookie"), got.header.Get("X-User"))
	}
	failing.Store(true)
	got := h.get("/p")
	if got.cache.Detail != detailStaleIfError || got.header.Get("Set-Cookie") != "" || got.header.Get("X-User") != "" {
		t.Fatalf("stale-if-error: %+v, Set-Cookie %q, X-User %q", got.cache, got.header.Get("Set-Cookie"), got.header.Get("X-User"))
	}
}

// TestUnqualifiedDirectivesWin, end to end: "private, private=..." is not
// stored by a shared cache, and "no-cache, no-cache=..." is revalidated
// on every use, in both modes.
func TestUnqualifiedDirectivesWin(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", r.URL.Query().Get("cc"))
				w.Header().Set("ETag", `"v1"`)
				fmt.Fprint(w, "page")
			}, mode.opts...)
			for _, cc := range []string{`no-cache="Set-Cookie", no-cache, max-age=60`, `no-cache, no-cache="Set-Cookie", max-age=60`} {
				path := "/n?cc=" + url.QueryEscape(cc)
				h.get(path)
				if got := h.get(path); got.cache.Hit {
					t.Errorf("%s was reused without revalidation", cc)
				}
			}
			if mode.name != "shared" {
				return
			}
			for _, cc := range []string{`private="Set-Cookie", private, max-age=60`, `private, private="Set-Cookie", max-age=60`} {
				path := "/p?cc=" + url.QueryEscape(cc)
				if got := h.get(path); got.cache.Stored {
					t.Errorf("a shared cache stored %s", cc)
				}
			}
		})
	}
}

// TestSharedCacheAndSetCookie: a shared cache does not store a response
// that sets a cookie, unless told to store it stripped; a private cache
// stores it without the cookie (promise 6: no session cookie at rest; a
// hit never sets a cookie back), where it stored the cookie too.
func TestSharedCacheAndSetCookie(t *testing.T) {
	handler := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("Set-Cookie", "tracking=1")
		fmt.Fprint(w, "page")
	}
	tests := []struct {
		name   string
		opts   []Option
		stored bool
	}{
		{name: "shared", opts: []Option{WithShared(true)}},
		{name: "shared, stripped", opts: []Option{WithShared(true), WithStripSetCookie(true)}, stored: true},
		{name: "private", stored: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, handler, tt.opts...)
			first := h.get("/p")
			if first.header.Get("Set-Cookie") != "tracking=1" || first.cache.Stored != tt.stored {
				t.Fatalf("first: Set-Cookie %q, stored %v (detail %q)", first.header.Get("Set-Cookie"), first.cache.Stored, first.cache.Detail)
			}
			if !tt.stored {
				return
			}
			got := h.get("/p")
			if !got.cache.Hit || got.header.Get("Set-Cookie") != "" {
				t.Fatalf("hit %v, Set-Cookie %q", got.cache.Hit, got.header.Get("Set-Cookie"))
			}
		})
	}
}

// TestOverrideStoresNoCookie: an Override rule stores a response that set
// a cookie without the cookie.
func TestOverrideStoresNoCookie(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "no-store")
				w.Header().Set("Set-Cookie", "session=first-caller")
				fmt.Fprint(w, "page")
			}, append(mode.opts, WithRules(Rule{Pattern: "*", TTL: time.Minute, Override: true}))...)
			h.get("/p")
			if got := h.get("/p"); !got.cache.Hit || got.header.Get("Set-Cookie") != "" {
				t.Fatalf("hit %v, Set-Cookie %q", got.cache.Hit, got.header.Get("Set-Cookie"))
			}
		})
	}
}

// TestCoalescerKeepsCookiesToTheirCaller: five identical anonymous requests
// in flight each get their own session cookie (the failure mode of Squid
// GHSA-96r9-hr2x-h9g7), for a storable response and a no-store one; All
// shares one, as its doc says.
func TestCoalescerKeepsCookiesToTheirCaller(t *testing.T) {
	for _, tt := range []struct {
		name, cc string
		all      bool
	}{
		{name: "no-store", cc: "no-store"},
		{name: "private", cc: "private, max-age=0"},
		{name: "plain", cc: "max-age=0"},
		{name: "All", cc: "no-store", all: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var sessions atomic.Int64
			release := make(chan struct{})
			origin := roundTripFunc(func(req *http.Request) (*http.Response, error) {
				<-release
				h := http.Header{"Cache-Control": {tt.cc}, "Set-Cookie": {fmt.Sprintf("session=%d", sessions.Add(1))}}
				return &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(strings.NewReader("x")), Request: req}, nil
			})
			tr := New(WithTransport(origin), WithCoalescing(CoalesceOptions{All: tt.all}))
			defer tr.Close()
			var wg sync.WaitGroup
			var mu sync.Mutex
			seen := map[string]int{}
			for range 5 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req, _ := http.NewRequest(http.MethodGet, "http://api.example/login", nil)
					resp, err := tr.RoundTrip(req)
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					mu.Lock()
					seen[resp.Header.Get("Set-Cookie")]++
					mu.Unlock()
				}()
			}
			waitForWaiters(t, tr, 5)
			close(release)
			wg.Wait()
			if tt.all {
				if len(seen) != 1 {
					t.Fatalf("All shared %d cookies, want 1: %v", len(seen), seen)
				}
				return
			}
			for cookie, n := range seen {
				if n > 1 {
					t.Fatalf("%d callers got %s", n, cookie)
				}
			}
		})
	}
}

// TestEncodedBodiesOnlyToWhoAcceptsThem: an origin forgot Vary:
// Accept-Encoding. A caller that asks for gzip itself stores the gzip
// bytes; a caller relying on net/http's transparent decompression must
// get the decoded page, never those bytes.
func TestEncodedBodiesOnlyToWhoAcceptsThem(t *testing.T) {
	var gzipped bytes.Buffer
	zw := gzip.NewWriter(&gzipped)
	zw.Write([]byte("plain page"))
	zw.Close()
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gzipped.Bytes())
			return
		}
		fmt.Fprint(w, "plain page")
	})
	if got := h.get("/p", "Accept-Encoding", "gzip"); got.body != gzipped.String() {
		t.Fatal("the gzip caller did not get the gzip bytes")
	}
	if got := h.get("/p"); got.body != "plain page" {
		t.Fatalf("a plain caller got %q", got.body)
	}
	if got := h.get("/p", "Accept-Encoding", "gzip"); !got.cache.Hit || got.body != gzipped.String() {
		t.Fatalf("the gzip caller again: hit %v", got.cache.Hit)
	}
	if got := h.get("/p", "Accept-Encoding", "gzip;q=0, br"); got.body == gzipped.String() {
		t.Fatal("a caller refusing gzip got gzip bytes")
	}
}

func TestAcceptsCoding(t *testing.T) {
	tests := []struct {
		name   string
		lines  []string
		coding string
		want   bool
	}{
		{name: "no Accept-Encoding", coding: "gzip", want: false},
		{name: "named", lines: []string{"gzip, br"}, coding: "gzip", want: true},
		{name: "x-gzip is gzip", lines: []string{"x-gzip"}, coding: "gzip", want: true},
		{name: "case", lines: []string{"GZip"}, coding: "gzip", want: true},
		{name: "star", lines: []string{"*"}, coding: "br", want: true},
		{name: "q=0 refuses", lines: []string{"gzip;q=0"}, coding: "gzip", want: false},
		{name: "q=0 beats star", lines: []string{"*, gzip;q=0"}, coding: "gzip", want: false},
		{name: "star q=0", lines: []string{"*;q=0"}, coding: "gzip", want: false},
		{name: "a weight", lines: []string{"gzip; q=0.5"}, coding: "gzip", want: true},
		{name: "unreadable weight", lines: []string{"gzip;q=x"}, coding: "gzip", want: false},
		{name: "other coding", lines: []string{"br"}, coding: "gzip", want: false},
		{name: "several lines", lines: []string{"br", "gzip"}, coding: "gzip", want: true},
	}
	for _, tt := range tests {
		if got := acceptsCoding(tt.lines, tt.coding); got != tt.want {
			t.Errorf("%s: acceptsCoding(%q, %q) = %v, want %v", tt.name, tt.lines, tt.coding, got, tt.want)
		}
	}
}

// TestWeakETagRevalidation: a 304 with the stored weak ETag validates it
// (§4.3.4, weak comparison): one origin request, not two.
func TestWeakETagRevalidation(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=0")
		w.Header().Set("ETag", `W/"v1"`)
		if r.Header.Get("If-None-Match") == `W/"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, "page")
	})
	h.get("/p")
	if got := h.get("/p"); got.cache.ForwardStatus != http.StatusNotModified || got.body != "page" {
		t.Fatalf("revalidation: %+v", got.cache)
	}
	h.wantOriginRequests(2)
}

// TestPerRequestTTLStoresNoCookie: a per-request TTL is an Override rule:
// it stores a response that set a cookie without the cookie.
func TestPerRequestTTLStoresNoCookie(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "session=first-caller")
		fmt.Fprint(w, "page")
	})
	get := func() *http.Response {
		ctx := RequestContext(t.Context(), RequestOptions{TTL: time.Minute})
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.origin.URL+"/p", nil)
		resp, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if first := get(); first.Header.Get("Set-Cookie") == "" {
		t.Fatal("the first caller lost its cookie")
	}
	resp := get()
	if status, _ := StatusOf(resp); !status.Hit || resp.Header.Get("Set-Cookie") != "" {
		t.Fatalf("hit %v, Set-Cookie %q", status.Hit, resp.Header.Get("Set-Cookie"))
	}
}

// TestNotModifiedNeverStoresPrivateFields: in a shared cache, a field a
// qualified private names is not stored, and a 304 carrying it does not
// put it into the stored entry either.
func TestNotModifiedNeverStoresPrivateFields(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("X-User", "alice")
		if r.Header.Get("If-None-Match") != "" {
			w.Header().Set("Cache-Control", `public, max-age=60, private="X-User"`)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Cache-Control", `public, max-age=0, private="X-User"`)
		fmt.Fprint(w, "page")
	}, WithShared(true))
	h.get("/p")
	if got := h.get("/p"); got.header.Get("X-User") != "alice" {
		t.Fatalf("the revalidating caller did not get its own field: %q", got.header.Get("X-User"))
	}
	if got := h.get("/p"); !got.cache.Hit || got.header.Get("X-User") != "" {
		t.Fatalf("a later hit: X-User %q (hit %v)", got.header.Get("X-User"), got.cache.Hit)
	}
}

// TestNotModifiedNamesPrivateFieldsOfItsOwn: a 304 whose Cache-Control is
// not the stored one, and names a field private, keeps its value of that
// field out of the stored entry (§5.2.2.7): the update's directives are
// read, not only the stored ones.
func TestNotModifiedNamesPrivateFieldsOfItsOwn(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") != "" {
			w.Header().Set("Cache-Control", `public, max-age=60, private="X-User"`)
			w.Header().Set("X-User", "bob")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=0")
		w.Header().Set("X-User", "anyone")
		fmt.Fprint(w, "page")
	}, WithShared(true))
	h.get("/p")
	if got := h.get("/p"); got.header.Get("X-User") != "bob" {
		t.Fatalf("the revalidating caller did not get the 304's field: %q", got.header.Get("X-User"))
	}
	if got := h.get("/p"); !got.cache.Hit || got.header.Get("X-User") == "bob" {
		t.Fatalf("a later hit got the 304's private field: X-User %q (hit %v)", got.header.Get("X-User"), got.cache.Hit)
	}
}

// TestStaleWithoutValidatorsIsKept: a response without validators stays
// stored past its freshness (WithStaleRetention), so that a max-stale
// request can use it (RFC 9111 §4.2.4, §5.2.1.2); with a retention of zero
// it is dropped when it goes stale.
func TestStaleWithoutValidatorsIsKept(t *testing.T) {
	handler := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=1")
		fmt.Fprint(w, "page")
	}
	h := newHarness(t, handler)
	h.get("/p")
	h.clock.Advance(time.Minute)
	if got := h.get("/p", "Cache-Control", "max-stale=3600"); !got.cache.Hit {
		t.Fatalf("a max-stale request for a stale response without validators: %+v", got.cache)
	}
}

// TestIfModifiedSinceByStoredDate: a stored response without
// Last-Modified answers If-Modified-Since by its Date (RFC 9111 §4.3.2).
func TestIfModifiedSinceByStoredDate(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "page")
	})
	h.get("/p")
	if got := h.get("/p", "If-Modified-Since", httpDate(epoch.Add(time.Second))); got.status != http.StatusNotModified || !got.cache.Hit {
		t.Fatalf("§4.3.2 If-Modified-Since after the stored Date: %d %+v", got.status, got.cache)
	}
	if got := h.get("/p", "If-Modified-Since", httpDate(epoch.Add(-time.Hour))); got.status != http.StatusOK {
		t.Fatalf("§4.3.2 If-Modified-Since before the stored Date: %d", got.status)
	}
}
