package httpcache

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// TestZeroContentLengthClosedUnreadStoresNothing: a RoundTripper that
// builds its responses by hand and leaves ContentLength at its zero value
// (mocks, recorders, middleware that rewrite bodies do) while the body has
// bytes. A first caller that closes the body without reading it (it only
// wanted the status) left an empty 200 that every later caller was
// served: Close took the declared length for the end without reading on
// to EOF. It now reads once more, and the bytes found say the body is not
// what it declared.
func TestZeroContentLengthClosedUnreadStoresNothing(t *testing.T) {
	const want = `{"user":"alice","balance":100}`
	var calls atomic.Int64
	upstream := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		calls.Add(1)
		return &http.Response{
			StatusCode: 200,
			Status:     "200 OK",
			Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:  http.Header{"Cache-Control": {"max-age=600"}, "Content-Type": {"application/json"}},
			Body:    io.NopCloser(strings.NewReader(want)),
			Request: req,
			// ContentLength left 0, as a hand-built response often does.
		}, nil
	})
	tr, err := NewTransport(WithTransport(upstream))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	client := &http.Client{Transport: tr}

	// First caller: looks at the status only.
	resp, err := client.Get("http://api.example/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	// Second caller reads the body.
	resp, err = client.Get("http://api.example/me")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != want {
		t.Fatalf("second caller got %q (Cache-Status %q, upstream calls %d); the upstream's body is %q",
			body, resp.Header.Get("Cache-Status"), calls.Load(), want)
	}
}

// TestShortContentLengthReadFullStoresNothing: the same with a declared
// length shorter than the body: a caller that read the declared bytes
// (io.ReadFull) and closed stored a prefix of what the upstream sends,
// which later callers were served as the whole body.
func TestShortContentLengthReadFullStoresNothing(t *testing.T) {
	const want = "0123456789abcdefghij"
	upstream := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{
			StatusCode: 200, Status: "200 OK",
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:        http.Header{"Cache-Control": {"max-age=600"}},
			Body:          io.NopCloser(strings.NewReader(want)),
			ContentLength: 10,
			Request:       req,
		}, nil
	})
	tr, err := NewTransport(WithTransport(upstream))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	resp, err := tr.RoundTrip(must(http.NewRequest("GET", "http://api.example/x", nil)))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	io.ReadFull(resp.Body, buf)
	resp.Body.Close()

	resp, err = tr.RoundTrip(must(http.NewRequest("GET", "http://api.example/x", nil)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != want {
		t.Fatalf("second caller got %q (Cache-Status %q); the upstream sends %q", body, resp.Header.Get("Cache-Status"), want)
	}
}
