package httpcache

// Answers to a failing or rate-limiting origin, found by a probe: a
// stale-if-error fallback a coalesced caller lost to the flight it joined,
// a failure stored on a Vary miss that shadowed the other requests'
// response, and a back-off that ignored the request's max-age.

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestJoinedCallerKeepsItsStaleIfErrorFallback: a stale-while-
// revalidate hit starts a background revalidation (which has no stale
// fallback: "a failure leaves the stale entry for the next request"). While
// it is at the origin, the entry passes its SWR window but is within
// stale-if-error, so the next identical request revalidates in the
// foreground with a stale fallback, and coalesces into the background's
// flight. The origin answers 500: RFC 5861 §4 (and the README: "serves it
// when the origin ... answers 500") says the foreground caller gets the
// stale response; it must not get the background's 500.
func TestJoinedCallerKeepsItsStaleIfErrorFallback(t *testing.T) {
	clock := newTestClock()
	release := make(chan struct{})
	var conditionals atomic.Int64
	upstream := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		h := http.Header{}
		h.Set("Date", httpDate(clock.Now()))
		if req.Header.Get("If-None-Match") != "" {
			conditionals.Add(1)
			<-release
			h.Set("Content-Length", "4")
			return &http.Response{StatusCode: 500, Header: h, Body: io.NopCloser(strings.NewReader("oops")), ContentLength: 4, Request: req}, nil
		}
		h.Set("Cache-Control", "max-age=10, stale-while-revalidate=10, stale-if-error=1000")
		h.Set("ETag", `"v1"`)
		h.Set("Content-Length", "4")
		return &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(strings.NewReader("good")), ContentLength: 4, Request: req}, nil
	})
	tr := New(WithTransport(upstream), WithClock(clock.Now))
	defer tr.Close()
	const u = "http://api.example/item"
	if _, body := send(t, tr, must(http.NewRequest("GET", u, nil))); body != "good" {
		t.Fatalf("first body %q", body)
	}

	clock.Advance(15 * time.Second) // stale, within stale-while-revalidate
	resp, body := send(t, tr, must(http.NewRequest("GET", u, nil)))
	if st, _ := StatusOf(resp); !st.Hit || body != "good" {
		t.Fatalf("SWR hit: %+v %q", st, body)
	}
	waitUntil(t, "the background revalidation at the origin", func() bool { return conditionals.Load() == 1 })

	clock.Advance(10 * time.Second) // past stale-while-revalidate, within stale-if-error
	type out struct {
		resp *http.Response
		body string
		err  error
	}
	done := make(chan out, 1)
	go func() {
		resp, err := tr.RoundTrip(must(http.NewRequest("GET", u, nil)))
		if err != nil {
			done <- out{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- out{resp: resp, body: string(b), err: err}
	}()
	// Either the foreground joined the background's flight, or it sent its
	// own conditional request.
	waitUntil(t, "the foreground request", func() bool { return tr.coalescedWaiters() == 2 || conditionals.Load() == 2 })
	close(release)
	o := <-done
	if o.err != nil {
		t.Fatalf("foreground request failed: %v", o.err)
	}
	if o.resp.StatusCode != 200 || o.body != "good" {
		t.Errorf("foreground request within stale-if-error got %d %q (Cache-Status %q); want the stale 200 \"good\"",
			o.resp.StatusCode, o.body, o.resp.Header.Get("Cache-Status"))
	}
}

// TestFailureOnAVaryMissShadowsNoStoredResponse: a good 200 is stored
// for Accept-Language: en (Vary: Accept-Language). A request for fr is a
// vary-miss; the origin (or a proxy in front of it) answers 503 with a
// site-wide "Cache-Control: max-age=60" and no Vary. README: "A 429, 408,
// 425, 5xx or network error ... leaves it; so does such a failure that says
// it may be stored (kept-stored)". DESIGN promise 4: transient failures
// never delete or replace a stored response. The next en request must still
// get its 200, not the 503.
func TestFailureOnAVaryMissShadowsNoStoredResponse(t *testing.T) {
	clock := newTestClock()
	upstream := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		h := http.Header{}
		h.Set("Date", httpDate(clock.Now()))
		if req.Header.Get("Accept-Language") == "fr" {
			h.Set("Cache-Control", "max-age=60")
			return &http.Response{StatusCode: 503, Header: h, Body: io.NopCloser(strings.NewReader("down")), ContentLength: 4, Request: req}, nil
		}
		h.Set("Cache-Control", "max-age=100")
		h.Set("Vary", "Accept-Language")
		return &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(strings.NewReader("hello")), ContentLength: 5, Request: req}, nil
	})
	tr := New(WithTransport(upstream), WithClock(clock.Now))
	defer tr.Close()
	req := func(lang string) *http.Request {
		r := must(http.NewRequest("GET", "http://api.example/greeting", nil))
		r.Header.Set("Accept-Language", lang)
		return r
	}
	if resp, body := send(t, tr, req("en")); resp.StatusCode != 200 || body != "hello" {
		t.Fatalf("first en: %d %q", resp.StatusCode, body)
	}
	clock.Advance(time.Second) // the 503 comes a second later
	resp, _ := send(t, tr, req("fr"))
	t.Logf("fr: %d %s", resp.StatusCode, resp.Header.Get("Cache-Status"))
	clock.Advance(time.Second)
	resp, body := send(t, tr, req("en"))
	if resp.StatusCode != 200 || body != "hello" {
		t.Errorf("en after fr's 503: got %d %q (Cache-Status %q); want the stored 200 \"hello\"",
			resp.StatusCode, body, resp.Header.Get("Cache-Status"))
	}
}

// TestBackoffHonoursTheRequestsMaxAge: README ("Neither window is used
// where ... a client that asked for a new response (no-cache, max-age,
// min-fresh, or RequestOptions.Refresh)") and RFC 9111 §4.2.4 / §5.2.1.1:
// a request with Cache-Control: max-age=N must not be answered with a
// stored response older than N because a stale window would allow it.
// Without a back-off, such a request that meets a 503 gets the 503
// (byRequest: no stale-if-error). During a back-off it must not get the
// 20 s old stored body either.
func TestBackoffHonoursTheRequestsMaxAge(t *testing.T) {
	clock := newTestClock()
	var limited atomic.Bool
	upstream := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		h := http.Header{}
		h.Set("Date", httpDate(clock.Now()))
		if limited.Load() {
			h.Set("Retry-After", "120")
			return &http.Response{StatusCode: 503, Header: h, Body: io.NopCloser(strings.NewReader("busy")), ContentLength: 4, Request: req}, nil
		}
		h.Set("Cache-Control", "max-age=10, stale-if-error=1000")
		return &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(strings.NewReader("old")), ContentLength: 3, Request: req}, nil
	})
	tr := New(WithTransport(upstream), WithClock(clock.Now))
	defer tr.Close()
	const u = "http://api.example/a"
	send(t, tr, must(http.NewRequest("GET", u, nil)))
	clock.Advance(20 * time.Second)
	limited.Store(true)

	otherURL := func() *http.Request {
		r := must(http.NewRequest("GET", "http://api.example/b", nil)) // another URL of the origin: starts the back-off
		return r
	}
	// Control: without a back-off, a max-age=5 request meeting a 503 gets the 503.
	ctl := must(http.NewRequest("GET", u, nil))
	ctl.Header.Set("Cache-Control", "max-age=5")
	tr2 := New(WithTransport(upstream), WithClock(clock.Now), WithBackoff(BackoffOptions{Disabled: true}))
	defer tr2.Close()
	limited.Store(false)
	clock.Advance(-20 * time.Second)
	send(t, tr2, must(http.NewRequest("GET", u, nil)))
	clock.Advance(20 * time.Second)
	limited.Store(true)
	if resp, body := send(t, tr2, ctl); resp.StatusCode != 503 {
		t.Fatalf("control (no back-off): %d %q, want the 503", resp.StatusCode, body)
	}

	send(t, tr, otherURL()) // 503 Retry-After: 120, the back-off starts
	req := must(http.NewRequest("GET", u, nil))
	req.Header.Set("Cache-Control", "max-age=5")
	resp, body := send(t, tr, req)
	if resp.StatusCode == 200 {
		t.Errorf("max-age=5 request during a back-off got the stored response (Age %s, body %q, Cache-Status %q); the client refused a response that old",
			resp.Header.Get("Age"), body, resp.Header.Get("Cache-Status"))
	}
}
