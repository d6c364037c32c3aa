package httpcache

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestHTTP2ForwardedRequestIsCached: a gateway behind an HTTP/2 server
// forwards its request (r.Clone), whose Body is the server's own type with
// ContentLength 0, through the cache: the body has no content, so the
// second request is a hit, as it is behind an HTTP/1 server.
func TestHTTP2ForwardedRequestIsCached(t *testing.T) {
	var originRequests atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		originRequests.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "page")
	}))
	defer origin.Close()
	cache := New()
	defer cache.Close()
	gateway := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			t.Errorf("the gateway's request is %s, want HTTP/2", r.Proto)
		}
		out := r.Clone(r.Context())
		out.RequestURI = ""
		out.URL.Scheme, out.URL.Host, out.Host = "http", origin.Listener.Addr().String(), ""
		resp, err := cache.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Cache-Status", resp.Header.Get("Cache-Status"))
		io.Copy(w, resp.Body)
	}))
	gateway.EnableHTTP2 = true
	gateway.StartTLS()
	defer gateway.Close()
	client := gateway.Client()
	var statuses []string
	for range 2 {
		resp, body := send(t, client.Transport, must(http.NewRequest(http.MethodGet, gateway.URL+"/page", nil)))
		if body != "page" {
			t.Fatalf("body = %q", body)
		}
		statuses = append(statuses, resp.Header.Get("Cache-Status"))
	}
	if n := originRequests.Load(); n != 1 {
		t.Fatalf("the origin saw %d requests, want 1 (Cache-Status: %q)", n, statuses)
	}
}

// closeRecorder is a body of unknown length that records its Close.
type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeRecorder) Close() error { c.closed.Store(true); return nil }

// A body of unknown length with no content is a request without one: it
// is answered from storage, and the caller's body is closed, as RoundTrip
// must.
func TestEmptyBodyOfUnknownLengthIsNoBody(t *testing.T) {
	origin := newBenchOrigin(4, "max-age=600")
	tr := New(WithTransport(origin))
	defer tr.Close()
	for i := range 2 {
		body := &closeRecorder{Reader: strings.NewReader("")}
		req := must(http.NewRequest(http.MethodGet, "https://api.example/items", body))
		if req.ContentLength != 0 || req.Body == http.NoBody {
			t.Fatalf("set-up: ContentLength %d, Body %T", req.ContentLength, req.Body)
		}
		resp, _ := send(t, tr, req)
		if !body.closed.Load() {
			t.Fatalf("request %d: the caller's body was not closed", i)
		}
		if st, _ := StatusOf(resp); i == 1 && !st.Hit {
			t.Fatalf("the second request was not a hit: %+v", st)
		}
	}
	if n := origin.requests.Load(); n != 1 {
		t.Fatalf("the origin saw %d requests, want 1", n)
	}
}

// A body of unknown length that gives nothing at first (a client that
// streams it) is not waited for beyond bodyProbeWait: the request goes to
// the origin as a bypass, and the origin gets the whole body, the bytes
// that came late too. No goroutine is left once the response is read.
func TestSlowBodyOfUnknownLengthGoesUpstreamWhole(t *testing.T) {
	before := goleak.IgnoreCurrent()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query, _ := io.ReadAll(r.Body)
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "results for "+string(query))
	}))
	defer origin.Close()
	tr := New()
	bodyReader, bodyWriter := io.Pipe()
	req := must(http.NewRequest(http.MethodGet, origin.URL+"/_search", bodyReader))
	answered := make(chan string, 1)
	go func() {
		resp, body := send(t, tr, req)
		st, _ := StatusOf(resp)
		answered <- body + " / " + st.Forward
	}()
	select {
	case got := <-answered:
		t.Fatalf("answered before the body came: %q", got)
	case <-time.After(bodyProbeWait + 50*time.Millisecond):
	}
	io.WriteString(bodyWriter, `{"user":"late"}`)
	bodyWriter.Close()
	if got, want := <-answered, `results for {"user":"late"} / `+ForwardBypass; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	tr.Close()
	origin.Close()
	origin.Client().CloseIdleConnections()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if err := goleak.Find(before); err != nil {
		t.Fatal(err)
	}
}

// bodyProbe gives the probed byte, then the error that came with it, and
// only then reads the body again; an empty read takes nothing.
func TestBodyProbeRead(t *testing.T) {
	failure := errors.New("reset")
	tests := []struct {
		name  string
		first []byte
		err   error
		rest  string
		want  string
		final error
	}{
		{"byte then rest", []byte("a"), nil, "bc", "abc", nil},
		{"byte with EOF", []byte("a"), io.EOF, "never read", "a", nil},
		{"byte with an error", []byte("a"), failure, "never read", "a", failure},
		{"error at once", nil, failure, "never read", "", failure},
		{"EOF at once", nil, io.EOF, "never read", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := &scriptedBody{first: tt.first, err: tt.err, rest: strings.NewReader(tt.rest)}
			p := startBodyProbe(body)
			if n, err := p.Read(nil); n != 0 || err != nil {
				t.Fatalf("an empty read gave %d, %v", n, err)
			}
			got, err := io.ReadAll(p)
			if string(got) != tt.want || !errors.Is(err, tt.final) {
				t.Fatalf("read %q, %v; want %q, %v", got, err, tt.want, tt.final)
			}
		})
	}
}

// scriptedBody gives first and err on its first read, then rest.
type scriptedBody struct {
	first []byte
	err   error
	rest  io.Reader
	reads int
}

func (b *scriptedBody) Read(p []byte) (int, error) {
	b.reads++
	if b.reads == 1 {
		return copy(p, b.first), b.err
	}
	return b.rest.Read(p)
}

func (b *scriptedBody) Close() error { return nil }

// A probed body that goes upstream is marked chunked, as net/http would
// send it, so that the upstream transport does not probe it a second time.
func TestProbedBodyGoesUpstreamChunked(t *testing.T) {
	var encoding []string
	upstream := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		encoding = req.TransferEncoding
		io.Copy(io.Discard, req.Body)
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
	})
	tr := New(WithTransport(upstream))
	defer tr.Close()
	req := must(http.NewRequest(http.MethodGet, "https://api.example/_search", io.NopCloser(strings.NewReader("q"))))
	send(t, tr, req)
	if len(encoding) != 1 || encoding[0] != "chunked" {
		t.Fatalf("the upstream request's TransferEncoding is %q, want chunked", encoding)
	}
}
