package httpcache_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
)

// silentStorage is a store on a network that never answers: every call
// waits for its context to end.
type silentStorage struct {
	gets atomic.Int64
}

func (s *silentStorage) Get(ctx context.Context, key string) ([]*httpcache.Entry, error) {
	s.gets.Add(1)
	<-ctx.Done()
	return nil, ctx.Err()
}

func (s *silentStorage) Set(ctx context.Context, key string, e *httpcache.Entry, ttl time.Duration) error {
	<-ctx.Done()
	return ctx.Err()
}

func (s *silentStorage) Delete(ctx context.Context, key string) error {
	<-ctx.Done()
	return ctx.Err()
}

func (s *silentStorage) DeleteURL(ctx context.Context, url string) error {
	<-ctx.Done()
	return ctx.Err()
}

// boundedSilentStorage is a silentStorage that says it bounds its own
// calls, and does, by a timeout longer than the callers' deadlines.
type boundedSilentStorage struct{ silentStorage }

func (s *boundedSilentStorage) TimeBounded() bool { return true }

func (s *boundedSilentStorage) Get(ctx context.Context, key string) ([]*httpcache.Entry, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return s.silentStorage.Get(ctx, key)
}

// TestSilentStoreLeavesTheCallerTimeForTheOrigin: a store that does not
// answer gets half the time a caller's deadline leaves, so that the
// request still reaches the origin, which answers at once. Without the
// share, a store whose own timeout (or the Transport's storage timeout)
// is longer than the caller's deadline takes all of it, and the request
// fails because of the cache.
func TestSilentStoreLeavesTheCallerTimeForTheOrigin(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, "from the origin")
	}))
	defer origin.Close()
	stores := map[string]httpcache.Storage{
		"bounds its own calls":           &boundedSilentStorage{},
		"bounded by the storage timeout": &silentStorage{},
	}
	for name, store := range stores {
		t.Run(name, func(t *testing.T) {
			upstream := &http.Transport{}
			defer upstream.CloseIdleConnections()
			tr := httpcache.New(httpcache.WithStorage(store), httpcache.WithTransport(upstream),
				httpcache.WithStorageTimeout(time.Minute))
			defer tr.Close()
			for i := range 3 {
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				req, _ := http.NewRequestWithContext(ctx, "GET", origin.URL+"/doc", nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					cancel()
					t.Fatalf("request %d: %v: the silent store took the caller's whole deadline", i, err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				cancel()
				if err != nil || string(body) != "from the origin" {
					t.Fatalf("request %d: body %q, %v", i, body, err)
				}
			}
		})
	}
}

// TestReadShareNeedsACallerDeadline: without a deadline of the caller's,
// a read is bounded by the storage timeout alone, as before.
func TestReadShareNeedsACallerDeadline(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "from the origin")
	}))
	defer origin.Close()
	store := &silentStorage{}
	tr := httpcache.New(httpcache.WithStorage(store), httpcache.WithStorageTimeout(20*time.Millisecond))
	defer tr.Close()
	req, _ := http.NewRequest("GET", origin.URL+"/doc", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("a store silent past the storage timeout failed the request: %v", err)
	}
	resp.Body.Close()
	if store.gets.Load() != 1 {
		t.Fatalf("store asked %d times, want 1", store.gets.Load())
	}
}
