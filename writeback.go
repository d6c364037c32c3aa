package httpcache

import (
	"sync"
)

// Writing behind: a Storage other than MemoryStorage may take a while to
// write (a file, a network round trip), and a caller should not wait for
// an entry to be stored. Its writes run on a goroutine of their own, in
// the order they were made. A delete waits for the writes before it, and
// for itself, so that an invalidation is done when the response that
// caused it reaches the caller.

// maxPendingWriteBytes bounds the entries waiting to be written; a write
// over it runs at once, on the caller's goroutine.
const maxPendingWriteBytes = 64 << 20

// writeBehind runs storage writes in order on one goroutine, started when
// there is work and ending when there is none.
type writeBehind struct {
	limit        int64 // maxPendingWriteBytes; tests lower it
	mu           sync.Mutex
	queue        []func()
	pendingBytes int64
	running      bool
	closed       bool
	idle         *sync.Cond // signalled when the queue empties
}

func newWriteBehind() *writeBehind {
	w := &writeBehind{limit: maxPendingWriteBytes}
	w.idle = sync.NewCond(&w.mu)
	return w
}

// write queues work that stores size bytes, or runs it at once when the
// queue is full or closed.
func (w *writeBehind) write(size int64, work func()) {
	w.mu.Lock()
	if w.closed || w.pendingBytes+size > w.limit {
		w.mu.Unlock()
		work()
		return
	}
	w.pendingBytes += size
	w.enqueue(func() {
		work()
		w.mu.Lock()
		w.pendingBytes -= size
		w.mu.Unlock()
	})
	w.mu.Unlock()
}

// delete runs work after every write queued before it, and returns once it
// has run.
func (w *writeBehind) delete(work func()) {
	w.mu.Lock()
	if !w.running {
		w.mu.Unlock()
		work()
		return
	}
	done := make(chan struct{})
	w.enqueue(func() {
		work()
		close(done)
	})
	w.mu.Unlock()
	<-done
}

// enqueue adds work and starts the goroutine if it is not running. w.mu is
// held.
func (w *writeBehind) enqueue(work func()) {
	w.queue = append(w.queue, work)
	if !w.running {
		w.running = true
		go w.run()
	}
}

func (w *writeBehind) run() {
	w.mu.Lock()
	for len(w.queue) > 0 {
		work := w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		w.mu.Unlock()
		work()
		w.mu.Lock()
	}
	w.running = false
	w.idle.Broadcast()
	w.mu.Unlock()
}

// close makes later writes run at once and waits for the queued ones.
func (w *writeBehind) close() {
	w.mu.Lock()
	w.closed = true
	for w.running {
		w.idle.Wait()
	}
	w.mu.Unlock()
}
