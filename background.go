package httpcache

import (
	"context"
	"sync"
	"time"
)

// Defaults of the background revalidations of stale-while-revalidate.
const (
	// DefaultBackgroundLimit bounds how many background revalidations run at
	// once.
	DefaultBackgroundLimit = 16
	// DefaultBackgroundTimeout bounds each background revalidation.
	DefaultBackgroundTimeout = 30 * time.Second
)

// background runs the revalidations of stale-while-revalidate (RFC 5861
// §3): at most one per stored response at a time, at most limit at once,
// each on a context detached from the caller's with its own timeout. close
// cancels what runs and waits for it.
type background struct {
	limit   int
	timeout time.Duration

	ctx    context.Context // cancelled by close
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	running map[string]struct{}
	wg      sync.WaitGroup
}

func newBackground(limit int, timeout time.Duration) *background {
	ctx, cancel := context.WithCancel(context.Background())
	return &background{limit: limit, timeout: timeout, ctx: ctx, cancel: cancel, running: make(map[string]struct{})}
}

// acquire reserves id for a revalidation. It reports started when the
// caller should run one (with run), and closed when close has been called.
// When neither, one runs already for id, or the limit is reached: the
// stale response may be served without starting another.
// The id is returned as a string when started, for run.
func (b *background) acquire(id []byte) (idString string, started, closed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return "", false, true
	}
	if _, ok := b.running[string(id)]; ok || len(b.running) >= b.limit {
		return "", false, false
	}
	idString = string(id)
	b.running[idString] = struct{}{}
	b.wg.Add(1)
	return idString, true, false
}

// run runs work for an acquired id on its own goroutine, on a context that
// keeps parent's values but not its cancellation, ends after the timeout
// or at close, and releases id when done.
func (b *background) run(id string, parent context.Context, work func(context.Context)) {
	go func() {
		defer b.release(id)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), b.timeout)
		defer cancel()
		stop := context.AfterFunc(b.ctx, cancel)
		defer stop()
		work(ctx)
	}()
}

func (b *background) release(id string) {
	b.mu.Lock()
	delete(b.running, id)
	b.mu.Unlock()
	b.wg.Done()
}

// close stops new work, cancels what runs and waits for it to end.
func (b *background) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	b.wg.Wait()
}
