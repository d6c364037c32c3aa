package gregjones_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/c650553b/httpcache/storage/gregjones"
)

// remoteCache is a healthy backend on a network: every operation is
// answered, after latency, and any number run at once (as a memcache
// client's pool does).
type remoteCache struct {
	latency time.Duration
	mu      sync.Mutex
	m       map[string][]byte
}

func (c *remoteCache) Get(key string) ([]byte, bool) {
	time.Sleep(c.latency)
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

func (c *remoteCache) Set(key string, v []byte) {
	time.Sleep(c.latency)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[key] = v
}

func (c *remoteCache) Delete(key string) {
	time.Sleep(c.latency)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

// TestHealthyRemoteBackendIsNotThrottledIntoTimeouts: 1,000 lookups at
// once on a backend that answers every one in 20ms, each caller allowing
// 200ms (ten times the backend's latency). Before, all ran at once and
// were answered in about 20ms. With at most 64 running, they are served
// in waves of 64 (64 per 20ms, 640 in 200ms at best), and the callers at
// the back of the queue run out of time waiting for a token though the
// backend never failed one operation: the bound caps a healthy backend's
// throughput at 64/latency (3,200 operations a second at 20ms, 12,800 at
// 5ms) per Storage, with no option to raise it.
func TestHealthyRemoteBackendIsNotThrottledIntoTimeouts(t *testing.T) {
	backend := &remoteCache{latency: 20 * time.Millisecond, m: map[string][]byte{}}
	s := gregjones.New(backend)
	const callers = 1000
	errs := make([]error, callers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range callers {
		wg.Go(func() {
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			_, errs[i] = s.Get(ctx, "https://a.example/k")
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d lookups failed (e.g. %v) in %v on a backend that answers every one in 20ms; callers allowed 200ms", failed, callers, firstErr(errs), time.Since(began))
	}
}

func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
