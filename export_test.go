package httpcache

import (
	"net/http"
	"time"
)

// Hooks for the tests: names the external test package (httpcache_test)
// needs, and views of the Transport's internals that take its locks, so that
// no test reaches into them.

// FakeStorage is fakeStorage, for the external test package.
type FakeStorage = fakeStorage

// NewFakeStorage returns a new fakeStorage (see newFakeStorage).
func NewFakeStorage() *FakeStorage { return newFakeStorage() }

// Calls returns how many calls of Get, Set and Delete have returned.
func (s *fakeStorage) Calls() (gets, sets, deletes int64) {
	return s.gets.Load(), s.sets.Load(), s.deletes.Load()
}

// coalescedWaiters returns how many callers wait on the Transport's flights.
func (t *Transport) coalescedWaiters() int {
	c := t.coalescer
	c.mu.Lock()
	defer c.mu.Unlock()
	waiting := 0
	for _, head := range c.flights {
		for f := head; f != nil; f = f.next {
			waiting += f.waiters
		}
	}
	return waiting
}

// coalescePassing reports whether requests identical to req are, for now,
// not coalesced (hit-for-pass).
func (t *Transport) coalescePassing(req *http.Request) bool {
	c := t.coalescer
	hash := c.identityHash(t.coalesceExchange(req))
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.passing(hash)
}

// backgroundRunning returns how many background revalidations are
// registered as running.
func (t *Transport) backgroundRunning() int {
	b := t.background
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.running)
}

// waitForBackground waits for the background revalidations to end.
func (t *Transport) waitForBackground() { t.background.wg.Wait() }

// waitForWrites waits for the writes queued behind callers to be done, and
// leaves the writer open for more.
func (t *Transport) waitForWrites() {
	w := t.writes
	if w == nil {
		return // a store wholly in memory: nothing is written behind
	}
	w.close(time.Hour)
	w.mu.Lock()
	w.closed = false
	w.mu.Unlock()
}

// Memory returns the fake's memory store, for reads and writes behind its
// back.
func (s *fakeStorage) Memory() *MemoryStorage { return s.memory }

// pendingHolder returns the key of the write being written, if any.
func (w *writeBehind) pendingHolder() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.writing == nil {
		return ""
	}
	return w.writing.key
}

// DecoderHeld is what an EntryDecoder counts as kept.
func DecoderHeld(d *EntryDecoder) int64 { return d.kept.held.Load() }

// WaitUntil is waitUntil, for the package's external tests.
var WaitUntil = waitUntil
