package httpcache

import (
	"slices"
	"sync"
	"time"
)

// Writing behind: a Storage not wholly in memory may take a while to write
// (a file, a network round trip), and a caller should not wait for an
// entry to be stored. Its writes run on a goroutine of their own, in the
// order they were made.
//
//   - Reads see pending writes (pendingEntries): the next request is a hit
//     while its entry waits to be written.
//   - A delete waits only for the writes of its own keys: queued ones it
//     supersedes are dropped, and it waits for one being written to end.
//     So an invalidation is done when the response that caused it reaches
//     the caller, without waiting for the whole queue.
//   - The queue is bounded by bytes. A write that does not fit is dropped,
//     with the queued writes of its key, so that no older version of a key
//     lands after a newer one was dropped: the key is a miss, never older
//     than it should be. (The one under way may still land: the delete
//     that stands for the dropped write waits for it, awaitWriting.)
//   - close waits for the queue up to a bound, then drops what is left.

// maxPendingWriteBytes bounds the entries waiting to be written.
const maxPendingWriteBytes = 64 << 20

// pendingWriteCost is what a queued write holds beside its entry and its
// key: the pendingWrite, the closure that writes it and its detached
// context, and its slots in the queue and the maps (an estimate, on the
// high side; TestWriteQueueCountsKeys checks that keys are counted).
const pendingWriteCost = 512

// pendingWriteSize is what a write of entry under key holds while it is
// queued, as the queue's bound counts it: the key too, which a request
// chooses (a long URL), and which the queue and its maps hold.
func pendingWriteSize(key string, entry *Entry) int64 {
	return entrySize(entry) + int64(len(key)) + pendingWriteCost
}

// DefaultCloseTimeout bounds how long Close waits for writes still queued
// behind the requests (WithCloseTimeout).
const DefaultCloseTimeout = 10 * time.Second

// writeBehind runs storage writes in order on one goroutine, started when
// there is work and ending when there is none.
type writeBehind struct {
	limit int64 // maxPendingWriteBytes; tests lower it

	mu    sync.Mutex
	queue []*pendingWrite // not started, oldest first
	byKey map[string][]*pendingWrite
	// byURL holds the keys in byKey by their URL (KeyURL), so that the
	// delete of a key or of a URL finds its writes without a scan of every
	// key queued: the queue is longest when the store is slowest.
	byURL        map[string]map[string]struct{}
	pendingBytes int64
	// cancelledQueued counts the cancelled writes still in queue.
	cancelledQueued int
	writing         *pendingWrite // the write running, if any
	running         bool          // the goroutine runs
	closed          bool
	dropped         int        // by close, once its timeout passed
	changed         *sync.Cond // a write ended, or the queue emptied
}

// pendingWrite is one entry waiting to be written.
type pendingWrite struct {
	key       string
	entry     *Entry
	size      int64
	work      func()
	cancelled bool
}

func newWriteBehind() *writeBehind {
	w := &writeBehind{limit: maxPendingWriteBytes, byKey: make(map[string][]*pendingWrite), byURL: make(map[string]map[string]struct{})}
	w.changed = sync.NewCond(&w.mu)
	return w
}

// write queues work, which stores entry (of size bytes) under key. After
// close it runs at once. It reports false when the write was dropped
// because the queue is full: the caller must then hide what the store
// holds under key, which is older.
func (w *writeBehind) write(key string, entry *Entry, size int64, work func()) bool {
	w.mu.Lock()
	if w.closed {
		// Run at once, but after any write of the key still queued or
		// under way, which it supersedes, as a delete does.
		w.mu.Unlock()
		w.delete(outdatedBy(key, entry), work)
		return true
	}
	if w.pendingBytes+size > w.limit {
		// The queued writes entry outdates go too (outdatedBy); the
		// key's other variants' stay.
		w.cancelLocked(outdatedBy(key, entry))
		w.mu.Unlock()
		return false
	}
	p := &pendingWrite{key: key, entry: entry, size: size, work: work}
	w.queue = append(w.queue, p)
	if w.byKey[key] == nil {
		url := KeyURL(key)
		if w.byURL[url] == nil {
			w.byURL[url] = make(map[string]struct{})
		}
		w.byURL[url][key] = struct{}{}
	}
	w.byKey[key] = append(w.byKey[key], p)
	w.pendingBytes += size
	if !w.running {
		w.running = true
		go w.run()
	}
	w.mu.Unlock()
	return true
}

// pendingEntries returns the entries queued or being written under key,
// oldest first; nil when there are none. It does not copy key.
func (w *writeBehind) pendingEntries(key []byte) []*Entry {
	w.mu.Lock()
	defer w.mu.Unlock()
	writes := w.byKey[string(key)]
	if len(writes) == 0 {
		return nil
	}
	entries := make([]*Entry, 0, len(writes))
	for _, p := range writes {
		entries = append(entries, p.entry)
	}
	return entries
}

// keysOf calls fn with each key with a write queued or under way whose
// entry matches selects, under the queue's lock: fn must not call the
// queue.
func (w *writeBehind) keysOf(selects func(*Entry) bool, fn func(key string) bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for key, writes := range w.byKey {
		for _, p := range writes {
			if !p.cancelled && selects(p.entry) {
				if !fn(key) {
					return
				}
				break
			}
		}
	}
}

// delete runs work, a delete of the keys selected, once no write of those
// keys can land after it: queued writes of them are dropped (the delete
// supersedes them), and it waits for one being written to end. Writes of
// other keys neither wait nor are waited for.
func (w *writeBehind) delete(selected keySelection, work func()) {
	w.mu.Lock()
	w.cancelLocked(selected)
	// Only the write under way now can land after the delete; writes of
	// the keys queued later come after it, and are not waited for.
	if inFlight := w.writing; inFlight != nil && selected.has(inFlight.key) {
		for w.writing == inFlight {
			w.changed.Wait()
		}
	}
	w.mu.Unlock()
	work()
}

// awaitWriting waits for the write of key under way now, if any, to end.
// Writes of it that start later are not waited for.
func (w *writeBehind) awaitWriting(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if inFlight := w.writing; inFlight != nil && inFlight.key == key {
		for w.writing == inFlight {
			w.changed.Wait()
		}
	}
}

// keySelection selects the keys whose queued writes a delete supersedes:
// one key, every key of one URL (its partitions), or those a function
// matches. The first two are found without a scan of the queue.
type keySelection struct {
	key, url string
	matches  func(key string) bool
	// variant, with byVariant, narrows a selection of one key to the
	// writes of one variant (Entry.Variant): a delete of that variant
	// supersedes those only, and the key's other variants' writes stay
	// queued.
	variant   string
	byVariant bool
	// otherVaries, with byVariant, also selects the writes of entries
	// under another Vary list than varyNames (outdatedBy).
	otherVaries bool
	varyNames   []string
}

// oneKey selects key.
func oneKey(key string) keySelection { return keySelection{key: key} }

// oneVariant selects the writes of one variant of key.
func oneVariant(key, variant string) keySelection {
	return keySelection{key: key, variant: variant, byVariant: true}
}

// outdatedBy selects the writes of key that entry, newer, outdates: those
// of its variant, and those under another Vary list, which may answer the
// same requests.
func outdatedBy(key string, entry *Entry) keySelection {
	s := keySelection{key: key, variant: entryVariant(entry), byVariant: true, otherVaries: true}
	if entry != nil {
		s.varyNames = entry.responseFacts().varyNames
	}
	return s
}

// supersedes reports whether a queued write of a selected key is one the
// selection drops: any, or for a selection by variant those of it (and,
// with otherVaries, those under another Vary list).
func (s keySelection) supersedes(p *pendingWrite) bool {
	if !s.byVariant || entryVariant(p.entry) == s.variant {
		return true
	}
	return s.otherVaries && (p.entry == nil || !slices.Equal(p.entry.responseFacts().varyNames, s.varyNames))
}

// entryVariant returns e's Variant; "" for nil.
func entryVariant(e *Entry) string {
	if e == nil {
		return ""
	}
	return e.Variant
}

// urlKeys selects every key of url, whatever the partition (KeyURL).
func urlKeys(url string) keySelection { return keySelection{url: url} }

// keysWhere selects the keys matches reports.
func keysWhere(matches func(key string) bool) keySelection {
	return keySelection{matches: matches}
}

// has reports whether key is selected.
func (s keySelection) has(key string) bool {
	switch {
	case s.matches != nil:
		return s.matches(key)
	case s.url != "":
		return KeyURL(key) == s.url
	}
	return key == s.key
}

// cancelLocked drops the queued writes of the keys selected, and returns
// how many. w.mu is held.
func (w *writeBehind) cancelLocked(selected keySelection) (cancelled int) {
	switch {
	case selected.matches != nil:
		for key := range w.byKey {
			if selected.matches(key) {
				cancelled += w.cancelKeyLocked(key, selected)
			}
		}
	case selected.url != "":
		for key := range w.byURL[selected.url] {
			cancelled += w.cancelKeyLocked(key, selected) // may remove key from the set: allowed while ranging
		}
	default:
		cancelled = w.cancelKeyLocked(selected.key, selected)
	}
	if w.cancelledQueued > 64 && 2*w.cancelledQueued > len(w.queue) {
		w.compactLocked()
	}
	return cancelled
}

// cancelKeyLocked drops the queued writes of key that selected
// supersedes, and returns how many. w.mu is held.
func (w *writeBehind) cancelKeyLocked(key string, selected keySelection) (cancelled int) {
	writes, ok := w.byKey[key]
	if !ok {
		return 0
	}
	for _, p := range writes {
		if p != w.writing && !p.cancelled && selected.supersedes(p) {
			// Released now, not when the writer reaches it: a writer
			// stuck on a slow store must not keep what no one will
			// write (the queue's bound counts only live writes).
			p.cancelled, p.entry, p.work = true, nil, nil
			w.pendingBytes -= p.size
			w.cancelledQueued++
			cancelled++
		}
	}
	w.forgetLocked(key, func(p *pendingWrite) bool { return p != w.writing && p.cancelled })
	return cancelled
}

// compactLocked removes the cancelled writes from the queue. w.mu is held.
func (w *writeBehind) compactLocked() {
	kept := make([]*pendingWrite, 0, len(w.queue)-w.cancelledQueued)
	for _, p := range w.queue {
		if !p.cancelled {
			kept = append(kept, p)
		}
	}
	w.queue, w.cancelledQueued = kept, 0
}

// forgetLocked removes from byKey the writes of key that drop selects.
func (w *writeBehind) forgetLocked(key string, drop func(*pendingWrite) bool) {
	kept := w.byKey[key][:0]
	for _, p := range w.byKey[key] {
		if !drop(p) {
			kept = append(kept, p)
		}
	}
	if len(kept) == 0 {
		delete(w.byKey, key)
		url := KeyURL(key)
		delete(w.byURL[url], key)
		if len(w.byURL[url]) == 0 {
			delete(w.byURL, url)
		}
		return
	}
	w.byKey[key] = kept
}

func (w *writeBehind) run() {
	w.mu.Lock()
	for len(w.queue) > 0 {
		p := w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		if p.cancelled {
			w.cancelledQueued--
			continue
		}
		w.writing = p
		w.mu.Unlock()
		p.work()
		w.mu.Lock()
		w.writing = nil
		w.pendingBytes -= p.size
		w.forgetLocked(p.key, func(q *pendingWrite) bool { return q == p })
		w.changed.Broadcast()
	}
	w.running = false
	w.changed.Broadcast()
	w.mu.Unlock()
}

// close makes later writes run at once, and waits up to timeout for the
// queued ones (and for the one being written, which its storage timeout
// bounds); those still queued then are dropped, and their number returned.
func (w *writeBehind) close(timeout time.Duration) (dropped int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	timer := time.AfterFunc(timeout, func() {
		w.mu.Lock()
		w.dropped += w.cancelLocked(keysWhere(func(string) bool { return true }))
		w.changed.Broadcast()
		w.mu.Unlock()
	})
	defer timer.Stop()
	for w.running {
		w.changed.Wait()
	}
	return w.dropped
}

// queued returns the writes waiting and their bytes (Stats).
func (w *writeBehind) queued() (writes, bytes int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.queue {
		if !p.cancelled {
			writes++
		}
	}
	return writes, w.pendingBytes
}
