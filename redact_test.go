package httpcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLogsHoldNoSecret runs a busy mix through a Transport logging every
// record at debug level (hits, misses, revalidations, stale answers on
// failure, background revalidations, storage errors, back-off) with
// secrets planted in query parameters, user information and credential
// fields, and scans every record: none holds a secret.
func TestLogsHoldNoSecret(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var failing atomic.Bool
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=5, stale-if-error=600")
		w.Header().Set("ETag", `"v"`)
		fmt.Fprint(w, "page")
	}, WithLogger(logger), WithStorage(&fakeStorage{memory: NewMemoryStorage(0),
		set: func(context.Context, string, *Entry, time.Duration) error { return errors.New("the store is full") }}))
	store := NewMemoryStorage(0)
	h2 := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=5, stale-if-error=600")
		fmt.Fprint(w, "page")
	}, WithLogger(logger), WithStorage(store))
	paths := []string{"/a?token=SECRET-query-1&x=1", "/b?X-Amz-Signature=SECRET-query-2", "/c?api_key=SECRET-query-3"}
	for round := range 3 {
		for _, hh := range []*harness{h, h2} {
			for _, p := range paths {
				hh.get(p, "Authorization", "Bearer SECRET-auth", "Cookie", "s=SECRET-cookie", "X-Api-Key", "SECRET-apikey")
			}
			hh.clock.Advance(2 * time.Second)
			hh.transport.waitForBackground()
		}
		failing.Store(round == 1)
	}
	// A URL with user information, and an upstream error carrying the URL.
	u, _ := url.Parse(h.origin.URL + "/d?password=SECRET-query-4")
	u.User = url.UserPassword("me", "SECRET-userinfo")
	req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
	if resp, err := h.client.Do(req); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	broken := New(WithLogger(logger), WithTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return nil, &url.Error{Op: "Get", URL: r.URL.String(), Err: errors.New("connection refused")}
	})))
	broken.RoundTrip(must(http.NewRequest(http.MethodGet, "http://api.example/e?token=SECRET-query-5", nil)))
	mu.Lock()
	text := logs.String()
	mu.Unlock()
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, "SECRET") {
			t.Errorf("a log record holds a secret: %s", line)
		}
	}
	if !strings.Contains(text, "REDACTED") {
		t.Fatal("no record showed a redacted URL: the test logged nothing it meant to")
	}
}

func TestRedactQuery(t *testing.T) {
	r := redactor{params: DefaultRedactedQueryParams}
	tests := []struct{ raw, want string }{
		{raw: "token=abc&x=1", want: "token=REDACTED&x=1"},
		{raw: "TOKEN=abc", want: "TOKEN=REDACTED"},
		{raw: "x=1&api%5Fkey=abc", want: "x=1&api%5Fkey=REDACTED"},
		{raw: "token", want: "token"},
		{raw: "", want: ""},
	}
	for _, tt := range tests {
		if got := r.query(tt.raw); got != tt.want {
			t.Errorf("query(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

// TestRedactURL: the query of a URL is redacted where net/http sends it
// from: RawQuery, or an opaque target, which it writes as it is.
func TestRedactURL(t *testing.T) {
	r := redactor{params: DefaultRedactedQueryParams}
	tests := []struct {
		u    *url.URL
		want string
	}{
		{u: &url.URL{Scheme: "https", Host: "a.example", Path: "/x", RawQuery: "access_token=s3cret&y=2"}, want: "https://a.example/x?access_token=REDACTED&y=2"},
		{u: &url.URL{Scheme: "https", Host: "a.example", Opaque: "/files/a%2Fb?access_token=s3cret"}, want: "https:/files/a%2Fb?access_token=REDACTED"},
		{u: &url.URL{Scheme: "https", Host: "a.example", Opaque: "/files/a%2Fb"}, want: "https:/files/a%2Fb"},
		{u: &url.URL{Scheme: "https", Host: "a.example", Path: "/x", User: url.UserPassword("u", "p")}, want: "https://a.example/x"},
	}
	for _, tt := range tests {
		if got := r.url(tt.u); got != tt.want {
			t.Errorf("url(%#v) = %q, want %q", tt.u, got, tt.want)
		}
	}
}
