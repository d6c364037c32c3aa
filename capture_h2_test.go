package httpcache

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// h2Origin is an HTTP/2 origin whose handler writes its whole declared
// body, flushes it, and returns a second later: the DATA frames come
// at once, the END_STREAM later (a handler that logs, closes a database
// row set, or an origin behind a proxy that sends END_STREAM in a frame of
// its own).
func h2Origin(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var calls atomic.Int64
	done := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "13")
		io.WriteString(w, `{"ok":"true"}`)
		w.(http.Flusher).Flush()
		select {
		case <-time.After(time.Second):
		case <-done:
		}
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) }) // runs first: the handlers end
	return srv, &calls
}

// TestH2DeclaredBodyReadIsStoredAtOnce: an HTTP/2 response whose caller
// read exactly its Content-Length bytes (json.Decoder does) is stored at
// Close, at once: net/http holds its bodies to their declared length, and
// an HTTP/2 stream's end may come after its data. A confirming read for
// every body (found by a review) made Close wait up to the drain timeout
// and then abandon the body.
func TestH2DeclaredBodyReadIsStoredAtOnce(t *testing.T) {
	srv, calls := h2Origin(t)
	tr, err := NewTransport(WithTransport(srv.Client().Transport))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	resp, err := tr.RoundTrip(must(http.NewRequest("GET", srv.URL+"/a", nil)))
	if err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 2 {
		t.Fatalf("proto %s", resp.Proto)
	}
	var v map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp.Body.Close()
	took := time.Since(start)

	resp, err = tr.RoundTrip(must(http.NewRequest("GET", srv.URL+"/a", nil)))
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	st, _ := StatusOf(resp)
	if took > 100*time.Millisecond || !st.Hit || calls.Load() != 1 {
		t.Errorf("HTTP/2 body read to its declared length: Close took %v, second request Cache-Status %+v, origin calls %d; want a prompt Close and a hit", took, st, calls.Load())
	}
}

// TestH2CloseWithDrainOffDoesNotRead: with draining off (WithBodyDrain(0,
// d)), Close never reads: a confirming read waited up to d for an HTTP/2
// END_STREAM, blocking the caller's Close.
func TestH2CloseWithDrainOffDoesNotRead(t *testing.T) {
	srv, _ := h2Origin(t)
	tr, err := NewTransport(WithTransport(srv.Client().Transport), WithBodyDrain(0, 3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	resp, err := tr.RoundTrip(must(http.NewRequest("GET", srv.URL+"/b", nil)))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 13)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp.Body.Close()
	if took := time.Since(start); took > 200*time.Millisecond {
		t.Errorf("with draining off, Close of a body read to its declared length took %v", took)
	}
}

// TestNetHTTPBodiesAreFramed: the bodies of net/http's HTTP/1.1 and HTTP/2
// transports, and http.NoBody, are taken as held to their declared length
// (isNetHTTPBody); a wrapper of net/http's own, which wraps whatever it is
// given, is not. A Go release that renamed its transports' body types
// would only cost a confirming read, and this test would say so.
func TestNetHTTPBodiesAreFramed(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") })
	h1 := httptest.NewServer(handler)
	defer h1.Close()
	h2 := httptest.NewUnstartedServer(handler)
	h2.EnableHTTP2 = true
	h2.StartTLS()
	defer h2.Close()
	for name, client := range map[string]*http.Client{"HTTP/1.1": h1.Client(), "HTTP/2": h2.Client()} {
		url := h1.URL
		if name == "HTTP/2" {
			url = h2.URL
		}
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		if !isNetHTTPBody(resp.Body) {
			t.Errorf("%s (%s): its body %T is not taken as net/http's", name, resp.Proto, resp.Body)
		}
		resp.Body.Close()
	}
	if !isNetHTTPBody(http.NoBody) {
		t.Error("http.NoBody is not taken as net/http's")
	}
	if isNetHTTPBody(http.MaxBytesReader(nil, io.NopCloser(nil), 1)) {
		t.Error("http.MaxBytesReader, which wraps any body, is taken as net/http's")
	}
}
