package httpcache

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseSingleRange(t *testing.T) {
	tests := []struct {
		value string
		want  byteRange
		ok    bool
	}{
		{value: "bytes=0-9", want: byteRange{first: 0, last: 9}, ok: true},
		{value: "bytes=5-", want: byteRange{first: 5, last: -1}, ok: true},
		{value: "bytes=-3", want: byteRange{first: -1, last: -1, suffix: 3}, ok: true},
		{value: "bytes=9-0"},
		{value: "bytes=0-1,3-4"},
		{value: "items=0-1"},
		{value: "bytes=-0"},
		{value: "bytes=a-b"},
		{value: "bytes=99999999999999999999999-"},
	}
	for _, tt := range tests {
		got, ok := parseSingleRange(tt.value)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("RFC 9110 §14.1.2 parseSingleRange(%q) = %+v, %v; want %+v, %v", tt.value, got, ok, tt.want, tt.ok)
		}
	}
}

// TestRangesFromStoredResponses: RFC 9111 §3.4 and RFC 9110 §14: a single
// range is answered 206 from a fresh stored 200, an unsatisfiable one 416,
// and one whose If-Range does not name the stored response with the whole
// response; nothing partial is stored.
func TestRangesFromStoredResponses(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"v1"`)
		fmt.Fprint(w, "0123456789")
	})
	h.get("/r")
	tests := []struct {
		name               string
		pairs              []string
		status             int
		body, contentRange string
	}{
		{name: "first-last", pairs: []string{"Range", "bytes=2-4"}, status: 206, body: "234", contentRange: "bytes 2-4/10"},
		{name: "open-ended", pairs: []string{"Range", "bytes=7-"}, status: 206, body: "789", contentRange: "bytes 7-9/10"},
		{name: "suffix", pairs: []string{"Range", "bytes=-2"}, status: 206, body: "89", contentRange: "bytes 8-9/10"},
		{name: "past the end", pairs: []string{"Range", "bytes=5-99"}, status: 206, body: "56789", contentRange: "bytes 5-9/10"},
		{name: "unsatisfiable", pairs: []string{"Range", "bytes=10-"}, status: 416, body: "", contentRange: "bytes */10"},
		{name: "If-Range names it", pairs: []string{"Range", "bytes=0-0", "If-Range", `"v1"`}, status: 206, body: "0", contentRange: "bytes 0-0/10"},
		{name: "If-Range names another", pairs: []string{"Range", "bytes=0-0", "If-Range", `"v0"`}, status: 200, body: "0123456789"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := h.get("/r", tt.pairs...)
			if got.status != tt.status || got.body != tt.body || got.header.Get("Content-Range") != tt.contentRange || !got.cache.Hit {
				t.Fatalf("%d %q Content-Range %q %+v", got.status, got.body, got.header.Get("Content-Range"), got.cache)
			}
			if want := fmt.Sprint(len(tt.body)); got.header.Get("Content-Length") != want && tt.status != 200 {
				t.Fatalf("Content-Length %q, want %s", got.header.Get("Content-Length"), want)
			}
		})
	}
	if got := h.get("/r"); got.status != 200 || got.body != "0123456789" {
		t.Fatalf("the stored response after the ranges: %d %q", got.status, got.body)
	}
	h.wantOriginRequests(1)
}

// only-if-cached forbids the network (RFC 9111 §5.2.1.7), for a Range
// request with nothing stored as for any other. (Found by review.)
func TestRangeOnlyIfCachedNeverGoesToOrigin(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page") })
	for _, ranges := range []string{"bytes=0-1", "bytes=0-1,4-5"} {
		got := h.get("/r", "Range", ranges, "Cache-Control", "only-if-cached")
		if got.status != http.StatusGatewayTimeout {
			t.Errorf("%s: status %d, want 504", ranges, got.status)
		}
	}
	h.wantOriginRequests(0)
}

// TestRangeForwardReasons: a Range the cache cannot answer goes to the
// origin with the reason it could not (RFC 9211 §2.2), never as a bypass:
// stale (fwd=stale), or fresh but streamed from a file, whose checksum a
// range may not reach (fwd=miss).
func TestRangeForwardReasons(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, strings.Repeat("0123456789", 20<<10)) // streamed from the file
	}, WithStorage(must(NewDiskStorage(t.TempDir(), 0))), WithSynchronousWrites(true))
	h.get("/r")
	if got := h.get("/r", "Range", "bytes=0-1"); got.cache.Forward != ForwardMiss {
		t.Errorf("fresh, streamed: Cache-Status %q", got.header.Get("Cache-Status"))
	}
	h.clock.Advance(2 * time.Minute)
	if got := h.get("/r", "Range", "bytes=0-1"); got.cache.Forward != ForwardStale {
		t.Errorf("stale: Cache-Status %q", got.header.Get("Cache-Status"))
	}
	if st := h.transport.Stats().Requests; st.Bypassed != 0 {
		t.Errorf("%d ranges counted as bypassed", st.Bypassed)
	}
}
