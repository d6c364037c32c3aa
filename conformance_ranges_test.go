package httpcache

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// RFC conformance probe: range requests (RFC 9110 §14, §13.1.5;
// RFC 9111 §3.3, §3.4).

// probeRangeOrigin serves a full 200 of "0123456789" with ETag "v1" and a
// Last-Modified an hour before the Date, and a 206 of what a Range asks
// for (one range, as the tests send), so that a forwarded range request
// is seen as such.
func probeRangeOrigin(cc string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", cc)
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", httpDate(epoch.Add(-time.Hour)))
		if rg := r.Header.Get("Range"); rg != "" && r.Method == http.MethodGet {
			w.Header().Set("Content-Range", "bytes 0-0/10")
			w.WriteHeader(http.StatusPartialContent)
			fmt.Fprint(w, "0")
			return
		}
		w.Header().Set("Content-Length", "10")
		if r.Method == http.MethodGet {
			fmt.Fprint(w, "0123456789")
		}
	}
}

func TestConformanceRangeFromStoredFull(t *testing.T) {
	h := newHarness(t, probeRangeOrigin("max-age=60"))
	h.get("/r")
	lm := httpDate(epoch.Add(-time.Hour))
	cases := []struct {
		name         string
		pairs        []string
		status       int
		body, crange string
	}{
		{"single", []string{"Range", "bytes=2-4"}, 206, "234", "bytes 2-4/10"},
		{"open", []string{"Range", "bytes=7-"}, 206, "789", "bytes 7-9/10"},
		{"suffix", []string{"Range", "bytes=-3"}, 206, "789", "bytes 7-9/10"},
		{"last past end", []string{"Range", "bytes=8-100"}, 206, "89", "bytes 8-9/10"},
		{"If-Range etag match", []string{"Range", "bytes=2-4", "If-Range", `"v1"`}, 206, "234", "bytes 2-4/10"},
		{"If-Range etag other", []string{"Range", "bytes=2-4", "If-Range", `"v2"`}, 200, "0123456789", ""},
		{"If-Range weak", []string{"Range", "bytes=2-4", "If-Range", `W/"v1"`}, 200, "0123456789", ""},
		{"If-Range date match", []string{"Range", "bytes=2-4", "If-Range", lm}, 206, "234", "bytes 2-4/10"},
		{"If-Range date other", []string{"Range", "bytes=2-4", "If-Range", httpDate(epoch)}, 200, "0123456789", ""},
		{"unsatisfiable", []string{"Range", "bytes=10-20"}, 416, "", "bytes */10"},
	}
	for _, c := range cases {
		got := h.get("/r", c.pairs...)
		if got.status != c.status || got.body != c.body || got.header.Get("Content-Range") != c.crange {
			t.Errorf("%s: %d %q Content-Range %q, want %d %q %q", c.name, got.status, got.body, got.header.Get("Content-Range"), c.status, c.body, c.crange)
		}
		if !got.cache.Hit {
			t.Errorf("%s: not a hit: %s", c.name, got.header.Get("Cache-Status"))
		}
	}
	h.wantOriginRequests(1)
}

// RFC 9110 §13.2.2: If-None-Match is evaluated before Range; a matching
// one gives 304, not 206.
func TestConformanceRangeWithMatchingIfNoneMatch(t *testing.T) {
	h := newHarness(t, probeRangeOrigin("max-age=60"))
	h.get("/r")
	got := h.get("/r", "Range", "bytes=2-4", "If-None-Match", `"v1"`)
	if got.status != http.StatusNotModified {
		t.Fatalf("status %d, want 304", got.status)
	}
}

// Several ranges go to the origin, whose 206 is not stored and does not
// disturb the stored full response.
func TestConformanceMultipleRangesAndOrigin206(t *testing.T) {
	h := newHarness(t, probeRangeOrigin("max-age=60"))
	got := h.get("/r", "Range", "bytes=0-0") // a miss: the origin's 206
	if got.status != 206 || got.cache.Stored {
		t.Fatalf("miss with Range: %d, %s", got.status, got.header.Get("Cache-Status"))
	}
	full := h.get("/r")
	if full.status != 200 || full.cache.Hit {
		t.Fatalf("a 206 answered a full request: %d %s", full.status, full.header.Get("Cache-Status"))
	}
	h.get("/r", "Range", "bytes=0-1,4-5")
	h.wantOriginRequests(3)
	again := h.get("/r")
	if !again.cache.Hit || again.body != "0123456789" {
		t.Fatalf("the stored 200 was disturbed: %s %q", again.header.Get("Cache-Status"), again.body)
	}
}

// A stale stored response is not cut into ranges without validation.
func TestConformanceRangeOnStale(t *testing.T) {
	h := newHarness(t, probeRangeOrigin("max-age=60"))
	h.get("/r")
	h.clock.Advance(2 * time.Minute)
	got := h.get("/r", "Range", "bytes=2-4")
	h.wantOriginRequests(2)
	if got.cache.Hit || got.status != 206 || got.body != "0" {
		t.Fatalf("stale range: %d %q %s", got.status, got.body, got.header.Get("Cache-Status"))
	}
	// must-revalidate, max-stale: still not served stale.
	h2 := newHarness(t, probeRangeOrigin("max-age=60, must-revalidate"))
	h2.get("/r")
	h2.clock.Advance(2 * time.Minute)
	if got := h2.get("/r", "Range", "bytes=2-4", "Cache-Control", "max-stale=3600"); got.cache.Hit {
		t.Fatalf("must-revalidate range served stale")
	}
}

// RFC 9110 §14.2: "GET is the only method for which range handling is
// defined"; a HEAD with Range is answered as a HEAD.
func TestConformanceHeadWithRange(t *testing.T) {
	h := newHarness(t, probeRangeOrigin("max-age=60"))
	h.get("/r")
	got := h.do(http.MethodHead, "/r", "Range", "bytes=2-4")
	if got.status != 200 || got.header.Get("Content-Range") != "" {
		t.Fatalf("HEAD with Range: %d Content-Range %q", got.status, got.header.Get("Content-Range"))
	}
}

// Range units are case-insensitive (RFC 9110 §14.1); whatever the cache
// does with "BYTES=", it must not serve the wrong bytes.
func TestConformanceRangeUnitCase(t *testing.T) {
	h := newHarness(t, probeRangeOrigin("max-age=60"))
	h.get("/r")
	got := h.get("/r", "Range", "Bytes=2-4")
	if got.status == 206 && got.body != "234" && got.body != "0" {
		t.Fatalf("Bytes=2-4: %q", got.body)
	}
	if got.status == 200 && !strings.HasPrefix(got.body, "0123") {
		t.Fatalf("Bytes=2-4: %q", got.body)
	}
}
