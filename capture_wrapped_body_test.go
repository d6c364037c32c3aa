package httpcache

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A body of a net/http type is not always framed by net/http: some of
// net/http's types wrap whatever body they are given. http.MaxBytesReader
// (a common way to cap a response's size) and http.Client's Timeout
// wrapper (an upstream built on an http.Client over a RoundTripper that
// builds its responses) both have PkgPath "net/http"; taken for framed
// bodies (found by a review), they had the copy stored at the declared
// length without the confirming read. isNetHTTPBody names the transports'
// own body types.

const wrappedBody = `{"user":"alice","balance":100}`

func handBuiltUpstream(calls *atomic.Int64, contentLength int64) roundTripFunc {
	return func(req *http.Request) (*http.Response, error) {
		calls.Add(1)
		return &http.Response{
			StatusCode: 200, Status: "200 OK",
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:        http.Header{"Cache-Control": {"max-age=600"}, "Content-Type": {"application/json"}},
			Body:          io.NopCloser(strings.NewReader(wrappedBody)),
			ContentLength: contentLength,
			Request:       req,
		}, nil
	}
}

func wrappedCheck(t *testing.T, upstream http.RoundTripper, firstRead func(io.Reader)) {
	t.Helper()
	tr, err := NewTransport(WithTransport(upstream))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	resp, err := tr.RoundTrip(must(http.NewRequest("GET", "http://api.example/me", nil)))
	if err != nil {
		t.Fatal(err)
	}
	firstRead(resp.Body)
	resp.Body.Close()
	time.Sleep(20 * time.Millisecond) // written behind
	resp, err = tr.RoundTrip(must(http.NewRequest("GET", "http://api.example/me", nil)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != wrappedBody {
		t.Errorf("second caller got %q (Cache-Status %q); the upstream's body is %q",
			body, resp.Header.Get("Cache-Status"), wrappedBody)
	}
}

// TestMaxBytesReaderZeroLengthClosedUnread: the upstream caps bodies
// with http.MaxBytesReader over a hand-built response whose ContentLength
// is left 0; a caller that only looked at the status stored an empty 200.
func TestMaxBytesReaderZeroLengthClosedUnread(t *testing.T) {
	var calls atomic.Int64
	inner := handBuiltUpstream(&calls, 0)
	capped := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := inner(req)
		if err == nil {
			resp.Body = http.MaxBytesReader(nil, resp.Body, 1<<20)
		}
		return resp, err
	})
	wrappedCheck(t, capped, func(io.Reader) {})
}

// TestClientTimeoutShortLengthReadFull: the upstream is an
// http.Client with a Timeout (its body wrapper is net/http's
// cancelTimerBody) over a RoundTripper that declares 10 bytes of a longer
// body; a caller that read the declared bytes stored a prefix.
func TestClientTimeoutShortLengthReadFull(t *testing.T) {
	var calls atomic.Int64
	client := &http.Client{Transport: handBuiltUpstream(&calls, 10), Timeout: 10 * time.Second}
	viaClient := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return client.Do(req)
	})
	wrappedCheck(t, viaClient, func(r io.Reader) {
		buf := make([]byte, 10)
		io.ReadFull(r, buf)
	})
}
