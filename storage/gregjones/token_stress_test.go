package gregjones_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/gregjones"
)

// flakyCache answers at once, or, while gate is set, once the gate is
// closed: a backend that stalls and recovers.
type flakyCache struct {
	gate    atomic.Pointer[chan struct{}]
	waiting atomic.Int64 // operations waiting at the gate
}

func (c *flakyCache) wait() {
	if g := c.gate.Load(); g != nil {
		c.waiting.Add(1)
		defer c.waiting.Add(-1)
		<-*g
	}
}
func (c *flakyCache) Get(string) ([]byte, bool) { c.wait(); return nil, false }
func (c *flakyCache) Set(string, []byte)        { c.wait() }
func (c *flakyCache) Delete(string)             { c.wait() }

// TestTokensComeBackAfterStallsAndTinyDeadlines: callers with every
// kind of deadline (past, zero, nanoseconds, milliseconds, none but
// cancellable) and every operation hammer a backend that stalls and
// recovers several times. Once it answers again, no token is lost: 1,024
// operations held at once by a slow-but-answering backend all start (none
// waits for a token that never comes back), and ErrBackendStuck is never
// returned again.
func TestTokensComeBackAfterStallsAndTinyDeadlines(t *testing.T) {
	backend := &flakyCache{}
	s := gregjones.New(backend)
	entry := &httpcache.Entry{Header: map[string][]string{"A": {"b"}}}
	var wg sync.WaitGroup
	for round := range 5 {
		gate := make(chan struct{})
		backend.gate.Store(&gate)
		for i := range 400 {
			wg.Go(func() {
				var ctx context.Context
				var cancel context.CancelFunc
				switch i % 5 {
				case 0:
					ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
				case 1:
					ctx, cancel = context.WithTimeout(context.Background(), time.Duration(rand.IntN(1000)))
				case 2:
					ctx, cancel = context.WithTimeout(context.Background(), time.Duration(rand.IntN(3))*time.Millisecond)
				case 3:
					ctx, cancel = context.WithCancel(context.Background())
					time.AfterFunc(time.Duration(rand.IntN(2000))*time.Microsecond, cancel)
				default:
					ctx, cancel = context.WithTimeout(context.Background(), 5*time.Millisecond)
				}
				defer cancel()
				key := "https://a.example/k"
				var err error
				switch (i / 5) % 4 {
				case 0:
					_, err = s.Get(ctx, key)
				case 1:
					err = s.Set(ctx, key, entry, time.Minute)
				case 2:
					err = s.Delete(ctx, key)
				default:
					err = s.DeleteURL(ctx, key)
				}
				if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && !errors.Is(err, gregjones.ErrBackendStuck) {
					t.Errorf("round %d: %v", round, err)
				}
			})
		}
		time.Sleep(10 * time.Millisecond)
		backend.gate.Store(nil)
		close(gate)
		wg.Wait()
	}
	// Every left operation ends now that the gate is open. 1,024 operations
	// held at once (the bound) must then all reach the backend.
	for deadline := time.Now().Add(time.Second); backend.waiting.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	hold := make(chan struct{})
	backend.gate.Store(&hold)
	started := make(chan error, 1024)
	for range 1024 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, err := s.Get(ctx, "https://a.example/other")
			started <- err
		})
	}
	for deadline := time.Now().Add(time.Second); backend.waiting.Load() < 1024; {
		if time.Now().After(deadline) {
			backend.gate.Store(nil)
			close(hold)
			wg.Wait()
			t.Fatalf("only %d of 1,024 operations reached the backend: tokens were lost", backend.waiting.Load())
		}
		time.Sleep(time.Millisecond)
	}
	backend.gate.Store(nil)
	close(hold)
	wg.Wait()
	close(started)
	for err := range started {
		if err != nil {
			t.Fatalf("after the backend recovered, an operation among 1,024 = %v: a token was lost", err)
		}
	}
}
