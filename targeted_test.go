package httpcache

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestParseTargetedField(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		valid bool
		check func(cacheControl) bool
	}{
		{name: "RFC 9213 §2.1 max-age", lines: []string{"max-age=60"}, valid: true, check: func(c cacheControl) bool { return c.maxAge.seconds == 60 }},
		{name: "booleans", lines: []string{"no-store, private"}, valid: true, check: func(c cacheControl) bool { return c.noStore && c.privateUnqualified }},
		{name: "a false boolean", lines: []string{"no-store=?0, max-age=5"}, valid: true, check: func(c cacheControl) bool { return !c.noStore && c.maxAge.seconds == 5 }},
		{name: "several lines", lines: []string{"max-age=5", "must-revalidate"}, valid: true, check: func(c cacheControl) bool { return c.mustRevalidate }},
		{name: "parameters ignored", lines: []string{`max-age=5;foo=bar, x="y"`}, valid: true, check: func(c cacheControl) bool { return c.maxAge.seconds == 5 }},
		{name: "unknown directives ignored", lines: []string{"foo, bar=1, max-age=2"}, valid: true, check: func(c cacheControl) bool { return c.maxAge.seconds == 2 }},
		{name: "RFC 8941 an upper-case key is invalid", lines: []string{"Max-Age=5"}},
		{name: "a string for max-age is invalid", lines: []string{`max-age="5"`}},
		{name: "a decimal for max-age is invalid", lines: []string{"max-age=5.0"}},
		{name: "a negative max-age is invalid", lines: []string{"max-age=-1"}},
		{name: "a trailing comma is invalid", lines: []string{"max-age=5,"}},
		{name: "an unterminated string is invalid", lines: []string{`x="abc`}},
	}
	for _, tt := range tests {
		cc, err := parseTargetedField(tt.lines)
		if (err == nil) != tt.valid || (tt.valid && !tt.check(cc)) {
			t.Errorf("%s: parseTargetedField(%q) = %+v, %v", tt.name, tt.lines, cc, err)
		}
	}
}

// TestTargetedCacheControl: RFC 9213 §2.2: a shared cache told to obey
// CDN-Cache-Control uses it before Cache-Control and Expires; an invalid
// one is ignored; a private cache, and a shared one not told, ignore it.
func TestTargetedCacheControl(t *testing.T) {
	handler := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Expires", httpDate(epoch.Add(-time.Hour)))
		if v := r.URL.Query().Get("cdn"); v != "" {
			w.Header().Set("CDN-Cache-Control", v)
		}
		fmt.Fprint(w, "page")
	}
	tests := []struct {
		name   string
		opts   []Option
		cdn    string
		stored bool
	}{
		{name: "shared, obeying it", opts: []Option{WithShared(true), WithTargetedCacheControl("CDN-Cache-Control")}, cdn: "max-age=60", stored: true},
		{name: "shared, an invalid field ignored", opts: []Option{WithShared(true), WithTargetedCacheControl("CDN-Cache-Control")}, cdn: "max-age=six"},
		{name: "shared, not told", opts: []Option{WithShared(true)}, cdn: "max-age=60"},
		{name: "private ignores it", opts: []Option{WithTargetedCacheControl("CDN-Cache-Control")}, cdn: "max-age=60"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, handler, tt.opts...)
			path := "/p?cdn=" + tt.cdn
			h.get(path)
			if got := h.get(path); got.cache.Hit != tt.stored {
				t.Fatalf("hit = %v, want %v (%+v)", got.cache.Hit, tt.stored, got.cache)
			}
		})
	}
	// The targeted field's no-store wins over a permissive Cache-Control.
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=600")
		w.Header().Set("CDN-Cache-Control", "no-store")
		fmt.Fprint(w, "page")
	}, WithShared(true), WithTargetedCacheControl("CDN-Cache-Control"))
	h.get("/q")
	if got := h.get("/q"); got.cache.Hit {
		t.Fatal("the targeted field's no-store was not obeyed")
	}
}

// FuzzParseTargetedField: any field parses without a panic, and a valid
// one gives non-negative delta-seconds.
func FuzzParseTargetedField(f *testing.F) {
	for _, seed := range []string{"max-age=60, private", `a="x\"y";p=?1, no-store=?0`, "max-age=-1", "*x=tok/en:1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, field string) {
		cc, err := parseTargetedField([]string{field})
		if err == nil && (cc.maxAge.seconds < 0 || cc.sMaxAge.seconds < 0 || cc.maxAge.seconds > maxDeltaSeconds) {
			t.Fatalf("%q: %+v", field, cc)
		}
	})
}
