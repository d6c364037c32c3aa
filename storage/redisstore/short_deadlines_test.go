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
// are all shorter than the store's timeout find a silent Redis down, as
// the store's own timeout would: their ends start PINGs bounded by the
// store's timeout, which time out, and the store then fails fast. Before,
// every caller waited out its deadline on it.
func TestSilentRedisUnderShortDeadlinesIsAnOutage(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: silentRedis(t), MaxRetries: -1})
	defer client.Close()
	s := redisstore.New(client, redisstore.WithTimeout(100*time.Millisecond), redisstore.WithRetryWait(time.Hour))
	get := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Millisecond)
		defer cancel()
		_, err := s.Get(ctx, "k")
		return err
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		err := get()
		if errors.Is(err, redisstore.ErrUnavailable) {
			return
		}
		if err == nil {
			t.Fatal("a silent Redis answered")
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10s of callers with deadlines shorter than the store's timeout, Get = %v, want ErrUnavailable", err)
		}
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
// silent Redis: a lookup gets half the caller's time, and the store's
// PINGs find Redis down, so that later requests do not wait on it at all.
// Before, every request spent its whole deadline in the lookup and failed.
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
	// Requests until the store fails fast, and two more.
	requests := 0
	for fast := 0; fast < 3; requests++ {
		if requests == 100 {
			t.Fatal("100 requests, and the store never took the silent Redis to be down")
		}
		i := requests
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
		store.mu.Lock()
		if n := len(store.errs); n > 0 && errors.Is(store.errs[n-1], redisstore.ErrUnavailable) {
			fast++
		}
		store.mu.Unlock()
	}
}
