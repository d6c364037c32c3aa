package httpcache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// refusingStore refuses every write: a full disk, a Redis at maxmemory.
type refusingStore struct{}

func (refusingStore) Get(context.Context, string) ([]*Entry, error) { return nil, nil }
func (refusingStore) Set(context.Context, string, *Entry, time.Duration) error {
	return errors.New("store full")
}
func (refusingStore) Delete(context.Context, string) error    { return errors.New("store down") }
func (refusingStore) DeleteURL(context.Context, string) error { return errors.New("store down") }

// TestFailedWritesHoldNoVariantBytes: a failed write is remembered with a
// digest of its entry's Variant, not the Variant itself, which holds the
// values of the request fields the response's Vary names, whole, and which
// maxFailedDeleteBytes did not count: an origin that says "Vary: X-Trace"
// to callers that send a long X-Trace pinned every such header in memory
// while the store failed (1,500 requests with a 64 KiB X-Trace: 111 MB of
// heap, counted as 234 KB).
func TestFailedWritesHoldNoVariantBytes(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Vary", "X-Trace")
		io.WriteString(w, "ok")
	}))
	defer origin.Close()
	tr := New(WithStorage(refusingStore{}), WithSynchronousWrites(true),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer tr.Close()
	client := &http.Client{Transport: tr}

	const requests = 1500
	big := strings.Repeat("t", 64<<10) // a 64 KiB request field
	before := heapInUse()
	for i := range requests {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/r/%d", origin.URL, i), nil)
		req.Header.Set("X-Trace", fmt.Sprintf("%d-%s", i, big))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	after := heapInUse()
	f := tr.failedDeletes
	f.mu.Lock()
	records, counted := f.size(), f.bytes
	f.mu.Unlock()
	grown := after - before
	t.Logf("records=%d counted=%d B (bound %d B), heap in use grew %d B", records, counted, maxFailedDeleteBytes, grown)
	// Attribution: forgetting the records gives the heap back.
	f.mu.Lock()
	clear(f.writes)
	f.mu.Unlock()
	released := after - heapInUse()
	t.Logf("forgetting the records released %d B", released)
	if grown > 4*counted+8<<20 {
		t.Errorf("failed-write records hold %d B of heap but count %d B against maxFailedDeleteBytes (%d): the variants they keep are not counted", grown, counted, maxFailedDeleteBytes)
	}
	if grown > maxFailedDeleteBytes+8<<20 {
		t.Errorf("heap grew %d B, past maxFailedDeleteBytes %d", grown, maxFailedDeleteBytes)
	}
}
