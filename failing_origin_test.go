package httpcache

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Rate-limited and failing origins (issue 15): keep what you have.

// TestFailuresNeverRemoveTheStoredResponse: a 429, 408, 425 or 503 to a
// revalidation, in the foreground or the background, leaves the stored
// response; a 404 or a 410 removes it.
func TestFailuresNeverRemoveTheStoredResponse(t *testing.T) {
	tests := []struct {
		status  int
		removes bool
	}{
		{status: http.StatusTooManyRequests},
		{status: http.StatusRequestTimeout},
		{status: http.StatusTooEarly},
		{status: http.StatusServiceUnavailable},
		{status: http.StatusBadRequest},
		{status: http.StatusNotFound, removes: true},
		{status: http.StatusGone, removes: true},
	}
	for _, background := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("background=%v/%d", background, tt.status), func(t *testing.T) {
				var failing atomic.Bool
				cc := "max-age=1"
				if background {
					cc += ", stale-while-revalidate=60"
				}
				h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
					if failing.Load() {
						w.WriteHeader(tt.status)
						return
					}
					w.Header().Set("Cache-Control", cc)
					fmt.Fprint(w, "page")
				})
				h.get("/p")
				h.clock.Advance(2 * time.Second)
				failing.Store(true)
				h.get("/p") // revalidated: in the background, or now
				h.transport.waitForBackground()
				failing.Store(false)
				stored, _, _ := h.transport.load(t.Context(), []byte(cacheKey(mustParseURL(t, h.origin.URL+"/p"))), time.Now())
				if kept := len(stored) > 0; kept == tt.removes {
					t.Fatalf("a %d: stored response kept = %v, want %v", tt.status, kept, !tt.removes)
				}
			})
		}
	}
}

// TestStorableFailuresNeverReplaceTheStoredResponse: a transient failure
// that says it may be stored (a site-wide Cache-Control on error pages)
// leaves the stored response as it is, in the foreground or the
// background; the caller gets the failure, and once the origin recovers,
// the stored page again. A 404 does replace it.
func TestStorableFailuresNeverReplaceTheStoredResponse(t *testing.T) {
	statuses := []int{http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests,
		http.StatusInternalServerError, http.StatusNotImplemented, http.StatusServiceUnavailable, http.StatusGatewayTimeout, 599}
	for _, background := range []bool{false, true} {
		for _, status := range append(statuses, http.StatusNotFound) {
			t.Run(fmt.Sprintf("background=%v/%d", background, status), func(t *testing.T) {
				var failing atomic.Bool
				cc := "max-age=1"
				if background {
					cc += ", stale-while-revalidate=60"
				}
				h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Cache-Control", "max-age=60")
					if failing.Load() {
						w.WriteHeader(status)
						fmt.Fprint(w, "error page")
						return
					}
					w.Header().Set("Cache-Control", cc)
					fmt.Fprint(w, "page")
				})
				h.get("/p")
				h.clock.Advance(2 * time.Second)
				failing.Store(true)
				got := h.get("/p") // revalidated: in the background, or now
				if !background && (got.status != status || got.cache.Stored != (status == http.StatusNotFound)) {
					t.Fatalf("the caller's answer: %d %q %+v", got.status, got.body, got.cache)
				}
				h.transport.waitForBackground()
				failing.Store(false)
				got = h.get("/p")
				if status == http.StatusNotFound {
					if got.status != http.StatusNotFound || !got.cache.Hit {
						t.Fatalf("a storable 404 did not replace the stored page: %d %q %+v", got.status, got.body, got.cache)
					}
					return
				}
				if got.status != http.StatusOK || got.body != "page" {
					t.Fatalf("the origin recovered, and the cache answers %d %q %+v", got.status, got.body, got.cache)
				}
			})
		}
	}
}

// TestErrorStatusesOfARule: a rule's ErrorStatuses count as the origin
// failing for stale-if-error: a 429 is answered with the stored response
// within the window.
func TestErrorStatusesOfARule(t *testing.T) {
	var limited atomic.Bool
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if limited.Load() {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		fmt.Fprint(w, "page")
	}, WithRules(Rule{Pattern: "*", TTL: time.Second, StaleIfError: time.Hour, ErrorStatuses: []int{http.StatusTooManyRequests}}))
	h.get("/p")
	h.clock.Advance(2 * time.Second)
	limited.Store(true)
	if got := h.get("/p"); got.status != 200 || got.body != "page" || got.cache.Detail != detailStaleIfError {
		t.Fatalf("a 429 within stale-if-error: %d %q %+v", got.status, got.body, got.cache)
	}
	if _, err := NewTransport(WithRules(Rule{Pattern: "*", ErrorStatuses: []int{42}})); err == nil {
		t.Error("an error status of 42 was accepted")
	}
}

// TestDecodedBodiesAreStored: json.NewDecoder(resp.Body).Decode(&v) then
// Close, the usual Go client pattern, stops before the body's end; the
// cache reads the small rest on Close and stores the response, chunked or
// of known length.
func TestDecodedBodiesAreStored(t *testing.T) {
	value := `{"id":42,"name":"` + strings.Repeat("n", 20<<10) + `"}` + "\n\n"
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		body := value
		if r.URL.Path == "/fixed" {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		} else {
			w.(http.Flusher).Flush() // chunked
		}
		io.WriteString(w, body)
	})
	decode := func(path string) CacheStatus {
		resp, err := h.client.Get(h.origin.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ ID int }
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || v.ID != 42 {
			t.Fatalf("%s: decoded %+v, %v", path, v, err)
		}
		resp.Body.Close()
		status, _ := StatusOf(resp)
		return status
	}
	for _, path := range []string{"/chunked", "/fixed"} {
		decode(path)
		if status := decode(path); !status.Hit {
			t.Errorf("%s: a decoded body was not stored: %+v", path, status)
		}
	}
}

// TestDrainBound: a body closed with exactly the drain bound left is read
// through and stored; with one byte more, it is not, chunked or of known
// length.
func TestDrainBound(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		rest := DefaultDrainBytes
		if strings.HasSuffix(r.URL.Path, "-over") {
			rest++
		}
		body := "0123456789" + strings.Repeat("r", rest)
		if strings.HasPrefix(r.URL.Path, "/fixed") {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			io.WriteString(w, body)
			return
		}
		w.Write([]byte(body[:10]))
		w.(http.Flusher).Flush() // chunked, and the first read gets only these
		io.WriteString(w, body[10:])
	})
	for _, path := range []string{"/fixed-at", "/fixed-over", "/chunked-at", "/chunked-over"} {
		resp, err := h.client.Get(h.origin.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadFull(resp.Body, make([]byte, 10))
		resp.Body.Close()
		got := h.get(path)
		if want := strings.HasSuffix(path, "-at"); got.cache.Hit != want {
			t.Errorf("%s: stored = %v, want %v", path, got.cache.Hit, want)
		}
	}
}

// TestStatsCountBodiesNotStored: Stats counts responses stored, refused at
// once by reason, and abandoned because their bodies did not arrive whole.
func TestStatsCountBodiesNotStored(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", r.URL.Query().Get("cc"))
		io.WriteString(w, strings.Repeat("x", 4*DefaultDrainBytes))
	})
	h.get("/a?cc=max-age%3D60")
	h.get("/b?cc=no-store")
	resp, err := h.client.Get(h.origin.URL + "/c?cc=max-age%3D60")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadFull(resp.Body, make([]byte, 10))
	resp.Body.Close() // far more left than the drain reads
	s := h.transport.Stats()
	if s.Stored != 1 || s.NotStored[detailNoStore] != 1 || s.NotStored[abandonedClosedEarly] != 1 {
		t.Fatalf("stats %+v", s)
	}
	var zero Transport
	if got := zero.Stats(); got.Stored != 0 || got.NotStored != nil {
		t.Fatalf("a zero Transport's stats: %+v", got)
	}
}
