package gregjones_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/c650553b/httpcache/storage/gregjones"
	ghttpcache "github.com/gregjones/httpcache"
)

// burst runs callers Gets on s at once, each with its own deadline, and
// returns their errors once all have returned.
func burst(s *gregjones.Storage, callers int, deadline time.Duration) []error {
	errs := make([]error, callers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range callers {
		wg.Go(func() {
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			_, errs[i] = s.Get(ctx, "https://a.example/k")
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// TestBurstOnAStuckBackendLeavesBoundedOperations: 3,000 callers that
// start together on a backend that has stopped answering leave at most
// the bound of operations running behind them (1,024), not one each: the
// bound was checked at the start and counted only operations already
// left, so every caller of the burst passed it.
func TestBurstOnAStuckBackendLeavesBoundedOperations(t *testing.T) {
	backend := stuckCache{release: make(chan struct{})}
	s := gregjones.New(backend)
	before := runtime.NumGoroutine()
	errs := burst(s, 3000, 50*time.Millisecond)
	behind := runtime.NumGoroutine() - before
	stuck := burst(s, 1, time.Minute)[0]
	close(backend.release)
	if !errors.Is(stuck, gregjones.ErrBackendStuck) {
		t.Errorf("with the burst's operations left on the stuck backend, Get = %v, want ErrBackendStuck at once", stuck)
	}
	for i, err := range errs {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, gregjones.ErrBackendStuck) {
			t.Fatalf("caller %d: %v, want its deadline or ErrBackendStuck", i, err)
		}
	}
	if behind > 1024+8 { // a few goroutines of the test's and runtime's own
		t.Fatalf("%d goroutines left running on a stuck backend after a burst of 3,000 callers; want at most 1,024", behind)
	}

	// The left operations end in their own time; then Gets run again.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		err := burst(s, 1, time.Minute)[0]
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the backend answered again, Get = %v", err)
		}
	}
}

// TestBurstOnAHealthyBackendIsServed: the bound does not refuse healthy
// concurrency: 1,000 callers at once on a backend that answers all get
// its answer, the callers past the bound waiting their turn.
func TestBurstOnAHealthyBackendIsServed(t *testing.T) {
	s := gregjones.New(ghttpcache.NewMemoryCache())
	for i, err := range burst(s, 1000, time.Minute) {
		if err != nil {
			t.Fatalf("caller %d of 1,000 on a healthy backend: %v", i, err)
		}
	}
}
