package httpcache

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
)

// Promise 5: what back-offs keep is bounded by maxBackoffKeptBytes (4 MiB),
// as measured. A back-off keeps the names of its answer's Vary (to replay
// it to a request of the same variant only) as copies, charged: a short
// name in a long line (padding of empty list members) does not keep the
// whole line alive, though the back-off keeps no header (no-store).
func TestBackoffAnsweredVaryBounded(t *testing.T) {
	const scopes, lineBytes = 48, 1 << 20
	upstream := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		vary := "x-a" + strings.Repeat(",", lineBytes) // a fresh line per answer
		h := http.Header{"Retry-After": {"600"}, "Cache-Control": {"no-store"}, "Vary": {vary}}
		return &http.Response{StatusCode: 429, Status: "429 Too Many Requests", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: h, Body: io.NopCloser(strings.NewReader("slow down")), ContentLength: 9, Request: req}, nil
	})
	tr := must(NewTransport(WithTransport(upstream)))
	defer tr.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < scopes; i++ {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://origin%d.example/r", i), nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if limit := int64(maxBackoffKeptBytes + 8<<20); grown > limit {
		t.Fatalf("%d back-offs of no-store 429s keep %d MiB of heap (kept counts %d bytes), past maxBackoffKeptBytes (%d MiB) plus slack", scopes, grown>>20, tr.backoff.kept.Load(), maxBackoffKeptBytes>>20)
	}
	runtime.KeepAlive(tr)
}
