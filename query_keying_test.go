package httpcache

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

// queryHarness serves each query back, and records the queries the origin
// received.
func queryHarness(t *testing.T, opts ...Option) (*harness, func() []string) {
	var mu sync.Mutex
	var seen []string
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.RawQuery)
		mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "query "+r.URL.RawQuery)
	}, append([]Option{WithSynchronousWrites(true)}, opts...)...)
	return h, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

func TestQueryKeying(t *testing.T) {
	type step struct {
		path string
		hit  bool
	}
	tests := []struct {
		name  string
		opts  []Option
		steps []step
	}{
		{"exact by default", nil, []step{
			{"/p?a=1&b=2", false}, {"/p?b=2&a=1", false}, {"/p?a=1&b=2", true}, {"/p?a=1&b=2&_=3", false},
		}},
		{"ignored parameters", []Option{WithIgnoredQueryParams("utm_*", "_")}, []step{
			{"/p?x=1&utm_source=a", false}, {"/p?utm_medium=b&x=1&_=99", true}, {"/p?x=2", false},
			{"/p?utm%5Fsource=c&x=1", true},    // matched by its unescaped name
			{"/p?X=1", false},                  // names keep their case
			{"/p?x=1&utm_source=y;x=2", false}, // a part with ';' may hide a parameter: kept
		}},
		{"all parameters ignored", []Option{WithIgnoredQueryParams("_")}, []step{
			{"/p?_=1", false}, {"/p?_=2", true}, {"/p", true}, {"/p?_=1&_=2", true},
		}},
		{"sorted", []Option{WithSortedQuery(true)}, []step{
			{"/s?a=1&b=2", false}, {"/s?b=2&a=1", true},
			{"/s?a=1&a=2", false}, {"/s?a=2&a=1", false}, {"/s?a=1&a=2", true}, // same names keep their order
			{"/s?%61=2&a=1", false}, {"/s?a=1&%61=2", false}, // however escaped
		}},
		{"rule", []Option{WithRules(Rule{Pattern: "*/v1/*", IgnoredQueryParams: []string{"cb"}})}, []step{
			{"/v1/x?cb=1&q=a", false}, {"/v1/x?q=a&cb=2", true}, {"/v2/x?cb=1", false}, {"/v2/x?cb=2", false},
		}},
		{"rule adds to the Transport's", []Option{WithIgnoredQueryParams("_"), WithRules(Rule{Pattern: "*/v1/*", IgnoredQueryParams: []string{"cb"}})}, []step{
			{"/v1/x?cb=1&_=1", false}, {"/v1/x?cb=2&_=2", true}, {"/v2/x?_=1", false}, {"/v2/x?_=2", true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, seen := queryHarness(t, tt.opts...)
			for i, s := range tt.steps {
				got := h.get(s.path)
				if got.cache.Hit != s.hit {
					t.Fatalf("step %d %s: hit %v, want %v (%+v)", i, s.path, got.cache.Hit, s.hit, got.cache)
				}
			}
			// The origin always receives the query as sent.
			var sent []string
			for _, s := range tt.steps {
				if !s.hit {
					_, query, _ := strings.Cut(s.path, "?")
					sent = append(sent, query)
				}
			}
			if got := seen(); !slices.Equal(got, sent) {
				t.Fatalf("origin received %q, want %q", got, sent)
			}
		})
	}
}

// Invalidation normalises URLs as keys do: an unsafe request (RFC 9111
// §4.4) and Transport.Invalidate reach the entry whatever the ignored
// parameters and the order.
func TestQueryKeyingInvalidation(t *testing.T) {
	h, _ := queryHarness(t, WithIgnoredQueryParams("utm_*"), WithSortedQuery(true))
	h.get("/p?b=2&a=1&utm_x=1")
	if !h.get("/p?a=1&b=2").cache.Hit {
		t.Fatal("not stored")
	}
	h.do(http.MethodPost, "/p?utm_y=2&b=2&a=1")
	if h.get("/p?a=1&b=2").cache.Hit {
		t.Fatal("a POST to the same resource did not invalidate it")
	}
	if err := h.transport.Invalidate(context.Background(), h.origin.URL+"/p?b=2&utm_z=3&a=1"); err != nil {
		t.Fatal(err)
	}
	if h.get("/p?a=1&b=2").cache.Hit {
		t.Fatal("Invalidate did not remove the entry")
	}
}

// Parameters that authorize requests cannot be left out of keys: a
// request with a wrong or expired one would be answered from the cache.
func TestQueryKeyingRefusesAuthorizingParams(t *testing.T) {
	for name, opts := range map[string][]Option{
		"token":         {WithIgnoredQueryParams("token")},
		"signature":     {WithIgnoredQueryParams("X-Amz-*")},
		"everything":    {WithIgnoredQueryParams("*")},
		"case":          {WithIgnoredQueryParams("API_KEY")},
		"empty":         {WithIgnoredQueryParams("")},
		"rule":          {WithRules(Rule{Pattern: "*", IgnoredQueryParams: []string{"sig"}})},
		"user redacted": {WithRedactedQueryParams("session_id"), WithIgnoredQueryParams("session_*")},
	} {
		if _, err := NewTransport(opts...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewTransport(WithIgnoredQueryParams("utm_*", "_", "fbclid")); err != nil {
		t.Fatalf("tracking parameters refused: %v", err)
	}
}

// FuzzQueryKeying checks appendQuery on any query: what it keeps is the
// query's parts that no glob ignores, none lost, none added, in their
// order unless sorted, where same names keep theirs; and it is idempotent.
func FuzzQueryKeying(f *testing.F) {
	f.Add("a=1&b=2&utm_x=3", true)
	f.Add("_=1", false)
	f.Add("&&a&=&b=%zz&utm%5F=1", true)
	f.Fuzz(func(t *testing.T, raw string, sorted bool) {
		q := &queryKeying{ignored: []string{"utm_*", "_"}, sorted: sorted}
		out := string(q.appendQuery(nil, raw, nil))
		var kept []string
		for part := range strings.SplitSeq(raw, "&") {
			if !q.ignores(part) {
				kept = append(kept, part)
			}
		}
		if len(kept) == 0 {
			if out != "" {
				t.Fatalf("%q: everything ignored, got %q", raw, out)
			}
			return
		}
		if !strings.HasPrefix(out, "?") {
			t.Fatalf("%q: got %q without '?'", raw, out)
		}
		got := strings.Split(out[1:], "&")
		if sorted {
			slices.SortStableFunc(kept, func(a, b string) int { return strings.Compare(unescapedName(a), unescapedName(b)) })
		}
		if !slices.Equal(got, kept) {
			t.Fatalf("%q: kept %q, want %q", raw, got, kept)
		}
		if again := string(q.appendQuery(nil, out[1:], nil)); again != out {
			t.Fatalf("%q: not idempotent: %q then %q", raw, out, again)
		}
	})
}

// A rule whose pattern names the scheme's default port keys requests sent
// with and without it alike, so that invalidation of either form reaches
// the entry. (Found by review.)
func TestQueryKeyingRuleWithDefaultPort(t *testing.T) {
	var calls int
	upstream := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		calls++
		return &http.Response{StatusCode: 200, Header: http.Header{"Cache-Control": {"max-age=600"}},
			Body: io.NopCloser(strings.NewReader("v")), ContentLength: 1, Request: req}, nil
	})
	tr := New(WithTransport(upstream), WithRules(Rule{Pattern: "example.com:80/*", IgnoredQueryParams: []string{"utm"}}))
	defer tr.Close()
	get := func(raw string) CacheStatus {
		resp, _ := send(t, tr, must(http.NewRequest("GET", raw, nil)))
		tr.waitForWrites()
		st, _ := StatusOf(resp)
		return st
	}
	get("http://example.com:80/p?utm=1")
	if !get("http://example.com/p?utm=2").Hit {
		t.Fatal("the same origin without its default port missed the entry")
	}
	if err := tr.Invalidate(context.Background(), "http://example.com/p?utm=3"); err != nil {
		t.Fatal(err)
	}
	if get("http://example.com:80/p?utm=1").Hit {
		t.Fatal("Invalidate without the default port left the entry")
	}
}

// TestAuthorizingParamErrorsNameTheOption: an ignored parameter that
// WithRedactedQueryParams says authorizes requests is refused with an
// error naming the option or rule that ignores it.
func TestAuthorizingParamErrorsNameTheOption(t *testing.T) {
	_, err := NewTransport(WithRedactedQueryParams("mysig"), WithIgnoredQueryParams("mysig"))
	if err == nil || !strings.Contains(err.Error(), "WithIgnoredQueryParams") {
		t.Errorf("WithIgnoredQueryParams: %v", err)
	}
	_, err = NewTransport(WithRedactedQueryParams("mysig"), WithRules(Rule{Pattern: "a.example", IgnoredQueryParams: []string{"mysig"}}))
	if err == nil || !strings.Contains(err.Error(), `WithRules: rule 0 ("a.example")`) {
		t.Errorf("a rule: %v", err)
	}
}
