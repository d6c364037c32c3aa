package httpcache

import (
	"io"
	"net/http"
	"reflect"
	"testing"
)

// TestQualifiedPrivateFieldsAndTheirFacts: in a shared cache, the fields a
// qualified private names (RFC 9111 §5.2.2.7) leave the stored header and
// the facts read from it together, so that the facts the cache decides on
// are those it would read back from the stored header after a restart;
// a response whose qualified private names a field it cannot be served
// without is not stored. Before, the facts kept a removed ETag (a
// validator the stored header has not), Last-Modified and Set-Cookie (a
// response stored without its cookie was still refused for it), and a
// removed Vary or Cache-Control left a response that would answer every
// request, or change freshness, once read back.
func TestQualifiedPrivateFieldsAndTheirFacts(t *testing.T) {
	const lm = "Mon, 01 Jan 2024 00:00:00 GMT"
	tests := []struct {
		name       string
		header     http.Header
		wantStored bool
	}{
		{"ETag", header("Cache-Control", `max-age=60, private="ETag"`, "ETag", `"v1"`), true},
		{"Last-Modified", header("Cache-Control", `max-age=60, private="Last-Modified"`, "Last-Modified", lm), true},
		{"both validators", header("Cache-Control", `max-age=60, private="ETag, Last-Modified"`, "ETag", `"v1"`, "Last-Modified", lm), true},
		{"Set-Cookie", header("Cache-Control", `max-age=60, private="Set-Cookie"`, "Set-Cookie", "session=alice"), true},
		{"Content-Length", header("Cache-Control", `max-age=60, private="Content-Length"`, "Content-Length", "4"), true},
		{"lower case name", header("Cache-Control", `max-age=60, private="etag"`, "ETag", `"v1"`), true},
		{"Vary", header("Cache-Control", `max-age=60, private="Vary"`, "Vary", "X-User"), false},
		{"Cache-Control", header("Cache-Control", `max-age=60, private="Cache-Control"`), false},
		{"Expires", header("Cache-Control", `private="Expires"`, "Expires", "Thu, 01 Jan 2099 00:00:00 GMT"), false},
		{"Date", header("Cache-Control", `max-age=60, private="Date"`, "Date", lm), false},
		{"Age", header("Cache-Control", `max-age=60, private="Age"`, "Age", "30"), false},
		{"Content-Encoding", header("Cache-Control", `max-age=60, private="Content-Encoding"`, "Content-Encoding", "gzip"), false},
	}
	p := &policy{shared: true}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.header.Clone()
			f := parseResponseFacts(h)
			p.withoutPrivateFields(h, f)
			for _, name := range f.cc.privateFields {
				if _, kept := h[name]; kept == tt.wantStored {
					t.Errorf("%s kept in the stored header: %v, want %v", name, kept, !tt.wantStored)
				}
			}
			readBack := parseResponseFacts(h)
			f.template, readBack.template = headerTemplate{}, headerTemplate{}
			if !reflect.DeepEqual(f, readBack) {
				t.Errorf("facts after the removal\n%+v\ndiffer from those read back from the stored header\n%+v", f, readBack)
			}
			if ok, reason := p.storable(http.MethodGet, &cacheRequest{}, http.StatusOK, f); ok != tt.wantStored {
				t.Errorf("storable = %v (%s), want %v", ok, reason, tt.wantStored)
			}
			e := &Entry{Header: h}
			e.facts.Store(f)
			if _, etag := h["Etag"]; hasValidators(e) != (etag || len(h["Last-Modified"]) > 0) {
				t.Errorf("hasValidators = %v for a stored header %v", hasValidators(e), h)
			}
		})
	}
}

// TestPrivateSetCookieIsStoredWithoutIt: end to end, a shared cache
// stores a response whose qualified private names Set-Cookie without the
// cookie, and never replays it; before, the cookie's fact outlived the
// field and the response was refused for a cookie it no longer had.
func TestPrivateSetCookieIsStoredWithoutIt(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", `max-age=60, private="Set-Cookie"`)
		w.Header().Set("Set-Cookie", "session=alice")
		io.WriteString(w, "page")
	}, WithShared(true))
	if first := h.get("/p"); first.header.Get("Set-Cookie") != "session=alice" {
		t.Fatalf("the caller that got the response lost its cookie: %v", first.header)
	}
	second := h.get("/p")
	if !second.cache.Hit {
		t.Fatalf("second request not a hit: %+v", second.cache)
	}
	if c := second.header.Get("Set-Cookie"); c != "" || second.body != "page" {
		t.Fatalf("hit replayed Set-Cookie %q, body %q", c, second.body)
	}
}

// TestPrivateVaryIsNotStored: a shared cache does not store a response
// whose qualified private names Vary: stored without it, the response
// would answer every request, another user's among them.
func TestPrivateVaryIsNotStored(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", `max-age=60, private="Vary"`)
		w.Header().Set("Vary", "X-User")
		io.WriteString(w, "for "+r.Header.Get("X-User"))
	}, WithShared(true))
	h.get("/v", "X-User", "alice")
	if got := h.get("/v", "X-User", "bob"); got.body != "for bob" {
		t.Fatalf("bob got %q", got.body)
	}
	if got := h.get("/v", "X-User", "alice"); got.cache.Hit {
		t.Fatalf("a response whose private names Vary was stored: %+v", got.cache)
	}
}
