package httpcache

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Back-off (issue 15): an origin's Retry-After is honoured per origin and
// partition, with an injected clock.

// limitedOrigin answers 429 with Retry-After while limited, and counts the
// requests it gets.
type limitedOrigin struct {
	limited    atomic.Bool
	retryAfter atomic.Value // string
}

func (o *limitedOrigin) handler(w http.ResponseWriter, r *http.Request) {
	if o.limited.Load() {
		w.Header().Set("Retry-After", o.retryAfter.Load().(string))
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, "slow down")
		return
	}
	w.Header().Set("Cache-Control", r.URL.Query().Get("cc"))
	fmt.Fprint(w, "page for "+r.Header.Get("Authorization"))
}

func TestBackoffHonoursRetryAfter(t *testing.T) {
	for _, coalescing := range []bool{true, false} {
		t.Run(fmt.Sprintf("coalescing=%v", coalescing), func(t *testing.T) {
			o := &limitedOrigin{}
			o.retryAfter.Store("30")
			h := newHarness(t, o.handler, WithCoalescing(CoalesceOptions{Disabled: !coalescing}))
			o.limited.Store(true)
			if got := h.get("/a"); got.status != 429 {
				t.Fatalf("first: %d", got.status)
			}
			h.wantOriginRequests(1)
			h.clock.Advance(10 * time.Second)
			for range 5 {
				got := h.get("/a")
				// RFC 9211 §2.2: not forwarded, and no stored response.
				if got.status != 429 || got.body != "slow down" || got.header.Get("Retry-After") != "20" || got.cache.Detail != detailRetryAfter ||
					got.cache.Forward != "" || got.cache.Hit {
					t.Fatalf("during the back-off: %d %q Retry-After %q %+v", got.status, got.body, got.header.Get("Retry-After"), got.cache)
				}
			}
			if got := h.get("/b"); got.status != 429 {
				t.Fatalf("another URL of the origin: %d", got.status)
			}
			h.wantOriginRequests(1) // no request went out
			// Another partition, another origin: not held.
			if got := h.get("/a", "Authorization", "alice"); got.cache.Detail == detailRetryAfter {
				t.Fatal("another partition was held")
			}
			h.wantOriginRequests(2)
			other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "other") }))
			defer other.Close()
			if body, status := getWith(t, h.client, other.URL+"/a", nil); body != "other" || status.Detail == detailRetryAfter {
				t.Fatalf("another origin was held: %q %+v", body, status)
			}
			o.limited.Store(false)
			h.clock.Advance(21 * time.Second)
			if got := h.get("/a"); got.status != 200 {
				t.Fatalf("the probe: %d", got.status)
			}
			h.wantOriginRequests(3)
			if got := h.get("/a"); got.status != 200 {
				t.Fatalf("after the back-off: %d", got.status)
			}
			h.wantOriginRequests(4)
		})
	}
}

func TestBackoffRetryAfterDateAndCap(t *testing.T) {
	o := &limitedOrigin{}
	h := newHarness(t, o.handler, WithBackoff(BackoffOptions{MaxRetryAfter: time.Minute}))
	o.retryAfter.Store(httpDate(h.clock.Now().Add(2 * time.Hour))) // capped at a minute
	o.limited.Store(true)
	h.get("/a")
	if got := h.get("/a"); got.header.Get("Retry-After") != "60" {
		t.Fatalf("Retry-After as a date, capped: %q", got.header.Get("Retry-After"))
	}
	h.clock.Advance(61 * time.Second)
	h.get("/a") // the probe
	h.wantOriginRequests(2)
	if _, err := NewTransport(WithBackoff(BackoffOptions{MaxRetryAfter: -1})); err == nil {
		t.Error("a negative cap was accepted")
	}
}

// TestBackoffServesStoredResponse: a stale stored response answers during
// a back-off within its stale-if-error window, or the option's window;
// background revalidations wait too.
func TestBackoffServesStoredResponse(t *testing.T) {
	o := &limitedOrigin{}
	o.retryAfter.Store("120")
	h := newHarness(t, o.handler, WithBackoff(BackoffOptions{StaleWindow: time.Hour}))
	h.get("/a?cc=max-age%3D1")
	h.get("/s?cc=max-age%3D1,stale-while-revalidate%3D600")
	h.clock.Advance(5 * time.Second)
	o.limited.Store(true)
	h.get("/a?cc=max-age%3D1") // revalidated: 429, back-off starts
	requests := h.requests.Load()
	for range 3 {
		// RFC 9211 §2.1: not forwarded, so a hit, stale (a negative ttl).
		if got := h.get("/a?cc=max-age%3D1"); got.status != 200 || got.body != "page for " || got.cache.Detail != detailRetryAfter ||
			!got.cache.Hit || got.cache.Forward != "" || got.cache.TTL >= 0 {
			t.Fatalf("during the back-off: %d %q %+v", got.status, got.body, got.cache)
		}
		if got := h.get("/s?cc=max-age%3D1,stale-while-revalidate%3D600"); !got.cache.Hit {
			t.Fatalf("a stale-while-revalidate hit: %+v", got.cache)
		}
		h.transport.waitForBackground()
	}
	if n := h.requests.Load(); n != requests {
		t.Fatalf("%d requests reached the origin during the back-off", n-requests)
	}
}

// TestBackoffNeverServesWhatMustBeValidated: the option's stale window
// does not override a directive that forbids serving a response without
// validation (RFC 9111 §4.2.4, §5.2.2.2: must-revalidate; §5.2.2.4:
// no-cache; in a shared cache proxy-revalidate and s-maxage): the caller
// gets the origin's last answer instead.
func TestBackoffNeverServesWhatMustBeValidated(t *testing.T) {
	for _, tt := range []struct {
		cc     string
		shared bool
	}{
		{"max-age=1, must-revalidate", false},
		{"max-age=600, no-cache", false},
		{"max-age=1, proxy-revalidate", true},
		{"s-maxage=1", true},
	} {
		t.Run(tt.cc, func(t *testing.T) {
			o := &limitedOrigin{}
			o.retryAfter.Store("120")
			h := newHarness(t, o.handler, WithShared(tt.shared), WithBackoff(BackoffOptions{StaleWindow: time.Hour}))
			cc := "?cc=" + url.QueryEscape(tt.cc)
			h.get("/a" + cc)
			h.get("/b" + cc)
			h.clock.Advance(5 * time.Second)
			o.limited.Store(true)
			h.get("/a" + cc) // 429: the back-off starts
			if got := h.get("/b" + cc); got.status != http.StatusTooManyRequests || got.cache.Detail != detailRetryAfter {
				t.Fatalf("during the back-off: %d %q %+v, want the origin's 429 again", got.status, got.body, got.cache)
			}
		})
	}
}

func TestBackoffOff(t *testing.T) {
	o := &limitedOrigin{}
	o.retryAfter.Store("30")
	h := newHarness(t, o.handler, WithBackoff(BackoffOptions{Disabled: true}))
	o.limited.Store(true)
	for range 3 {
		h.get("/a")
	}
	h.wantOriginRequests(3)
}

// TestBackoffReplaysOnlyWhatMayBeShared: the origin's last answer holds
// back every URL of its scope, and in a shared cache every anonymous user;
// its header and body go again only to its own URL (another gets its
// status alone: backoff_replay_target_test.go). There, a private or
// no-store answer is replayed as its status alone: not its body or fields
// (RFC 9111 §5.2.2.5, §5.2.2.7); a field a qualified no-cache names,
// never (§5.2.2.4).
func TestBackoffReplaysOnlyWhatMayBeShared(t *testing.T) {
	for _, tt := range []struct {
		cc                string
		shared            bool
		keepBody, account bool
	}{
		{cc: "private, no-store", shared: true},
		{cc: "private", shared: true},
		{cc: "no-store", shared: false},
		{cc: "private", shared: false, keepBody: true, account: true}, // one user's partition
		{cc: `no-cache="X-Account"`, shared: true, keepBody: true},
	} {
		t.Run(fmt.Sprintf("%s/shared=%v", tt.cc, tt.shared), func(t *testing.T) {
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/alice/orders" {
					w.Header().Set("Cache-Control", tt.cc)
					w.Header().Set("Retry-After", "60")
					w.Header().Set("X-Account", "alice-42")
					w.WriteHeader(http.StatusTooManyRequests)
					fmt.Fprint(w, "alice's quota is used up")
					return
				}
				fmt.Fprint(w, "public page")
			}, WithShared(tt.shared))
			h.get("/alice/orders")
			other := h.get("/bob/home")
			if other.status != http.StatusTooManyRequests || other.header.Get("Retry-After") == "" {
				t.Fatalf("during the back-off: %d, Retry-After %q", other.status, other.header.Get("Retry-After"))
			}
			if other.body != "" || other.header.Get("X-Account") != "" {
				t.Fatalf("another URL got the answer's body %q or fields %v", other.body, other.header)
			}
			got := h.get("/alice/orders")
			if got.status != http.StatusTooManyRequests || got.header.Get("Retry-After") == "" {
				t.Fatalf("during the back-off: %d, Retry-After %q", got.status, got.header.Get("Retry-After"))
			}
			if account := got.header.Get("X-Account") != ""; account != tt.account {
				t.Fatalf("the replay carries X-Account = %v, want %v: %v", account, tt.account, got.header)
			}
			if kept := got.body != ""; kept != tt.keepBody {
				t.Fatalf("the replay's body is %q; kept = %v, want %v", got.body, kept, tt.keepBody)
			}
		})
	}
}

// TestBackoffKeepsItsBytesBounded: what back-off keeps for replay, over
// every origin and partition, stays within maxBackoffKeptBytes, measured
// over the scopes' headers, bodies and what they keep of the requests
// answered; past it an answer is replayed as
// its status and Retry-After (4,000 users' 429s with 16 KiB bodies and a
// 32 KiB header held 230 MiB before).
func TestBackoffKeepsItsBytesBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("4,000 requests")
	}
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		w.Header().Set("X-Padding", strings.Repeat("p", 32<<10))
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, strings.Repeat("b", 16<<10))
	})
	const users = 4000
	for i := range users {
		got := h.get("/a", "Authorization", fmt.Sprint("user-", i))
		if got.status != http.StatusTooManyRequests {
			t.Fatalf("user %d: %d", i, got.status)
		}
	}
	b := h.transport.backoff
	b.mu.Lock()
	var kept int64
	for _, st := range b.scopes {
		kept += headerSize(st.header) + st.answered.size()
		if body := st.body.Load(); body != nil {
			kept += int64(len(*body))
		}
	}
	scopes := len(b.scopes)
	b.mu.Unlock()
	if kept > maxBackoffKeptBytes || b.kept.Load() != kept {
		t.Fatalf("%d scopes keep %d bytes (counted %d), over %d", scopes, kept, b.kept.Load(), maxBackoffKeptBytes)
	}
	// A replay past the budget still says when to come back.
	got := h.get("/a", "Authorization", fmt.Sprint("user-", users-1))
	if got.status != http.StatusTooManyRequests || got.header.Get("Retry-After") == "" || got.cache.Detail != detailRetryAfter {
		t.Fatalf("replay: %d Retry-After %q %+v", got.status, got.header.Get("Retry-After"), got.cache)
	}
}

// TestBackoffBudgetIsFreedByEndedScopes: back-offs that have ended give
// their bytes back when the budget runs short. They kept them until 4,096
// scopes piled up, so 4 MiB of ended back-offs made every later one replay
// its status alone.
func TestBackoffBudgetIsFreedByEndedScopes(t *testing.T) {
	b := newBackoff(BackoffOptions{}, false)
	now := time.Unix(1_700_000_000, 0)
	answer := func() *http.Response {
		h := http.Header{"Retry-After": {"1"}, "X-Padding": {strings.Repeat("p", 48<<10)}}
		return &http.Response{StatusCode: 429, Header: h, Body: io.NopCloser(strings.NewReader("slow down"))}
	}
	for i := range 100 {
		b.observe(fmt.Sprint("https://origin-", i), answeredRequest{}, answer(), now)
	}
	later := now.Add(time.Hour) // every one of those back-offs ended long ago
	b.observe("https://fresh", answeredRequest{}, answer(), later)
	b.mu.Lock()
	st, n := b.scopes["https://fresh"], len(b.scopes)
	b.mu.Unlock()
	t.Logf("scopes %d, kept %d", n, b.kept.Load())
	if st.header.Get("X-Padding") == "" {
		t.Fatalf("a new back-off keeps nothing of its answer: %d bytes are held by %d back-offs that ended an hour ago", b.kept.Load(), n-1)
	}
}
