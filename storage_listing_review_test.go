package httpcache

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The prefix filter must not let the value of a redacted query parameter
// be recovered one character at a time from the page. (Found by review.)
func TestEntriesPrefixCannotProbeRedactedValues(t *testing.T) {
	h := listingHarness(t, WithRedactedQueryParams("token"))
	h.get("/v1/a?token=s3cr3t")
	handler := h.transport.DebugHandler(DebugOptions{})
	count := func(prefix string) int {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest("GET", "/?format=json&prefix="+url.QueryEscape(prefix), nil))
		return strings.Count(rec.Body.String(), `"URL"`)
	}
	base := h.origin.URL + "/v1/a?token="
	recovered := ""
	for len(recovered) < 6 {
		found := false
		for _, c := range "abcdefghijklmnopqrstuvwxyz0123456789" {
			if count(base+recovered+string(c)) > 0 {
				recovered += string(c)
				found = true
				break
			}
		}
		if !found {
			break
		}
	}
	if recovered != "" {
		t.Fatalf("redacted token value recovered through the prefix filter: %q", recovered)
	}
}

// Listing a TieredStorage must not copy back-tier entries into the memory
// tier, evicting hot ones. (Found by review.)
func TestEntriesLeavesTheMemoryTierAlone(t *testing.T) {
	front, back := NewMemoryStorage(0), NewMemoryStorage(0)
	tiered, err := NewTieredStorage(front, back, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	h := listingHarness(t, WithStorage(tiered))
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		back.Set(ctx, h.origin.URL+"/cold/"+string(rune('a'+i%26))+string(rune('a'+i/26)), storedAt(http.Header{}), time.Hour)
	}
	inFront := func() int {
		n := 0
		front.Keys(ctx, "", func(string) bool { n++; return true })
		return n
	}
	if n := inFront(); n != 0 {
		t.Fatalf("front holds %d before listing", n)
	}
	if _, err := h.transport.Entries(ctx, "", 0); err != nil {
		t.Fatal(err)
	}
	if n := inFront(); n != 0 {
		t.Fatalf("Entries (a read-only listing) wrote %d back-tier entries into the memory tier", n)
	}
}

// Listing must not mark entries recently used: the least recently used
// entry is still the first evicted after it. (Found by review.)
func TestEntriesLeavesRecencyAlone(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryStorage(4 << 10)
	h := listingHarness(t, WithStorage(m))
	u := h.origin.URL
	m.Set(ctx, u+"/z", storedAt(http.Header{}), time.Hour) // least recently used
	m.Set(ctx, u+"/a", storedAt(http.Header{}), time.Hour)
	m.Set(ctx, u+"/b", storedAt(http.Header{}), time.Hour)
	if _, err := h.transport.Entries(ctx, "", 0); err != nil {
		t.Fatal(err)
	}
	// Fill until the first eviction of one of the three.
	for i := 0; i < 1000; i++ {
		m.Set(ctx, u+"/n/"+strings.Repeat("x", i%7)+string(rune('A'+i%26))+string(rune('A'+i/26)), storedAt(http.Header{}), time.Hour)
		z, a, b := m.holds(u+"/z"), m.holds(u+"/a"), m.holds(u+"/b")
		if z && a && b {
			continue
		}
		if z {
			t.Fatalf("first eviction after a listing dropped a recently used entry (/a %v /b %v), kept the LRU /z", a, b)
		}
		return
	}
	t.Fatal("no eviction")
}

// holds reports whether key is stored, without touching its recency.
func (m *MemoryStorage) holds(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.items[key] != nil
}

// A prefix with a redacted parameter matches as Entries shows it.
func TestEntriesPrefixMatchesTheRedactedForm(t *testing.T) {
	h := listingHarness(t)
	h.get("/v1/a?token=s3cr3t&page=2")
	h.get("/v1/b?page=2")
	ctx := context.Background()
	if got, _ := h.transport.Entries(ctx, h.origin.URL+"/v1/a?token=REDACTED", 0); len(got) != 1 {
		t.Fatalf("redacted form: %+v", got)
	}
	if got, _ := h.transport.Entries(ctx, h.origin.URL+"/v1/a?token=s", 0); len(got) != 0 {
		t.Fatalf("a prefix of the secret matched: %+v", got)
	}
	if n, err := h.transport.InvalidatePrefix(ctx, h.origin.URL+"/v1/a?token=s3"); err != nil || n != 0 {
		t.Fatalf("InvalidatePrefix by the secret removed %d, %v", n, err)
	}
	if n, _ := h.transport.InvalidatePrefix(ctx, h.origin.URL+"/v1/"); n != 2 {
		t.Fatalf("InvalidatePrefix by path removed %d", n)
	}
}
