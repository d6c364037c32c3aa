package httpcache

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCompileRulesRejectsBadRules(t *testing.T) {
	tests := []struct {
		name  string
		rules []Rule
		want  string
	}{
		{"query in pattern", []Rule{{Pattern: "api.example.com/v1?x=1", TTL: time.Second}},
			`rule 0 ("api.example.com/v1?x=1"): a pattern is a host and a path`},
		{"scheme in pattern", []Rule{{Pattern: "https://api.example.com/v1", TTL: time.Second}},
			`rule 0 ("https://api.example.com/v1"): a pattern has no scheme`},
		{"no host", []Rule{{Pattern: "/v1/*", TTL: time.Second}}, `rule 0 ("/v1/*"): the pattern has no host`},
		{"method not cached", []Rule{{Pattern: "a.example", Methods: []string{"POST"}, TTL: time.Second}},
			`method "POST": the cache handles only GET and HEAD`},
		{"bad status", []Rule{{Pattern: "a.example", Statuses: []int{99}}}, "status 99 is not an HTTP status code"},
		{"bad cacheable status", []Rule{{Pattern: "a.example", CacheableStatuses: []int{600}}}, "status 600 is not an HTTP status code"},
		{"negative TTL", []Rule{{Pattern: "a.example", TTL: -time.Second}}, "durations must not be negative"},
		{"negative window", []Rule{{Pattern: "a.example", StaleIfError: -time.Second}}, "durations must not be negative"},
		{"override without TTL", []Rule{{Pattern: "a.example", Override: true}}, "an Override rule needs a TTL"},
		{"bypass with TTL", []Rule{{Pattern: "a.example", Bypass: true, TTL: time.Second}}, "a Bypass rule stores nothing"},
		{"rule after catch-all", []Rule{{TTL: time.Second}, {Pattern: "a.example", TTL: time.Minute}},
			`rule 1 ("a.example"): never used: rule 0 before it matches every request`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewTransport(WithRules(tt.rules...))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "httpcache: WithRules: ") {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestRuleMatching(t *testing.T) {
	rules := []Rule{
		{Pattern: "api.example.com/v1/users/*", TTL: 1 * time.Second},
		{Pattern: "api.example.com/v1/items", Methods: []string{http.MethodHead}, TTL: 2 * time.Second},
		{Pattern: "*.example.com/v2/*/detail", TTL: 3 * time.Second},
		{Pattern: "localhost:8080/*", TTL: 4 * time.Second},
		{Pattern: "api.example.com", Statuses: []int{404}, TTL: 5 * time.Second},
		{Pattern: "API.example.com/*", TTL: 6 * time.Second},
		{Pattern: "*", TTL: 7 * time.Second},
	}
	set, err := compileRules(rules)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		method string
		url    string
		status int
		want   time.Duration // the TTL of the rule that matches
	}{
		{name: "path glob matches below the prefix", method: "GET", url: "https://api.example.com/v1/users/42", status: 200, want: 1 * time.Second},
		{name: "star crosses slashes", method: "GET", url: "https://api.example.com/v1/users/42/posts", status: 200, want: 1 * time.Second},
		{name: "query is not matched", method: "GET", url: "https://api.example.com/v1/users/42?x=1", status: 200, want: 1 * time.Second},
		{name: "prefix itself without slash does not match users/*", method: "GET", url: "https://api.example.com/v1/users", status: 200, want: 6 * time.Second},
		{name: "method filter", method: "GET", url: "https://api.example.com/v1/items", status: 200, want: 6 * time.Second},
		{name: "method filter matches", method: "HEAD", url: "https://api.example.com/v1/items", status: 200, want: 2 * time.Second},
		{name: "host glob and inner star", method: "GET", url: "https://eu.example.com/v2/7/detail", status: 200, want: 3 * time.Second},
		{name: "inner star needs the suffix", method: "GET", url: "https://eu.example.com/v2/7/summary", status: 200, want: 7 * time.Second},
		{name: "pattern with port", method: "GET", url: "http://localhost:8080/x", status: 200, want: 4 * time.Second},
		{name: "pattern with port needs it", method: "GET", url: "http://localhost:9090/x", status: 200, want: 7 * time.Second},
		{name: "status filter", method: "GET", url: "https://api.example.com/anything", status: 404, want: 5 * time.Second},
		{name: "host case and port ignored", method: "GET", url: "https://API.Example.COM:443/other", status: 200, want: 6 * time.Second},
		{name: "catch-all", method: "GET", url: "https://other.org/", status: 200, want: 7 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			r := set.match(tt.method, u.Host, u.Path, tt.status)
			if r == nil || r.TTL != tt.want {
				t.Fatalf("matched %+v, want the rule with TTL %v", r, tt.want)
			}
		})
	}
}

func TestRuleBypassesBeforeTheResponse(t *testing.T) {
	set, err := compileRules([]Rule{
		{Pattern: "a.example/errors", Statuses: []int{500}, Bypass: true},
		{Pattern: "a.example/live/*", Bypass: true},
		{Pattern: "a.example/*", TTL: time.Minute},
	})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{"/live/feed": true, "/errors": false, "/data": false} {
		if got := set.bypasses(http.MethodGet, "a.example", path); got != want {
			t.Errorf("bypasses(%s) = %v, want %v", path, got, want)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"*", "", true},
		{"*", "anything/at/all", true},
		{"/v1/*", "/v1/", true},
		{"/v1/*", "/v1", false},
		{"/a*b*c", "/aXXbYYc", true},
		{"/a*b*c", "/aXXbYYcZ", false},
		{"/a*b", "/abab", true},
		{"**", "x", true},
		{"a", "b", false},
		{"*.example.com", "api.example.com", true},
		{"*.example.com", "example.com", false},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// TestRuleFacts holds how a rule amends what a response says.
func TestRuleFacts(t *testing.T) {
	minute := time.Minute
	tests := []struct {
		name          string
		shared        bool
		rule          Rule
		header        http.Header
		status        int
		wantStorable  bool
		wantDetail    string
		wantLifetime  time.Duration
		wantSWR       time.Duration
		wantSIE       time.Duration
		wantRevalStal bool // must revalidate when stale
	}{
		{name: "TTL fills a response without freshness", rule: Rule{TTL: minute, StaleIfError: time.Hour},
			header: header(), status: 200, wantStorable: true, wantLifetime: minute, wantSIE: time.Hour},
		{name: "explicit max-age wins over TTL", rule: Rule{TTL: minute},
			header: header("Cache-Control", "max-age=5"), status: 200, wantStorable: true, wantLifetime: 5 * time.Second},
		{name: "Expires wins over TTL", rule: Rule{TTL: minute},
			header: header("Date", httpDate(epoch), "Expires", httpDate(epoch.Add(9*time.Second))), status: 200,
			wantStorable: true, wantLifetime: 9 * time.Second},
		{name: "response's own windows win", rule: Rule{TTL: minute, StaleWhileRevalidate: time.Hour, StaleIfError: time.Hour},
			header: header("Cache-Control", "stale-while-revalidate=7, stale-if-error=8"), status: 200, wantStorable: true,
			wantLifetime: minute, wantSWR: 7 * time.Second, wantSIE: 8 * time.Second},
		{name: "without Override no-store still prevails", rule: Rule{TTL: minute},
			header: header("Cache-Control", "no-store"), status: 200, wantDetail: detailNoStore},
		{name: "Override replaces no-cache, no-store and max-age", rule: Rule{TTL: minute, Override: true, StaleWhileRevalidate: 30 * time.Second},
			header: header("Cache-Control", "no-cache, no-store, must-revalidate, max-age=0, stale-if-error=99"), status: 200,
			wantStorable: true, wantLifetime: minute, wantSWR: 30 * time.Second},
		{name: "Override ignores Expires", rule: Rule{TTL: minute, Override: true},
			header: header("Expires", "0"), status: 200, wantStorable: true, wantLifetime: minute},
		{name: "Override keeps private out of a shared cache", shared: true, rule: Rule{TTL: minute, Override: true},
			header: header("Cache-Control", "private"), status: 200, wantDetail: detailPrivate},
		{name: "private is fine in a private cache", rule: Rule{TTL: minute, Override: true},
			header: header("Cache-Control", "private"), status: 200, wantStorable: true, wantLifetime: minute},
		{name: "5xx not stored by default", rule: Rule{TTL: minute},
			header: header("Cache-Control", "max-age=60"), status: 503, wantDetail: detailStatus},
		{name: "429 not stored by default", rule: Rule{TTL: minute}, header: header(), status: 429, wantDetail: detailStatus},
		{name: "501 not stored by default", rule: Rule{TTL: minute}, header: header(), status: 501, wantDetail: detailStatus},
		{name: "404 stored by default", rule: Rule{TTL: minute}, header: header(), status: 404, wantStorable: true, wantLifetime: minute},
		{name: "CacheableStatuses admits 429", rule: Rule{TTL: minute, CacheableStatuses: []int{200, 429}},
			header: header(), status: 429, wantStorable: true, wantLifetime: minute},
		{name: "CacheableStatuses limits", rule: Rule{TTL: minute, CacheableStatuses: []int{200}},
			header: header(), status: 404, wantDetail: detailStatus},
		{name: "Bypass with statuses stores nothing", rule: Rule{Statuses: []int{200}, Bypass: true},
			header: header("Cache-Control", "max-age=60"), status: 200, wantDetail: detailRule},
		{name: "windows alone keep heuristics", rule: Rule{StaleIfError: minute},
			header: header("Date", httpDate(epoch), "Last-Modified", httpDate(epoch.Add(-100*time.Second))), status: 200,
			wantStorable: true, wantLifetime: 10 * time.Second, wantSIE: minute},
		{name: "shared: s-maxage is explicit freshness", shared: true, rule: Rule{TTL: minute},
			header: header("Cache-Control", "s-maxage=3"), status: 200, wantStorable: true, wantLifetime: 3 * time.Second, wantRevalStal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rule, err := compileRule(0, tt.rule)
			if err != nil {
				t.Fatal(err)
			}
			p := testPolicy
			p.shared = tt.shared
			e := &Entry{StatusCode: tt.status, Header: tt.header, RequestTime: epoch, ResponseTime: epoch}
			f := (&policy{shared: tt.shared}).withRule(e.responseFacts(), rule)
			req, _ := http.NewRequest(http.MethodGet, "https://a.example/", nil)
			ok, detail := p.storable(req.Method, &cacheRequest{}, tt.status, f)
			if ok != tt.wantStorable || detail != tt.wantDetail {
				t.Fatalf("storable = %v %q, want %v %q", ok, detail, tt.wantStorable, tt.wantDetail)
			}
			if !ok {
				return
			}
			if got := p.freshnessLifetime(e, f); got != tt.wantLifetime {
				t.Errorf("lifetime = %v, want %v", got, tt.wantLifetime)
			}
			if f.staleWhileRevalidate != tt.wantSWR || f.staleIfError != tt.wantSIE {
				t.Errorf("windows = %v, %v; want %v, %v", f.staleWhileRevalidate, f.staleIfError, tt.wantSWR, tt.wantSIE)
			}
			if got := p.mustRevalidateWhenStale(f); got != tt.wantRevalStal {
				t.Errorf("mustRevalidateWhenStale = %v", got)
			}
		})
	}
}

// FuzzCompileRule feeds patterns to the rule compiler and matcher: they
// either fail with an error or match without panicking.
func FuzzCompileRule(f *testing.F) {
	for _, seed := range []string{"", "*", "api.example.com/v1/*", "*.x/**/a*b", "h:80/p", "/x", "a?b", "ü.example/ü*"} {
		f.Add(seed, "https://api.example.com/v1/users/1")
	}
	f.Fuzz(func(t *testing.T, pattern, rawURL string) {
		r, err := compileRule(0, Rule{Pattern: pattern, TTL: time.Second})
		if err != nil {
			return
		}
		u, err := url.Parse(rawURL)
		if err != nil {
			return
		}
		matched := r.matches(http.MethodGet, u.Host, u.Path, 200)
		if r.catchAll() && !matched {
			t.Fatalf("catch-all %q did not match %q", pattern, rawURL)
		}
	})
}

func TestRulesEndToEnd(t *testing.T) {
	var status atomic.Int64
	status.Store(200)
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/nocache/"):
			w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
		case strings.HasPrefix(r.URL.Path, "/explicit/"):
			w.Header().Set("Cache-Control", "max-age=5")
		}
		w.WriteHeader(int(status.Load()))
		fmt.Fprint(w, r.URL.Path)
	}, WithRules(
		Rule{Pattern: "127.0.0.1/live/*", Bypass: true},
		Rule{Pattern: "127.0.0.1/nocache/*", TTL: 30 * time.Second, Override: true},
		Rule{Pattern: "127.0.0.1/*", TTL: time.Minute},
	))
	tests := []struct {
		name       string
		path       string
		status     int
		advance    time.Duration
		wantHit    bool
		wantFwd    string
		wantDetail string
	}{
		{name: "TTL fills the gap: miss", path: "/plain/1", wantFwd: ForwardURIMiss},
		{name: "TTL fills the gap: hit", path: "/plain/1", advance: 59 * time.Second, wantHit: true},
		{name: "TTL fills the gap: stale after it", path: "/plain/1", advance: 2 * time.Second, wantFwd: ForwardStale},
		{name: "explicit freshness wins: miss", path: "/explicit/1", wantFwd: ForwardURIMiss},
		{name: "explicit freshness wins: stale after 6s", path: "/explicit/1", advance: 6 * time.Second, wantFwd: ForwardStale},
		{name: "Override stores a no-store response", path: "/nocache/1", wantFwd: ForwardURIMiss},
		{name: "Override serves it for its TTL", path: "/nocache/1", advance: 29 * time.Second, wantHit: true},
		{name: "Bypass rule", path: "/live/1", wantFwd: ForwardBypass},
		{name: "Bypass rule again", path: "/live/1", wantFwd: ForwardBypass},
		{name: "503 not stored under a rule", path: "/down/1", status: 503, wantFwd: ForwardURIMiss, wantDetail: detailStatus},
		{name: "503 not stored: no hit", path: "/down/1", status: 503, wantFwd: ForwardURIMiss, wantDetail: detailStatus},
		{name: "404 stored under a rule", path: "/gone/1", status: 404, wantFwd: ForwardURIMiss},
		{name: "404 hit", path: "/gone/1", status: 404, wantHit: true},
	}
	for _, tt := range tests {
		h.clock.Advance(tt.advance)
		if tt.status == 0 {
			tt.status = 200
		}
		status.Store(int64(tt.status))
		r := h.get(tt.path)
		if r.cache.Hit != tt.wantHit || r.cache.Forward != tt.wantFwd || r.cache.Detail != tt.wantDetail || r.body != tt.path {
			t.Errorf("%s: got %q, Cache-Status %q", tt.name, r.body, r.header.Get("Cache-Status"))
		}
	}
}

func TestRequestOptions(t *testing.T) {
	var version atomic.Int64
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		fmt.Fprintf(w, "v%d", version.Add(1))
	})
	do := func(opts RequestOptions) result {
		t.Helper()
		req, err := http.NewRequestWithContext(RequestContext(context.Background(), opts), http.MethodGet, h.origin.URL+"/a", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		st, _ := StatusOf(resp)
		return result{status: resp.StatusCode, body: string(body), cache: st}
	}
	// A TTL for this call overrides the origin's no-cache: stored, then a hit.
	if r := do(RequestOptions{TTL: time.Minute}); r.body != "v1" || !r.cache.Stored {
		t.Fatalf("TTL, first call: %q %+v", r.body, r.cache)
	}
	h.clock.Advance(30 * time.Second)
	if r := do(RequestOptions{TTL: time.Minute}); r.body != "v1" || !r.cache.Hit {
		t.Fatalf("TTL, second call: %q %+v", r.body, r.cache)
	}
	// A shorter TTL finds the stored response too old.
	if r := do(RequestOptions{TTL: 10 * time.Second}); r.body != "v2" || r.cache.Hit {
		t.Fatalf("shorter TTL: %q %+v", r.body, r.cache)
	}
	// Refresh goes to the origin, and stores the answer.
	if r := do(RequestOptions{Refresh: true, TTL: time.Minute}); r.body != "v3" || r.cache.Forward != ForwardRequest || !r.cache.Stored {
		t.Fatalf("Refresh: %q %+v", r.body, r.cache)
	}
	if r := do(RequestOptions{TTL: time.Minute}); r.body != "v3" || !r.cache.Hit {
		t.Fatalf("after Refresh: %q %+v", r.body, r.cache)
	}
	// Bypass neither reads nor stores.
	if r := do(RequestOptions{Bypass: true}); r.body != "v4" || r.cache.Forward != ForwardBypass || r.cache.Stored {
		t.Fatalf("Bypass: %q %+v", r.body, r.cache)
	}
	if r := do(RequestOptions{TTL: time.Minute}); r.body != "v3" || !r.cache.Hit {
		t.Fatalf("after Bypass the stored response is unchanged: %q %+v", r.body, r.cache)
	}
	// Without options the origin's no-cache holds again.
	if r := do(RequestOptions{}); r.body != "v5" || r.cache.Hit {
		t.Fatalf("no options: %q %+v", r.body, r.cache)
	}
	// A negative TTL is an error, not a silent no-op.
	req, _ := http.NewRequestWithContext(RequestContext(context.Background(), RequestOptions{TTL: -time.Second}), http.MethodGet, h.origin.URL+"/a", nil)
	if _, err := h.transport.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "TTL must not be negative") {
		t.Fatalf("negative TTL: error %v", err)
	}
}

// TestRuledFactsAreKept: a hit under a rule, configured or per-request,
// amends the entry's facts once, not on every hit.
func TestRuledFactsAreKept(t *testing.T) {
	tr, err := NewTransport(WithRules(Rule{Pattern: "a.example", TTL: time.Minute}))
	if err != nil {
		t.Fatal(err)
	}
	configured := tr.cfg.rules[0]
	e := storedAt(header())
	if first, again := tr.factsWithRule(e, configured), tr.factsWithRule(e, configured); first != again {
		t.Error("a configured rule's facts were amended again")
	}
	perRequest := func() *compiledRule { return RequestOptions{TTL: time.Minute}.rule() }
	if first, again := tr.factsWithRule(e, perRequest()), tr.factsWithRule(e, perRequest()); first != again {
		t.Error("a per-request TTL's facts were amended again for the same TTL")
	}
	if a, b := tr.factsWithRule(e, perRequest()), tr.factsWithRule(e, RequestOptions{TTL: time.Hour}.rule()); a == b || b.lifetimeOverride != time.Hour {
		t.Error("another per-request TTL reused the facts of the first")
	}
}

// TestOfflineRequestOptions: OnlyIfCached answers from storage only (any
// age a stale response may answer; else 504, and no origin request), and
// MaxStale accepts a stale response up to its bound.
func TestOfflineRequestOptions(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=1")
		fmt.Fprint(w, "page")
	})
	with := func(opts RequestOptions, path string) result {
		req, _ := http.NewRequestWithContext(RequestContext(context.Background(), opts), http.MethodGet, h.origin.URL+path, nil)
		resp, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		status, _ := StatusOf(resp)
		return result{status: resp.StatusCode, body: string(body), cache: status}
	}
	h.get("/p")
	h.clock.Advance(time.Hour)
	if got := with(RequestOptions{OnlyIfCached: true}, "/p"); got.status != 200 || !got.cache.Hit {
		t.Fatalf("offline, a stale stored response: %d %+v", got.status, got.cache)
	}
	if got := with(RequestOptions{OnlyIfCached: true}, "/none"); got.status != http.StatusGatewayTimeout {
		t.Fatalf("offline, nothing stored: %d", got.status)
	}
	h.wantOriginRequests(1)
	if got := with(RequestOptions{MaxStale: 2 * time.Hour}, "/p"); !got.cache.Hit {
		t.Fatalf("MaxStale 2h on a response stale for 1h: %+v", got.cache)
	}
	if got := with(RequestOptions{MaxStale: time.Minute}, "/p"); got.cache.Hit {
		t.Fatalf("MaxStale 1m on a response stale for 1h: %+v", got.cache)
	}
	req, _ := http.NewRequestWithContext(RequestContext(context.Background(), RequestOptions{MaxStale: -1}), http.MethodGet, h.origin.URL+"/p", nil)
	if _, err := h.transport.RoundTrip(req); err == nil {
		t.Fatal("a negative MaxStale was accepted")
	}
}
