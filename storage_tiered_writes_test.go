package httpcache_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	httpcache "github.com/c650553b/httpcache"
)

// setHeldStore is a shared tier whose next Set, once armed, waits to
// be released before it writes: a slow Redis round trip, or a write-behind
// queue that has not reached it yet.
type setHeldStore struct {
	*httpcache.MemoryStorage
	holdSet chan chan struct{}
	sets    atomic.Int64
}

func newSetHeldStore() *setHeldStore {
	return &setHeldStore{MemoryStorage: httpcache.NewMemoryStorage(0), holdSet: make(chan chan struct{}, 1)}
}

func (s *setHeldStore) Set(ctx context.Context, key string, e *httpcache.Entry, ttl time.Duration) error {
	select {
	case release := <-s.holdSet:
		<-release
	default:
	}
	defer s.sets.Add(1)
	return s.MemoryStorage.Set(ctx, key, e, ttl)
}

func firstBody(t *testing.T, entries []*httpcache.Entry) string {
	t.Helper()
	if len(entries) == 0 {
		return "(none)"
	}
	r, err := entries[0].Body.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, _ := io.ReadAll(r)
	if len(b) > 16 {
		return string(b[:16]) + "..."
	}
	return string(b)
}

// TestTieredWriteTheMemoryRefusesKeepsNoOlderRead: Set of an entry too
// large for the memory tier deletes the key there, then writes the shared
// tier. A Get that reads the shared tier before that write lands must not
// leave the superseded entry in memory, where it was served for trustFor
// although the shared tier held the new one (found by a review).
func TestTieredWriteTheMemoryRefusesKeepsNoOlderRead(t *testing.T) {
	ctx := context.Background()
	const key = "https://api.example/item"
	back := newSetHeldStore()
	s, err := httpcache.NewTieredStorage(httpcache.NewMemoryStorage(16<<10), back, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	entry := func(body string) *httpcache.Entry {
		return &httpcache.Entry{StatusCode: http.StatusOK, Header: http.Header{"Cache-Control": {"max-age=60"}},
			RequestTime: time.Now(), ResponseTime: time.Now(), Body: httpcache.BytesBody(body)}
	}
	if err := s.Set(ctx, key, entry("v1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	back.holdSet <- release
	set := make(chan error, 1)
	v2 := "v2" + strings.Repeat("x", 64<<10) // larger than the memory tier's bound
	go func() { set <- s.Set(ctx, key, entry(v2), time.Hour) }()
	httpcache.WaitUntil(t, "the held Set", func() bool { return len(back.holdSet) == 0 })
	// Memory no longer holds v1; the shared tier still does.
	if got := firstBody(t, must(s.Get(ctx, key))); got != "v1" {
		t.Logf("during the write: %q", got)
	}
	close(release)
	if err := <-set; err != nil {
		t.Fatal(err)
	}
	if got := firstBody(t, must(s.Get(ctx, key))); !strings.HasPrefix(got, "v2") {
		t.Fatalf("after Set(v2) returned: Get = %q, want v2 (the shared tier holds v2; memory kept the superseded v1)", got)
	}
}

// TestTieredWriteBehindKeepsNoOlderRead is the Transport's own path: the
// memory tier is written at once and the shared tier behind the request
// (MemoryTier's tieredBehind). When the memory tier cannot hold the new
// response (here: larger than its bound; equally an eviction or trustFor
// ending before the queued write lands), a request meanwhile reads the old
// entry from the shared tier; it must not stay in memory once the write
// lands, where it was a hit for trustFor.
func TestTieredWriteBehindKeepsNoOlderRead(t *testing.T) {
	var version atomic.Int64
	version.Store(1)
	big := strings.Repeat("x", 64<<10)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		if version.Load() == 1 {
			io.WriteString(w, "v1")
			return
		}
		io.WriteString(w, "v2"+big)
	}))
	defer origin.Close()
	back := newSetHeldStore()
	tiered, err := httpcache.NewTieredStorage(httpcache.NewMemoryStorage(16<<10), back, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tr := httpcache.New(httpcache.WithStorage(tiered))
	defer tr.Close()
	client := &http.Client{Transport: tr}
	get := func(noCache bool) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, origin.URL+"/item", nil)
		if noCache {
			req.Header.Set("Cache-Control", "no-cache")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if len(b) > 16 {
			b = b[:16]
		}
		return string(b)
	}
	if got := get(false); got != "v1" {
		t.Fatalf("first: %q", got)
	}
	httpcache.WaitUntil(t, "v1 in the shared tier", func() bool { return back.sets.Load() == 1 })
	version.Store(2)
	release := make(chan struct{})
	back.holdSet <- release
	if got := get(true); !strings.HasPrefix(got, "v2") { // stores v2: memory refuses it, the shared tier's write is held
		t.Fatalf("no-cache: %q", got)
	}
	httpcache.WaitUntil(t, "the held write", func() bool { return len(back.holdSet) == 0 })
	if got := get(false); !strings.HasPrefix(got, "v2") { // pending write answers; the read of v1 is kept in memory
		t.Fatalf("while the write is pending: %q, want v2", got)
	}
	close(release)
	httpcache.WaitUntil(t, "v2 in the shared tier", func() bool { return back.sets.Load() == 2 })
	if got := get(false); !strings.HasPrefix(got, "v2") {
		t.Fatalf("after the write landed: %q, want v2: the superseded v1 came back from the memory tier", got)
	}
}
