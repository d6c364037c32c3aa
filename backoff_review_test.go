package httpcache

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A probe whose upstream panics (recovered by the coalescer) never reports
// to the back-off; the scope must not stay "probing", replaying the 429
// forever. (Found by review.)
func TestBackoffProbeThatPanicsDoesNotHoldForever(t *testing.T) {
	clock := newTestClock()
	var calls atomic.Int64
	upstream := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		switch calls.Add(1) {
		case 1:
			return &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"1"}}, Body: io.NopCloser(strings.NewReader("slow")), Request: req}, nil
		case 2:
			panic("boom")
		}
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("ok")), Request: req}, nil
	})
	tr := New(WithTransport(upstream), WithClock(clock.Now))
	defer tr.Close()
	get := func() (int, error) {
		req, _ := http.NewRequest("GET", "http://example.test/a", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if s, _ := get(); s != 429 {
		t.Fatalf("first %d", s)
	}
	clock.Advance(2 * time.Second)
	if _, err := get(); err == nil {
		t.Fatal("probe: want the panic as an error")
	}
	clock.Advance(time.Hour)
	for i := 0; i < 3; i++ {
		s, err := get()
		if err != nil || s != 200 {
			t.Fatalf("an hour after the back-off ended: status %d err %v, origin calls %d (the scope is stuck probing)", s, err, calls.Load())
		}
	}
}

// A slow 429 body delays only its own reader: the back-off does not read
// it ahead of the caller (under its lock), so requests to other origins and
// the 429's own headers are not held. (Found by review.)
func TestBackoffSlow429BodyHoldsNobodyElse(t *testing.T) {
	release := make(chan struct{})
	limited := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(429)
		if r.URL.Path == "/slow" {
			w.(http.Flusher).Flush()
			<-release
		}
		io.WriteString(w, "slow down")
	}))
	defer limited.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "other") }))
	defer other.Close()
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	tr := New(WithTransport(upstream))
	defer tr.Close()
	client := &http.Client{Transport: tr}
	read := func(resp *http.Response, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	// A back-off in another partition, so that every request consults it.
	req, _ := http.NewRequest("GET", limited.URL+"/fast", nil)
	req.Header.Set("Authorization", "a")
	read(client.Do(req))

	done := make(chan struct{})
	go func() {
		defer close(done)
		slow, err := client.Get(limited.URL + "/slow") // headers arrive; the body waits for release
		if err != nil {
			t.Error(err)
			return
		}
		if got := read(client.Get(other.URL + "/x")); got != "other" {
			t.Errorf("other origin: %q", got)
		}
		close(release)
		if got := read(slow, nil); got != "slow down" {
			t.Errorf("the 429's caller read %q", got)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("a slow 429 body held the 429's headers or another origin's request")
	}
}

// A back-off's answer is replayed to every caller of its scope, who need
// not be the one it was sent to: never with the first caller's cookie.
// (Found by review.)
func TestBackoffReplaysNoCookie(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "session=alice-secret")
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, "slow down")
	}, WithShared(true))
	if first := h.get("/a"); first.header.Get("Set-Cookie") == "" {
		t.Fatal("the origin's own answer lost its cookie")
	}
	replayed := h.get("/a")
	if replayed.cache.Detail != detailRetryAfter || replayed.status != http.StatusTooManyRequests {
		t.Fatalf("not a replay: %d %+v", replayed.status, replayed.cache)
	}
	if c := replayed.header.Values("Set-Cookie"); len(c) != 0 {
		t.Fatalf("replayed to another caller with cookie %q", c)
	}
	h.wantOriginRequests(1)
}
