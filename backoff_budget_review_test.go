package httpcache

// Regression tests for findings of a review of this session's commits:
// each comment says what the former code did.

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Scopes whose back-off has ended stay in the map (swept only at
// maxBackoffScopes) and keep their charge: 4 MiB of ended back-offs make
// every later one replay the status alone, for good.
func TestBackoffBudgetIsFreedByEndedScopes(t *testing.T) {
	b := newBackoff(BackoffOptions{}, false)
	now := time.Unix(1_700_000_000, 0)
	answer := func() *http.Response {
		h := http.Header{"Retry-After": {"1"}, "X-Padding": {strings.Repeat("p", 48<<10)}}
		return &http.Response{StatusCode: 429, Header: h, Body: io.NopCloser(strings.NewReader("slow down"))}
	}
	for i := range 100 {
		b.observe(fmt.Sprint("https://origin-", i), answer(), now)
	}
	later := now.Add(time.Hour) // every one of those back-offs ended long ago
	b.observe("https://fresh", answer(), later)
	b.mu.Lock()
	st, n := b.scopes["https://fresh"], len(b.scopes)
	b.mu.Unlock()
	t.Logf("scopes %d, kept %d", n, b.kept.Load())
	if st.header.Get("X-Padding") == "" {
		t.Fatalf("a new back-off keeps nothing of its answer: %d bytes are held by %d back-offs that ended an hour ago", b.kept.Load(), n-1)
	}
}
