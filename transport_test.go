package httpcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
)

func TestMissThenHit(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "hello")
	})
	first := h.get("/a")
	if first.body != "hello" || first.cache.Hit || first.cache.Forward != ForwardURIMiss || !first.cache.Stored || first.cache.ForwardStatus != 200 {
		t.Fatalf("first request: %+v", first)
	}
	h.clock.Advance(10 * time.Second)
	second := h.get("/a")
	if second.body != "hello" || !second.cache.Hit || second.cache.TTL != 50*time.Second {
		t.Fatalf("second request: %+v, Cache-Status %q", second.cache, second.header.Get("Cache-Status"))
	}
	if got := second.header.Get("Age"); got != "10" {
		t.Errorf("Age = %q, want 10", got)
	}
	if got := second.header.Get("Cache-Status"); got != "httpcache; hit; ttl=50" {
		t.Errorf("Cache-Status = %q", got)
	}
	h.wantOriginRequests(1)
}

func TestStaleRevalidatedWith304(t *testing.T) {
	var version atomic.Int64
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		etag := fmt.Sprintf(`"v%d"`, version.Load())
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", etag)
		w.Header().Set("X-Served", fmt.Sprint(time.Now().UnixNano()))
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprintf(w, "body %s", etag)
	})
	first := h.get("/r")
	h.clock.Advance(2 * time.Minute)
	second := h.get("/r")
	if second.status != 200 || second.body != `body "v0"` {
		t.Fatalf("revalidated response: %d %q", second.status, second.body)
	}
	if second.cache.Hit || second.cache.Forward != ForwardStale || second.cache.ForwardStatus != 304 {
		t.Fatalf("Cache-Status = %q", second.header.Get("Cache-Status"))
	}
	if second.header.Get("X-Served") == first.header.Get("X-Served") {
		t.Error("§4.3.4: the 304's header fields did not update the stored response")
	}
	if second.header.Get("Age") != "0" {
		t.Errorf("Age after revalidation = %q, want 0", second.header.Get("Age"))
	}
	third := h.get("/r")
	if !third.cache.Hit || third.header.Get("X-Served") != second.header.Get("X-Served") {
		t.Fatalf("the freshened entry was not stored: %q", third.header.Get("Cache-Status"))
	}
	version.Add(1)
	h.clock.Advance(2 * time.Minute)
	fourth := h.get("/r")
	if fourth.body != `body "v1"` || fourth.cache.ForwardStatus != 200 || !fourth.cache.Stored {
		t.Fatalf("changed resource: %q %q", fourth.body, fourth.header.Get("Cache-Status"))
	}
	h.wantOriginRequests(3)
}

func TestRevalidationWithLastModified(t *testing.T) {
	modified := epoch.Add(-time.Hour)
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Last-Modified", httpDate(modified))
		if ims, err := http.ParseTime(r.Header.Get("If-Modified-Since")); err == nil && !modified.After(ims) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, "lm")
	})
	h.get("/lm")
	second := h.get("/lm")
	if second.body != "lm" || second.cache.ForwardStatus != 304 {
		t.Fatalf("§5.2.2.4 no-cache: want a 304 revalidation, got %q %q", second.body, second.header.Get("Cache-Status"))
	}
}

func TestVaryVariants(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		fmt.Fprintf(w, "lang=%s", r.Header.Get("Accept-Language"))
	})
	en := h.get("/v", "Accept-Language", "en")
	fr := h.get("/v", "Accept-Language", "fr")
	if en.cache.Forward != ForwardURIMiss || fr.cache.Forward != ForwardVaryMiss {
		t.Fatalf("fwd = %q then %q, want uri-miss then vary-miss", en.cache.Forward, fr.cache.Forward)
	}
	tests := []struct {
		name     string
		lang     []string
		wantBody string
		wantHit  bool
	}{
		{name: "§4.1 first variant", lang: []string{"Accept-Language", "en"}, wantBody: "lang=en", wantHit: true},
		{name: "§4.1 second variant", lang: []string{"Accept-Language", "fr"}, wantBody: "lang=fr", wantHit: true},
		{name: "§4.1 case-normalised value", lang: []string{"Accept-Language", "EN"}, wantBody: "lang=en", wantHit: true},
		{name: "§4.1 absent field matches no stored variant", wantBody: "lang=", wantHit: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := h.get("/v", tt.lang...)
			if got.body != tt.wantBody || got.cache.Hit != tt.wantHit {
				t.Errorf("body %q hit %v, want %q %v", got.body, got.cache.Hit, tt.wantBody, tt.wantHit)
			}
		})
	}
	h.wantOriginRequests(3)
}

func TestVaryNormalisesWhitespaceAndLines(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "accept")
		fmt.Fprint(w, "x")
	})
	h.get("/n", "Accept", "text/html, application/json")
	req, _ := http.NewRequest(http.MethodGet, h.origin.URL+"/n", nil)
	req.Header["Accept"] = []string{"text/html", " application/json "}
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st, _ := StatusOf(resp); !st.Hit {
		t.Errorf("§4.1: split field lines and white space should match; Cache-Status %q", resp.Header.Get("Cache-Status"))
	}
}

func TestVaryStarNeverStored(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "*")
		fmt.Fprint(w, "x")
	})
	first := h.get("/star")
	second := h.get("/star")
	if first.cache.Stored || first.cache.Detail != detailVaryStar || second.cache.Hit {
		t.Fatalf("Vary: * : %q then %q", first.header.Get("Cache-Status"), second.header.Get("Cache-Status"))
	}
}

func TestPrivateCacheKeepsCredentialsApart(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "for %s", r.Header.Get("Authorization"))
	})
	alice := h.get("/me", "Authorization", "Bearer alice")
	bob := h.get("/me", "Authorization", "Bearer bob")
	anon := h.get("/me")
	aliceAgain := h.get("/me", "Authorization", "Bearer alice")
	if alice.body != "for Bearer alice" || bob.body != "for Bearer bob" || anon.body != "for " {
		t.Fatalf("one caller's response reached another: %q %q %q", alice.body, bob.body, anon.body)
	}
	if !aliceAgain.cache.Hit || aliceAgain.body != "for Bearer alice" {
		t.Fatalf("alice's own response was not reused: %+v", aliceAgain.cache)
	}
	if err := h.transport.Invalidate(context.Background(), h.origin.URL+"/me"); err != nil {
		t.Fatal(err)
	}
	if h.get("/me", "Authorization", "Bearer bob").cache.Hit {
		t.Error("Invalidate left a credential variant behind")
	}
}

func TestSharedCacheRules(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", r.URL.Query().Get("cc"))
		fmt.Fprint(w, "x")
	}, WithShared(true))
	tests := []struct {
		name       string
		cc         string
		auth       string
		wantStored bool
		wantDetail string
	}{
		{name: "§5.2.2.7 private", cc: "private, max-age=60", wantStored: false, wantDetail: detailPrivate},
		{name: "§3.5 Authorization without permission", cc: "max-age=60", auth: "Bearer x", wantStored: false, wantDetail: detailAuthorization},
		{name: "§3.5 Authorization with public", cc: "public, max-age=60", auth: "Bearer x", wantStored: true, wantDetail: ""},
		{name: "§4.2.1 s-maxage", cc: "s-maxage=60, max-age=0", wantStored: true, wantDetail: ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := fmt.Sprintf("/s%d?cc=%s", i, strings.ReplaceAll(tt.cc, " ", "%20"))
			var pairs []string
			if tt.auth != "" {
				pairs = []string{"Authorization", tt.auth}
			}
			first := h.get(path, pairs...)
			if first.cache.Stored != tt.wantStored || first.cache.Detail != tt.wantDetail {
				t.Fatalf("Cache-Status %q", first.header.Get("Cache-Status"))
			}
			second := h.get(path, pairs...)
			if second.cache.Hit != tt.wantStored {
				t.Errorf("second request hit = %v, want %v", second.cache.Hit, tt.wantStored)
			}
		})
	}
}

func TestOnlyIfCached(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "x")
	})
	miss := h.get("/o", "Cache-Control", "only-if-cached")
	if miss.status != http.StatusGatewayTimeout {
		t.Fatalf("§5.2.1.7: status %d, want 504", miss.status)
	}
	h.wantOriginRequests(0)
	h.get("/o")
	if hit := h.get("/o", "Cache-Control", "only-if-cached"); hit.status != 200 || !hit.cache.Hit {
		t.Fatalf("only-if-cached with a fresh entry: %d %q", hit.status, hit.header.Get("Cache-Status"))
	}
	h.clock.Advance(time.Hour)
	if stale := h.get("/o", "Cache-Control", "only-if-cached"); stale.status != http.StatusGatewayTimeout {
		t.Fatalf("only-if-cached with a stale entry: %d", stale.status)
	}
	if stale := h.get("/o", "Cache-Control", "only-if-cached, max-stale"); stale.status != 200 || !stale.cache.Hit {
		t.Fatalf("only-if-cached, max-stale: %d", stale.status)
	}
	h.wantOriginRequests(1)
}

func TestUnsafeMethodInvalidates(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			w.Header().Set("Location", "/items/1")
			w.WriteHeader(http.StatusCreated)
		case http.MethodDelete:
			w.WriteHeader(http.StatusInternalServerError)
		default:
			w.Header().Set("Cache-Control", "max-age=600")
			fmt.Fprint(w, r.URL.Path)
		}
	})
	h.get("/items")
	h.get("/items/1")
	if del := h.do(http.MethodDelete, "/items"); del.cache.Forward != ForwardMethod {
		t.Fatalf("DELETE Cache-Status %q", del.header.Get("Cache-Status"))
	}
	if !h.get("/items").cache.Hit {
		t.Fatal("§4.4: an error response must not invalidate")
	}
	h.do(http.MethodPost, "/items")
	if h.get("/items").cache.Hit {
		t.Error("§4.4: POST did not invalidate the target URI")
	}
	if h.get("/items/1").cache.Hit {
		t.Error("§4.4: POST did not invalidate its same-origin Location")
	}
}

func TestHeadRequests(t *testing.T) {
	var etag atomic.Value
	etag.Store(`"a"`)
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", etag.Load().(string))
		w.Header().Set("X-Method", r.Method)
		fmt.Fprint(w, "body")
	})
	h.get("/h")
	head := h.do(http.MethodHead, "/h")
	if !head.cache.Hit || head.body != "" || head.header.Get("X-Method") != "GET" {
		t.Fatalf("RFC 9110 §9.3.2: HEAD not answered from the stored GET: %+v", head.cache)
	}
	h.clock.Advance(2 * time.Minute)
	stale := h.do(http.MethodHead, "/h")
	if stale.cache.Hit || stale.header.Get("X-Method") != "HEAD" {
		t.Fatalf("stale HEAD went to origin? %q", stale.header.Get("Cache-Status"))
	}
	if got := h.get("/h"); !got.cache.Hit || got.body != "body" {
		t.Fatalf("§4.3.5: a matching HEAD response should freshen the stored GET; %q", got.header.Get("Cache-Status"))
	}
	etag.Store(`"b"`)
	h.clock.Advance(2 * time.Minute)
	h.do(http.MethodHead, "/h")
	if got := h.get("/h"); got.cache.Hit || got.cache.Forward != ForwardURIMiss {
		t.Fatalf("§4.3.5: a HEAD response with another ETag should invalidate; %q", got.header.Get("Cache-Status"))
	}
}

func TestCallerConditionalRequests(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"e1"`)
		if r.Header.Get("If-None-Match") == `"e1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, "payload")
	})
	h.get("/c")
	tests := []struct {
		name       string
		pairs      []string
		wantStatus int
		wantBody   string
	}{
		{name: "§4.3.2 matching validator answered 304 from the cache", pairs: []string{"If-None-Match", `"e1"`}, wantStatus: 304, wantBody: ""},
		{name: "§4.3.2 other validator answered with the stored 200", pairs: []string{"If-None-Match", `"zz"`}, wantStatus: 200, wantBody: "payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := h.get("/c", tt.pairs...)
			if got.status != tt.wantStatus || got.body != tt.wantBody || !got.cache.Hit {
				t.Errorf("got %d %q %q", got.status, got.body, got.header.Get("Cache-Status"))
			}
			if tt.wantStatus == 304 && got.header.Get("ETag") != `"e1"` {
				t.Errorf("304 without ETag: %v", got.header)
			}
		})
	}
	h.clock.Advance(2 * time.Minute)
	stale := h.get("/c", "If-None-Match", `"e1"`)
	if stale.status != 304 || stale.cache.ForwardStatus != 304 {
		t.Fatalf("stale entry, caller's validator: %d %q", stale.status, stale.header.Get("Cache-Status"))
	}
	h.wantOriginRequests(2)
}

// TestCallerValidatorsOnAMissAreTheOrigins: on a miss, the caller's own
// If-None-Match goes to the origin, and the origin's answer stands: a 200
// whose ETag matches is not turned into a 304 (RFC 9111 §4.3.2: a cache
// "MUST NOT evaluate conditional header fields that ... occur in a request
// with a target resource for which it has no stored responses"), stored or
// not; nor for a stored response without validators, whose request took
// the caller's validators to the origin. Found by an RFC conformance probe.
func TestCallerValidatorsOnAMissAreTheOrigins(t *testing.T) {
	for _, cc := range []string{"no-store", "max-age=60"} {
		t.Run(cc, func(t *testing.T) {
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", cc)
				w.Header().Set("ETag", `"e1"`)
				fmt.Fprint(w, "full") // an origin that ignores conditionals
			})
			if got := h.get("/x", "If-None-Match", `"e1"`); got.status != http.StatusOK || got.body != "full" {
				t.Fatalf("got %d %q (%q), want the origin's 200", got.status, got.body, got.header.Get("Cache-Status"))
			}
		})
	}
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10")
		fmt.Fprint(w, "full")
	})
	h.get("/v")
	h.clock.Advance(time.Minute)
	if got := h.get("/v", "If-Modified-Since", httpDate(h.clock.Now())); got.status != http.StatusOK || got.body != "full" {
		t.Fatalf("a stale response without validators: got %d %q (%q), want the origin's 200", got.status, got.body, got.header.Get("Cache-Status"))
	}
}

// TestOnlyIfCachedOtherMethods: a request of a method the cache stores
// nothing for, with only-if-cached (in the header, under a key of any
// case, or RequestOptions), gets a 504 and is not sent (RFC 9111
// §5.2.1.7); an unsafe one invalidates nothing. Found by an RFC
// conformance probe.
func TestOnlyIfCachedOtherMethods(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "x")
	})
	h.get("/o")
	for _, method := range []string{http.MethodOptions, http.MethodTrace, http.MethodPost, "PURGE"} {
		if got := h.do(method, "/o", "cache-control", "only-if-cached"); got.status != http.StatusGatewayTimeout {
			t.Errorf("%s: status %d (%q), want 504", method, got.status, got.header.Get("Cache-Status"))
		}
		req, _ := http.NewRequestWithContext(RequestContext(context.Background(), RequestOptions{OnlyIfCached: true}), method, h.origin.URL+"/o", nil)
		resp, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusGatewayTimeout {
			t.Errorf("%s with RequestOptions.OnlyIfCached: status %d, want 504", method, resp.StatusCode)
		}
	}
	h.wantOriginRequests(1)
	if got := h.get("/o"); !got.cache.Hit {
		t.Fatalf("a POST that was not sent invalidated the stored response: %q", got.header.Get("Cache-Status"))
	}
}

// TestTruncatedBodiesAreNotStored covers a caller that stops reading (with
// more left than the cache drains on Close) and a connection that breaks
// mid-body: only a body read to the end is stored. A caller alone gets the
// origin's stream with coalescing on or off.
func TestTruncatedBodiesAreNotStored(t *testing.T) {
	big := strings.Repeat("x", 4*DefaultDrainBytes)
	handler := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		if r.URL.Path == "/broken" {
			w.Header().Set("Content-Length", "100000")
			w.WriteHeader(200)
			fmt.Fprint(w, big[:1000])
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		fmt.Fprint(w, big)
	}
	for _, coalescing := range []bool{false, true} {
		h := newHarness(t, handler, WithCoalescing(CoalesceOptions{Disabled: !coalescing}))
		t.Run(fmt.Sprintf("coalescing %v: caller stops early", coalescing), func(t *testing.T) {
			resp, err := h.client.Get(h.origin.URL + "/early")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.CopyN(io.Discard, resp.Body, 100); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := h.get("/early"); got.cache.Hit {
				t.Fatal("a body the caller did not finish was stored")
			}
			if got := h.get("/early"); !got.cache.Hit || got.body != big {
				t.Fatal("a body read to the end was not stored whole")
			}
		})
		t.Run(fmt.Sprintf("coalescing %v: connection breaks mid-body", coalescing), func(t *testing.T) {
			resp, err := h.client.Get(h.origin.URL + "/broken")
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if st, _ := StatusOf(resp); st.Hit {
					t.Fatal("unexpected hit")
				}
			}
			if err == nil {
				t.Fatal("the broken body read without error")
			}
			u := mustParseURL(t, h.origin.URL+"/broken")
			stored, _ := h.transport.cfg.storage.Get(context.Background(), cacheKey(u))
			if len(stored) != 0 {
				t.Fatal("a truncated body was stored")
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	tests := []struct {
		name          string
		contentLength bool
	}{
		{"declared length over the limit", true},
		{"chunked body over the limit", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := strings.Repeat("y", 2048)
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				if tt.contentLength {
					w.Header().Set("Content-Length", "2048")
				}
				io.WriteString(w, body[:1024])
				w.(http.Flusher).Flush()
				io.WriteString(w, body[1024:])
			}, WithMaxBodyBytes(1024))
			first := h.get("/big")
			if first.body != body {
				t.Fatal("body changed while streaming through")
			}
			if tt.contentLength && (first.cache.Stored || first.cache.Detail != detailTooLarge) {
				t.Errorf("Cache-Status %q", first.header.Get("Cache-Status"))
			}
			if second := h.get("/big"); second.cache.Hit {
				t.Error("a body over the limit was stored")
			}
		})
	}
}

var errStorageDown = errors.New("storage down")

// failingStorage returns a store that fails every operation.
func failingStorage() *fakeStorage {
	s := newFakeStorage()
	s.get = func(context.Context, string) ([]*Entry, error) { return nil, errStorageDown }
	s.set = func(context.Context, string, *Entry, time.Duration) error { return errStorageDown }
	s.delete = func(context.Context, string) error { return errStorageDown }
	return s
}

func TestStorageErrorsNeverFailRequests(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store := failingStorage()
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "ok")
	}, WithStorage(store), WithLogger(logger))
	for i := 0; i < 3; i++ {
		if got := h.get("/s"); got.status != 200 || got.body != "ok" {
			t.Fatalf("request %d: %d %q", i, got.status, got.body)
		}
	}
	h.do(http.MethodPost, "/s")
	if store.calls() == 0 {
		t.Fatal("storage was not used")
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "storage down") {
		t.Errorf("storage errors were not logged: %q", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// corruptBody is a stored body that cannot be opened.
type corruptBody struct{}

func (corruptBody) Size() int64                  { return 3 }
func (corruptBody) Open() (io.ReadCloser, error) { return nil, ErrCorruptEntry }

func TestUnreadableStoredBodyGoesToNetwork(t *testing.T) {
	store := NewMemoryStorage(0)
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "net")
	}, WithStorage(store))
	key := cacheKey(mustParseURL(t, h.origin.URL+"/u"))
	store.Set(context.Background(), key, &Entry{StatusCode: 200, Header: header("Cache-Control", "max-age=60", "Date", httpDate(epoch)),
		RequestTime: epoch, ResponseTime: epoch, Body: corruptBody{}}, 0)
	if got := h.get("/u"); got.body != "net" || got.cache.Hit {
		t.Fatalf("got %q %q", got.body, got.header.Get("Cache-Status"))
	}
}

// TestUnreadableBodyAfterRevalidation: a stored body that cannot be opened
// when a 304 has freshened its entry is fetched anew, inside the network
// step that revalidated it. Fetching it through the coalescer instead
// would wait for the step's own flight: a deadlock, with coalescing on (the
// default) and a caller that can or cannot cancel.
func TestUnreadableBodyAfterRevalidation(t *testing.T) {
	for _, cancellable := range []bool{false, true} {
		t.Run(fmt.Sprintf("cancellable=%v", cancellable), func(t *testing.T) {
			store := NewMemoryStorage(0)
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=0")
				w.Header().Set("ETag", `"v1"`)
				if r.Header.Get("If-None-Match") == `"v1"` {
					w.WriteHeader(http.StatusNotModified)
					return
				}
				fmt.Fprint(w, "net")
			}, WithStorage(store))
			key := cacheKey(mustParseURL(t, h.origin.URL+"/u"))
			store.Set(context.Background(), key, &Entry{StatusCode: 200,
				Header:      header("Cache-Control", "max-age=0", "Etag", `"v1"`, "Date", httpDate(epoch)),
				RequestTime: epoch, ResponseTime: epoch, Body: corruptBody{}}, 0)
			ctx := context.Background()
			if cancellable {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				defer cancel()
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.origin.URL+"/u", nil)
			done := make(chan string, 1)
			go func() {
				resp, err := h.transport.RoundTrip(req)
				if err != nil {
					done <- "error: " + err.Error()
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				done <- string(body)
			}()
			select {
			case body := <-done:
				if body != "net" {
					t.Fatalf("got %q, want the body fetched anew", body)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the request never returned: the refetch waits for its own shared request")
			}
			h.wantOriginRequests(2) // the 304, then the full request
		})
	}
}

func TestBypass(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "b")
	})
	tests := []struct {
		name    string
		pairs   []string
		wantFwd string
	}{
		{"§5.2.1.5 request no-store", []string{"Cache-Control", "no-store"}, ForwardBypass},
		// RFC 9211 §2.2: nothing was stored, which is no bypass.
		{"a Range request with nothing stored goes to the origin, unstored", []string{"Range", "bytes=0-1"}, ForwardURIMiss},
		{"several ranges go to the origin", []string{"Range", "bytes=0-1,3-4"}, ForwardBypass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.get("/b", tt.pairs...); got.cache.Forward != tt.wantFwd || got.cache.Stored {
				t.Errorf("Cache-Status %q, want fwd=%s", got.header.Get("Cache-Status"), tt.wantFwd)
			}
		})
	}
	if st := h.transport.Stats().Requests; st.Bypassed != 2 || st.Misses != 1 {
		t.Errorf("Stats: %d bypassed, %d misses; want 2 and the range's 1", st.Bypassed, st.Misses)
	}
	if h.get("/b").cache.Hit {
		t.Error("a bypassed response was stored")
	}
	if got := h.do(http.MethodOptions, "/b"); got.cache.Forward != ForwardMethod {
		t.Errorf("OPTIONS: Cache-Status %q", got.header.Get("Cache-Status"))
	}
}

func TestGetWithBodyBypasses(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.Copy(w, r.Body)
	})
	for _, query := range []string{"first", "second"} {
		req, _ := http.NewRequest(http.MethodGet, h.origin.URL+"/search", strings.NewReader(query))
		resp, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != query {
			t.Fatalf("GET with body %q answered %q", query, body)
		}
	}
}

func TestUpstreamCacheStatusIsKept(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Cache-Status", "cdn; hit")
		fmt.Fprint(w, "x")
	}, WithName("edge"))
	first := h.get("/cs")
	if got := first.header.Get("Cache-Status"); got != "cdn; hit, edge; fwd=uri-miss; fwd-status=200; ttl=60; stored" {
		t.Errorf("RFC 9211 §2: Cache-Status = %q", got)
	}
	if got := h.get("/cs").header.Get("Cache-Status"); got != "cdn; hit, edge; hit; ttl=60" {
		t.Errorf("Cache-Status on a hit = %q", got)
	}
}

func TestNotReusableResponsesAreNotStored(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "x") })
	if got := h.get("/nr"); got.cache.Stored || got.cache.Detail != detailNotReusable {
		t.Errorf("Cache-Status %q", got.header.Get("Cache-Status"))
	}
}

func TestQualifiedNoCacheFieldsWithheldOnHits(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", `max-age=60, no-cache="Set-Cookie"`)
		w.Header().Set("Set-Cookie", "session=1")
		fmt.Fprint(w, "x")
	})
	h.get("/q")
	if got := h.get("/q"); !got.cache.Hit || got.header.Get("Set-Cookie") != "" {
		t.Errorf("§5.2.2.4: hit %v, Set-Cookie %q", got.cache.Hit, got.header.Get("Set-Cookie"))
	}
}

// TestResponsesDoNotShareHeaders: a served header's values are the
// caller's own, whether they fit in the served response's own room for
// values or not (servedResponse): writing one in place, or appending to
// one, changes neither the store nor another caller's response.
func TestResponsesDoNotShareHeaders(t *testing.T) {
	// With the server's own fields, Age and Cache-Status, these fill each
	// size of servedResponse, and one is over the largest.
	for _, fields := range []int{1, 8, 20, 40} {
		t.Run(strconv.Itoa(fields)+" fields", func(t *testing.T) {
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				for i := range fields {
					w.Header().Set("X-"+strconv.Itoa(i), strconv.Itoa(i))
				}
				fmt.Fprint(w, "x")
			})
			h.get("/m")
			first, other := h.get("/m"), h.get("/m")
			for name, values := range first.header {
				for i := range values {
					values[i] = "mutated"
				}
				first.header[name] = append(values, "appended")
			}
			for _, got := range []http.Header{other.header, h.get("/m").header} {
				for i := range fields {
					name := "X-" + strconv.Itoa(i)
					if values := got[name]; len(values) != 1 || values[0] != strconv.Itoa(i) {
						t.Fatalf("a caller's header change reached another's: %s = %q", name, values)
					}
				}
				if got.Get("Cache-Control") != "max-age=60" || !strings.HasPrefix(got.Get("Cache-Status"), "httpcache; hit") {
					t.Fatalf("a caller's header change reached another's: %v", got)
				}
			}
		})
	}
}

func TestInvalidate(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept")
		fmt.Fprint(w, "x")
	})
	h.get("/i", "Accept", "a")
	h.get("/i", "Accept", "b")
	if err := h.transport.Invalidate(context.Background(), h.origin.URL+"/i"); err != nil {
		t.Fatal(err)
	}
	if h.get("/i", "Accept", "a").cache.Hit || h.get("/i", "Accept", "b").cache.Hit {
		t.Error("Invalidate left a variant")
	}
	if err := h.transport.Invalidate(context.Background(), "/relative"); err == nil {
		t.Error("Invalidate accepted a relative URL")
	}
}

func TestBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  Option
		want string
	}{
		{"nil storage", WithStorage(nil), "WithStorage: storage is nil"},
		{"typed nil memory storage", WithStorage((*MemoryStorage)(nil)), "WithStorage: storage is a nil *httpcache.MemoryStorage"},
		{"typed nil disk storage", WithStorage((*DiskStorage)(nil)), "WithStorage: storage is a nil *httpcache.DiskStorage"},
		{"negative close timeout", WithCloseTimeout(-time.Second), "WithCloseTimeout: -1s is not a positive duration"},
		{"nil logger", WithLogger(nil), "WithLogger: logger is nil"},
		{"nil clock", WithClock(nil), "WithClock: clock is nil"},
		{"bad name", WithName("my cache"), `WithName: "my cache" is not a structured-field token`},
		{"name with a digit first", WithName("1cache"), `WithName: "1cache" is not a structured-field token`},
		{"empty name", WithName(""), `WithName: "" is not a structured-field token`},
		{"zero body limit", WithMaxBodyBytes(0), "WithMaxBodyBytes: 0 is not a positive size"},
		{"negative timeout", WithStorageTimeout(-time.Second), "WithStorageTimeout: -1s is not a positive duration"},
		{"heuristic over 1", WithHeuristic(2, time.Hour), "WithHeuristic: fraction 2 is not between 0 and 1"},
		{"nil option", nil, "httpcache: nil Option"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewTransport(tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewTransport error = %v, want %q", err, tt.want)
			}
			defer func() {
				p := recover()
				err, _ := p.(error)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("New panicked with %v, want an error naming %q", p, tt.want)
				}
			}()
			New(tt.opt)
		})
	}
}

func TestDefaultsWork(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "d")
	}))
	defer srv.Close()
	tr := New()
	defer tr.Close()
	defer http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for i, wantHit := range []bool{false, true} {
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if st, _ := StatusOf(resp); st.Hit != wantHit {
			t.Fatalf("request %d: Cache-Status %q", i, resp.Header.Get("Cache-Status"))
		}
	}
}

// TestScriptedUpstream drives the cache with httpmock: a scripted upstream
// whose answers change between calls.
func TestScriptedUpstream(t *testing.T) {
	mock := httpmock.NewMockTransport()
	clock := newTestClock()
	calls := 0
	mock.RegisterResponder(http.MethodGet, "https://api.example.com/v1/users/7", func(req *http.Request) (*http.Response, error) {
		calls++
		if calls == 2 {
			if req.Header.Get("If-None-Match") != `"u7"` {
				t.Errorf("revalidation without If-None-Match: %v", req.Header)
			}
			resp := httpmock.NewStringResponse(http.StatusNotModified, "")
			resp.Header.Set("Date", httpDate(clock.Now()))
			resp.Header.Set("Cache-Control", "max-age=30")
			resp.Header.Set("ETag", `"u7"`)
			return resp, nil
		}
		resp := httpmock.NewStringResponse(http.StatusOK, `{"id":7}`)
		resp.Header.Set("Date", httpDate(clock.Now()))
		resp.Header.Set("Cache-Control", "max-age=30")
		resp.Header.Set("ETag", `"u7"`)
		return resp, nil
	})
	tr, err := NewTransport(WithTransport(mock), WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: tr}
	steps := []struct {
		advance     time.Duration
		wantHit     bool
		wantForward string
		wantFwdCode int
	}{
		{wantHit: false, wantForward: ForwardURIMiss, wantFwdCode: 200},
		{advance: 10 * time.Second, wantHit: true, wantForward: "", wantFwdCode: 0},
		{advance: 30 * time.Second, wantHit: false, wantForward: ForwardStale, wantFwdCode: 304},
		{advance: 10 * time.Second, wantHit: true, wantForward: "", wantFwdCode: 0},
	}
	for i, step := range steps {
		clock.Advance(step.advance)
		resp, err := client.Get("https://api.example.com/v1/users/7")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		st, _ := StatusOf(resp)
		if string(body) != `{"id":7}` || st.Hit != step.wantHit || st.Forward != step.wantForward || st.ForwardStatus != step.wantFwdCode {
			t.Fatalf("step %d: body %q Cache-Status %q", i, body, resp.Header.Get("Cache-Status"))
		}
	}
	if calls != 2 {
		t.Fatalf("upstream called %d times, want 2", calls)
	}
}

func TestUnstorableReplacementRemovesStaleEntry(t *testing.T) {
	var noStore atomic.Bool
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if noStore.Load() {
			w.Header().Set("Cache-Control", "no-store")
		} else {
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Set("ETag", `"old"`)
		}
		fmt.Fprint(w, "x")
	})
	h.get("/rep")
	noStore.Store(true)
	h.clock.Advance(2 * time.Minute)
	if got := h.get("/rep"); got.cache.Stored || got.cache.Detail != detailNoStore {
		t.Fatalf("Cache-Status %q", got.header.Get("Cache-Status"))
	}
	if got := h.get("/rep", "Cache-Control", "only-if-cached, max-stale"); got.status != http.StatusGatewayTimeout {
		t.Fatalf("§4.3.3: the outdated entry was kept and served (%d)", got.status)
	}
}

func TestUpstreamWithNilBody(t *testing.T) {
	upstream := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{"Cache-Control": {"max-age=60"}}, Request: req}, nil
	})
	tr := New(WithTransport(upstream))
	req, _ := http.NewRequest(http.MethodGet, "http://example.com/nil", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestDebugLogsDescribeDecisions(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "x")
	}, WithLogger(logger))
	h.get("/log")
	h.get("/log")
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"httpcache: fetch", "fwd=uri-miss", "stored=true", "httpcache: serve stored", "hit=true"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("debug logs lack %q:\n%s", want, logs.String())
		}
	}
}

func TestCallerValidatorsOnStaleEntryWithoutValidators(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		if r.Header.Get("If-None-Match") == `"client"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, "x")
	})
	h.get("/nv")
	h.clock.Advance(2 * time.Minute)
	got := h.get("/nv", "If-None-Match", `"client"`)
	if got.status != http.StatusNotModified {
		t.Fatalf("the caller's own validator was not sent to the origin: %d %q", got.status, got.header.Get("Cache-Status"))
	}
	if kept := h.get("/nv", "Cache-Control", "only-if-cached, max-stale"); kept.status != 200 {
		t.Fatal("a 304 answering the caller's validators removed the stored response")
	}
}

func TestNotModifiedForAnotherRepresentation(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		if r.Header.Get("If-None-Match") != "" {
			// A broken or changed origin: a 304 for another representation.
			w.Header().Set("ETag", `"b"`)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if h := r.Header.Get("X-Version"); h == "2" {
			w.Header().Set("ETag", `"b"`)
			fmt.Fprint(w, "v2")
			return
		}
		w.Header().Set("ETag", `"a"`)
		fmt.Fprint(w, "v1")
	})
	h.get("/m304")
	h.clock.Advance(2 * time.Minute)
	got := h.get("/m304", "X-Version", "2")
	if got.body != "v2" || got.status != 200 {
		t.Fatalf("§4.3.4: a 304 whose ETag is not the stored one freshened it: %d %q", got.status, got.body)
	}
	h.wantOriginRequests(3)
}

func TestStoredOnlyWhenBodyMatchesItsLength(t *testing.T) {
	tests := []struct {
		name          string
		body          string
		contentLength int64
		read          func(io.Reader) error
		wantStored    bool
	}{
		{name: "exactly Content-Length bytes read, closed before EOF", body: "0123456789", contentLength: 10,
			read: func(r io.Reader) error { _, err := io.ReadFull(r, make([]byte, 10)); return err }, wantStored: true},
		{name: "fewer bytes than Content-Length, then EOF", body: "01234", contentLength: 10,
			read: func(r io.Reader) error { _, err := io.ReadAll(r); return err }, wantStored: false},
		{name: "unknown length read to EOF", body: "0123456789", contentLength: -1,
			read: func(r io.Reader) error { _, err := io.ReadAll(r); return err }, wantStored: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			upstream := roundTripFunc(func(req *http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: 200, Header: http.Header{"Cache-Control": {"max-age=60"}},
					Body: io.NopCloser(strings.NewReader(tt.body)), ContentLength: tt.contentLength, Request: req}, nil
			})
			tr := New(WithTransport(upstream))
			req, _ := http.NewRequest(http.MethodGet, "http://example.com/len", nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.read(resp.Body); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			resp, err = tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if st, _ := StatusOf(resp); st.Hit != tt.wantStored {
				t.Errorf("stored = %v, want %v", st.Hit, tt.wantStored)
			}
		})
	}
}

func TestWithHeuristic(t *testing.T) {
	tests := []struct {
		name    string
		opts    []Option
		wantHit bool
	}{
		{"§4.2.2 default: 10% of the time since Last-Modified", nil, true},
		{"fraction zero turns the heuristic off", []Option{WithHeuristic(0, time.Hour)}, false},
		{"a zero cap turns it off too", []Option{WithHeuristic(0.5, 0)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h *harness
			h = newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Last-Modified", httpDate(h.clock.Now().Add(-100*time.Hour)))
				fmt.Fprint(w, "x")
			}, tt.opts...)
			h.get("/heur")
			h.clock.Advance(time.Minute)
			if got := h.get("/heur"); got.cache.Hit != tt.wantHit {
				t.Errorf("hit = %v, want %v (%q)", got.cache.Hit, tt.wantHit, got.header.Get("Cache-Status"))
			}
		})
	}
}

// hangingStorage returns a store that blocks every call until its context
// ends.
func hangingStorage() *fakeStorage {
	s := newFakeStorage()
	s.get = func(ctx context.Context, _ string) ([]*Entry, error) { <-ctx.Done(); return nil, ctx.Err() }
	s.set = func(ctx context.Context, _ string, _ *Entry, _ time.Duration) error { <-ctx.Done(); return ctx.Err() }
	s.delete = func(ctx context.Context, _ string) error { <-ctx.Done(); return ctx.Err() }
	return s
}

func TestStorageTimeoutBoundsAHangingStore(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "ok")
	}, WithStorage(hangingStorage()), WithStorageTimeout(20*time.Millisecond))
	done := make(chan string, 1)
	go func() {
		resp, err := h.client.Get(h.origin.URL + "/hang")
		if err != nil {
			done <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- string(body)
	}()
	select {
	case got := <-done:
		if got != "ok" {
			t.Fatalf("got %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a hanging store held the request past its storage timeout")
	}
}

// TestStorageErrorsAreNotFlooded: a store that fails every call is
// reported once a second per operation, with a count of the rest.
func TestStorageErrorsAreNotFlooded(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "ok")
	}, WithStorage(failingStorage()), WithLogger(logger))
	for i := 0; i < 200; i++ {
		if got := h.get(fmt.Sprintf("/%d", i)); got.body != "ok" {
			t.Fatalf("request %d: %q", i, got.body)
		}
	}
	h.transport.Close() // the writes are done
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(logs.String(), "level=WARN"); n == 0 || n > 4 {
		t.Fatalf("%d warnings for 400 failed storage calls, want one or two per operation:\n%s", n, logs.String())
	}
}

// TestNilTransportMeansDefault: WithTransport(nil) means
// http.DefaultTransport, as an http.Client's nil Transport does, so that
// wrapping a client's transport works when it has none.
func TestNilTransportMeansDefault(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer srv.Close()
	client := &http.Client{}
	client.Transport = New(WithTransport(client.Transport))
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" {
		t.Fatalf("got %q", body)
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

// TestNoPanicOnOddRequests: requests net/http accepts or rejects, a zero
// Transport and a nil one give a clear error or a response, never a panic.
func TestNoPanicOnOddRequests(t *testing.T) {
	tr := New(WithTransport(roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{"Cache-Control": {"max-age=60"}}, Body: http.NoBody, Request: req}, nil
	})))
	if _, err := tr.RoundTrip(&http.Request{Method: http.MethodGet}); err == nil {
		t.Error("a request without a URL got no error")
	}
	if _, err := tr.RoundTrip(nil); err == nil {
		t.Error("a nil request got no error")
	}
	for _, method := range []string{"", "get", "PROPFIND", "M-SEARCH", strings.Repeat("X", 1000)} {
		req, _ := http.NewRequest(http.MethodGet, "http://example.com/a", nil)
		req.Method = method
		if resp, err := tr.RoundTrip(req); err != nil || resp == nil {
			t.Errorf("method %q: %v", method, err)
		}
	}
	huge, _ := http.NewRequest(http.MethodGet, "http://example.com/"+strings.Repeat("a/", 50000), nil)
	if _, err := tr.RoundTrip(huge); err != nil {
		t.Errorf("a 100 KB URL: %v", err)
	}
	var zero Transport
	req, _ := http.NewRequest(http.MethodGet, "http://example.com/", nil)
	if _, err := zero.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "not made by New") {
		t.Errorf("a zero Transport: %v", err)
	}
	if err := zero.Invalidate(context.Background(), "http://example.com/"); err == nil {
		t.Error("a zero Transport's Invalidate gave no error")
	}
	zero.Close()
	var nilTransport *Transport
	if _, err := nilTransport.RoundTrip(req); err == nil {
		t.Error("a nil *Transport gave no error")
	}
	nilTransport.Close()
}

// TestEmptyMethodIsGET: net/http sends an empty method as GET; so the cache
// treats it: cached, and never an invalidation.
func TestEmptyMethodIsGET(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, r.Method)
	})
	h.get("/a")
	req, _ := http.NewRequest(http.MethodGet, h.origin.URL+"/a", nil)
	req.Method = ""
	resp, err := h.transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if status, _ := StatusOf(resp); !status.Hit {
		t.Fatalf("an empty method: %+v", status)
	}
	if got := h.get("/a"); !got.cache.Hit {
		t.Fatal("an empty method invalidated the stored GET")
	}
}

// TestResponsesWithoutDateAreDatedOnArrival: RFC 9110 §6.6.1, a recipient
// with a clock gives a response it caches or forwards without Date the
// time it arrived. A stored response served later has that Date, and a
// 304 without Date freshens the stored response from its arrival: before,
// it kept the older Date, and the response it had just validated was
// stale at once, sending every request after it to the origin.
func TestResponsesWithoutDateAreDatedOnArrival(t *testing.T) {
	t.Run("stored", func(t *testing.T) {
		h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Date"] = nil
			w.Header().Set("Cache-Control", "max-age=600")
			w.Write([]byte("x"))
		})
		arrived := h.clock.Now()
		first := h.get("/")
		h.clock.Advance(10 * time.Second)
		hit := h.get("/")
		for _, r := range []result{first, hit} {
			if got := parseHTTPDate(r.header.Get("Date")); !got.Equal(arrived.Truncate(time.Second)) {
				t.Fatalf("Date %q, want %v (when it arrived)", r.header.Get("Date"), arrived)
			}
		}
		if !hit.cache.Hit || hit.header.Get("Age") != "10" {
			t.Fatalf("the hit: %+v, Age %q", hit.cache, hit.header.Get("Age"))
		}
	})
	t.Run("304", func(t *testing.T) {
		h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Set("ETag", `"a"`)
			if r.Header.Get("If-None-Match") == `"a"` {
				w.Header()["Date"] = nil
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Write([]byte("x"))
		})
		h.get("/")
		h.clock.Advance(120 * time.Second)
		if r := h.get("/"); r.cache.ForwardStatus != http.StatusNotModified {
			t.Fatalf("not revalidated: %+v", r.cache)
		}
		h.clock.Advance(time.Second)
		r := h.get("/")
		if !r.cache.Hit || r.header.Get("Age") != "1" {
			t.Fatalf("validated a second ago (max-age=60): %+v, Age %q", r.cache, r.header.Get("Age"))
		}
		h.wantOriginRequests(2)
	})
}
