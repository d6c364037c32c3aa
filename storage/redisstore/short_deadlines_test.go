package redisstore_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/redisstore"
	"github.com/redis/go-redis/v9"
)

// TestSilentRedisUnderShortDeadlinesIsAnOutage: callers whose deadlines
// are shorter than the store's timeout, but long enough that a Redis that
// answers would have (a quarter of the timeout), find a silent Redis down
// after three of them in a row, as the store's own timeout would: the
// next caller fails fast instead of waiting out its deadline too.
func TestSilentRedisUnderShortDeadlinesIsAnOutage(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: silentRedis(t), MaxRetries: -1})
	defer client.Close()
	s := redisstore.New(client, redisstore.WithTimeout(400*time.Millisecond), redisstore.WithRetryWait(time.Hour))
	get := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := s.Get(ctx, "k")
		return err
	}
	for i := range 3 {
		if err := get(); err == nil || errors.Is(err, redisstore.ErrUnavailable) {
			t.Fatalf("Get %d = %v, want the caller's deadline", i, err)
		}
	}
	if err := get(); !errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("after three callers waited most of the store's timeout for a silent Redis, Get = %v, want ErrUnavailable", err)
	}
}

// lookups records the error of every Get a Transport makes on a Store.
type lookups struct {
	*redisstore.Store
	mu   sync.Mutex
	errs []error
}

func (l *lookups) Get(ctx context.Context, key string) ([]*httpcache.Entry, error) {
	entries, err := l.Store.Get(ctx, key)
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
	return entries, err
}

// TestSilentRedisUnderShortDeadlinesThroughTransport: through a
// Transport, requests whose deadlines are shorter than the store's
// timeout all get the origin's answer, which comes at once, from a
// silent Redis: a lookup gets half the caller's time, and three such
// lookups in a row tell the store that Redis is down, so that later
// requests do not wait on it at all. Before, every request spent its
// whole deadline in the lookup and failed.
func TestSilentRedisUnderShortDeadlinesThroughTransport(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store") // no writes: only lookups ask Redis
		io.WriteString(w, "from the origin")
	}))
	defer origin.Close()
	client := redis.NewClient(&redis.Options{Addr: silentRedis(t), MaxRetries: -1})
	defer client.Close()
	store := &lookups{Store: redisstore.New(client, redisstore.WithTimeout(400*time.Millisecond), redisstore.WithRetryWait(time.Hour))}
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	tr := httpcache.New(httpcache.WithStorage(store), httpcache.WithTransport(upstream))
	defer tr.Close()
	const requests = 6
	for i := range requests {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, "GET", origin.URL+"/doc", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			cancel()
			t.Fatalf("request %d failed because of a silent Redis: %v", i, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		if err != nil || string(body) != "from the origin" {
			t.Fatalf("request %d: body %q, %v", i, body, err)
		}
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	if len(store.errs) != requests {
		t.Fatalf("%d lookups for %d requests", len(store.errs), requests)
	}
	for i, err := range store.errs[3:] {
		if !errors.Is(err, redisstore.ErrUnavailable) {
			t.Errorf("lookup %d = %v, want ErrUnavailable: the store never took the silent Redis to be down", i+3, err)
		}
	}
}
