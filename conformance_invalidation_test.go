package httpcache

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// RFC conformance probe: invalidation (RFC 9111 §4.4): "A cache
// MUST invalidate the target URI ... when it receives a non-error status
// code in response to an unsafe request method (including methods whose
// safety is unknown)"; "A cache MAY invalidate other URIs ... Location and
// Content-Location ... However, a cache MUST NOT trigger an invalidation
// under these conditions if the origin ... of the URI to be invalidated
// differs from that of the target URI".

// probeInvalidationOrigin: GETs are fresh for 10 minutes and number their
// bodies; an unsafe request answers with the status in ?status= and the
// Location / Content-Location in ?loc= and ?cloc=.
func probeInvalidationOrigin() (http.HandlerFunc, *atomic.Int64) {
	var n atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			w.Header().Set("Cache-Control", "max-age=600")
			w.Header().Set("Vary", "Accept-Language")
			fmt.Fprintf(w, "v%d", n.Add(1))
			return
		}
		q := r.URL.Query()
		if loc := q.Get("loc"); loc != "" {
			w.Header().Set("Location", loc)
		}
		if cloc := q.Get("cloc"); cloc != "" {
			w.Header().Set("Content-Location", cloc)
		}
		status := 200
		if s := q.Get("status"); s != "" {
			status, _ = strconv.Atoi(s)
		}
		w.WriteHeader(status)
	}, &n
}

func probeSend(t *testing.T, h *harness, method, rawURL string, pairs ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		req.Header.Add(pairs[i], pairs[i+1])
	}
	return send(t, h.transport, req)
}

func probeHarnessit(t *testing.T, h *harness, rawURL string, pairs ...string) bool {
	t.Helper()
	resp, _ := probeSend(t, h, http.MethodGet, rawURL, pairs...)
	st, _ := StatusOf(resp)
	return st.Hit
}

func TestConformanceUnsafeMethodsInvalidate(t *testing.T) {
	for _, method := range []string{"POST", "PUT", "DELETE", "PATCH", "FROBNICATE", "get"} {
		for _, status := range []int{200, 201, 204, 303, 400, 404, 409, 500, 503} {
			t.Run(method+"/"+strconv.Itoa(status), func(t *testing.T) {
				handler, _ := probeInvalidationOrigin()
				h := newHarness(t, handler)
				u := h.origin.URL + "/a"
				probeSend(t, h, "GET", u)
				if !probeHarnessit(t, h, u) {
					t.Fatal("not stored")
				}
				probeSend(t, h, method, u+"?status="+strconv.Itoa(status))
				// The query differs from the stored URL's: send the unsafe
				// request to the stored URL itself too, via Content-Location.
				probeSend(t, h, method, h.origin.URL+"/other?status="+strconv.Itoa(status)+"&cloc=/a")
				hit := probeHarnessit(t, h, u)
				if wantHit := status >= 400; hit != wantHit {
					t.Fatalf("%s answered %d: stored /a hit=%v, want %v", method, status, hit, wantHit)
				}
			})
		}
	}
}

// The target URI itself, with its exact query.
func TestConformanceUnsafeTargetInvalidated(t *testing.T) {
	handler, _ := probeInvalidationOrigin()
	h := newHarness(t, handler)
	u := h.origin.URL + "/a?x=1"
	probeSend(t, h, "GET", u)
	probeSend(t, h, "POST", u)
	if probeHarnessit(t, h, u) {
		t.Fatal("POST to the target did not invalidate it")
	}
	// an error response leaves it
	probeSend(t, h, "GET", h.origin.URL+"/b?status=500")
	probeSend(t, h, "DELETE", h.origin.URL+"/b?status=500")
	if !probeHarnessit(t, h, h.origin.URL+"/b?status=500") {
		t.Fatal("DELETE answered 500 invalidated")
	}
}

func TestConformanceLocationInvalidation(t *testing.T) {
	handler, _ := probeInvalidationOrigin()
	h := newHarness(t, handler)
	same := h.origin.URL + "/a"
	probeSend(t, h, "GET", same)
	probeSend(t, h, "POST", h.origin.URL+"/new?status=201&loc=/a")
	if probeHarnessit(t, h, same) {
		t.Error("a same-origin relative Location was not invalidated (MAY, documented)")
	}
	probeSend(t, h, "GET", same)
	probeSend(t, h, "POST", h.origin.URL+"/new?status=201&cloc="+same)
	if probeHarnessit(t, h, same) {
		t.Error("a same-origin absolute Content-Location was not invalidated (documented)")
	}
	// Cross-origin: the same server named as localhost is another origin.
	other := strings.Replace(h.origin.URL, "127.0.0.1", "localhost", 1) + "/a"
	probeSend(t, h, "GET", other)
	if !probeHarnessit(t, h, other) {
		t.Fatal("localhost not stored")
	}
	probeSend(t, h, "POST", h.origin.URL+"/new?status=201&loc="+other)
	probeSend(t, h, "POST", h.origin.URL+"/new?status=201&cloc="+other)
	probeSend(t, h, "POST", h.origin.URL+"/new?status=303&loc=//"+strings.TrimPrefix(other, "http://"))
	if !probeHarnessit(t, h, other) {
		t.Error("a cross-origin Location / Content-Location was invalidated: RFC 9111 §4.4 MUST NOT")
	}
	// https is another origin than http, same host and port.
	probeSend(t, h, "POST", h.origin.URL+"/new?status=201&loc="+strings.Replace(same, "http:", "https:", 1))
	probeSend(t, h, "GET", same)
	if !probeHarnessit(t, h, same) {
		t.Fatal("not stored again")
	}
	probeSend(t, h, "POST", h.origin.URL+"/new?status=201&loc="+strings.Replace(same, "http:", "https:", 1))
	if !probeHarnessit(t, h, same) {
		t.Error("an https Location invalidated the http URL")
	}
}

// Every Vary variant and every credential partition of the URL.
func TestConformanceInvalidationReachesVariantsAndPartitions(t *testing.T) {
	handler, _ := probeInvalidationOrigin()
	h := newHarness(t, handler)
	u := h.origin.URL + "/a"
	variants := [][]string{
		{"Accept-Language", "en"},
		{"Accept-Language", "fr"},
		{"Authorization", "Bearer alice"},
		{"Authorization", "Bearer bob", "Accept-Language", "de"},
		{"Cookie", "s=1"},
	}
	for _, v := range variants {
		probeSend(t, h, "GET", u, v...)
		if !probeHarnessit(t, h, u, v...) {
			t.Fatalf("%v not stored", v)
		}
	}
	probeSend(t, h, "PUT", u) // anonymous
	for _, v := range variants {
		if probeHarnessit(t, h, u, v...) {
			t.Errorf("%v survived an anonymous PUT", v)
		}
	}
	for _, v := range variants {
		probeSend(t, h, "GET", u, v...)
	}
	probeSend(t, h, "DELETE", u, "Authorization", "Bearer mallory")
	for _, v := range variants {
		if probeHarnessit(t, h, u, v...) {
			t.Errorf("%v survived another user's DELETE", v)
		}
	}
}

// Shared mode too.
func TestConformanceInvalidationShared(t *testing.T) {
	handler, _ := probeInvalidationOrigin()
	h := newHarness(t, handler, WithShared(true))
	u := h.origin.URL + "/a"
	probeSend(t, h, "GET", u, "Accept-Language", "en")
	probeSend(t, h, "PATCH", h.origin.URL+"/x?status=204&loc=/a")
	if probeHarnessit(t, h, u, "Accept-Language", "en") {
		t.Error("PATCH 204 Location /a did not invalidate in a shared cache")
	}
}
