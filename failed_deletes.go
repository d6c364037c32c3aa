package httpcache

import (
	"context"
	"crypto/sha256"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"weak"
)

// Deletes and writes the Storage did not confirm: an invalidation that
// failed (a Redis outage, a read-only disk) is not forgotten, nor is a
// write that failed, which leaves the store holding an older response
// than the one the caller got. Until a retry succeeds, the Transport
// serves nothing stored before the delete for that key or URL, and, for a
// failed write, nothing under the key but the new entry itself (which a
// memory tier in front may hold); it retries in the background every
// failedDeleteRetry.

// failedDeleteRetry is how often failed deletes are retried.
const failedDeleteRetry = time.Second

// maxFailedDeletes and maxFailedDeleteBytes bound the deletes and writes
// remembered, by count and by the bytes of their names (keys and URLs,
// which requests choose: a long URL must not make an outage's records
// grow without bound); past either, the oldest is dropped: its entries may
// then be served again until they expire.
const (
	maxFailedDeletes     = 1 << 16
	maxFailedDeleteBytes = 16 << 20
	// failedRecordCost is what a record holds beside its name: its map
	// slot (a write's: a weak pointer, a variant digest, its tier and
	// gen) and its place in the order of what was remembered.
	failedRecordCost = 160 + maxKeptVariantName
)

// failedDeletes remembers deletes to retry, by key and by URL, and failed
// writes by key.
type failedDeletes struct {
	count atomic.Int64 // of all three maps, read without the lock on every hit

	mu sync.Mutex
	// gen numbers what is remembered, in order: a retry confirms only
	// what it read, never what was remembered while its delete ran.
	gen    uint64
	keys   map[string]failedDelete // key → its delete
	urls   map[string]failedDelete // URL → its DeleteURL
	writes map[string]failedWrite  // key → the write its tier refused
	// bytes counts the names held in the maps and each record's cost
	// (maxFailedDeleteBytes).
	bytes int64
	// order is what was remembered, oldest first, so that the oldest is
	// dropped without a scan of the maps; it keeps records forgotten or
	// remembered again since, which are skipped, until it is compacted
	// (appendOrderLocked): their names, held until then, are at most as
	// many again as the live ones.
	order   []rememberedAt
	running bool
	closed  bool
	stop    chan struct{} // closed by close
	done    chan struct{} // closed when the retry goroutine ends
}

// recordKind says which map a record is in.
type recordKind uint8

const (
	failedKey recordKind = iota
	failedURL
	failedWriteOf
)

// rememberedAt is a record as it was remembered: its map, name and gen.
type rememberedAt struct {
	kind recordKind
	name string
	gen  uint64
}

// failedDelete is a delete that failed at a time.
type failedDelete struct {
	at  time.Time
	gen uint64
}

// failedWrite is a write a tier refused: the entry it was of, held weakly
// (a remembered write keeps no body alive), a digest of its Variant, and
// the tier. A Variant holds the values of the request fields the
// response's Vary names, which requests choose: kept whole, it would hold
// bytes maxFailedDeleteBytes does not count.
type failedWrite struct {
	entry   weak.Pointer[Entry]
	variant variantDigest
	// variantName is the Variant itself when it is short
	// (maxKeptVariantName), so that a retry removes that variant alone
	// (VariantDeleter); empty otherwise.
	variantName string
	// wholeKey: every variant of the key is hidden and deleted, not
	// variant's alone: writes of several variants failed, or one whose
	// Variant is too long to keep.
	wholeKey bool
	// vary is a digest of the names the refused entry's Vary lists: an
	// older entry of the key under another list may answer the same
	// requests whatever its Variant, and is hidden too.
	vary   variantDigest
	memory bool // the memory tier refused it; else the store behind
	gen    uint64
}

// varyDigestOf returns the digest of the names e's Vary lists.
func varyDigestOf(e *Entry) variantDigest {
	return digestOfVariant(strings.Join(e.responseFacts().varyNames, "\x00"))
}

// maxKeptVariantName bounds failedWrite.variantName, which
// failedRecordCost counts.
const maxKeptVariantName = 64

// hides reports whether e, stored under the key whose write failed, is
// outdated by it: not the very entry whose write failed (shows), and of
// the same variant, or under another Vary list (which may answer the
// same requests), or of any for wholeKey.
func (w failedWrite) hides(e *Entry) bool {
	return !w.shows(e) && (w.wholeKey || digestOfVariant(e.Variant) == w.variant || varyDigestOf(e) != w.vary)
}

// variantDigest identifies an entry's Variant in a fixed size.
type variantDigest [sha256.Size]byte

func digestOfVariant(variant string) variantDigest { return sha256.Sum256([]byte(variant)) }

// shows reports whether e is the very entry whose write failed, which the
// memory tier may hold. Any other, whatever its times say (a clock that
// stepped back, another host's), is hidden.
func (w failedWrite) shows(e *Entry) bool {
	return weak.Make(e) == w.entry
}

func newFailedDeletes() *failedDeletes {
	return &failedDeletes{keys: make(map[string]failedDelete), urls: make(map[string]failedDelete),
		writes: make(map[string]failedWrite), stop: make(chan struct{})}
}

// filter drops the entries stored under key that a delete of the key, or
// of its URL, not yet confirmed meant to remove, and every entry but the
// new one under a key whose write failed. It returns entries itself, not a
// copy, when nothing is remembered for them.
func (f *failedDeletes) filter(key []byte, entries []*Entry) []*Entry {
	if f.count.Load() == 0 || len(entries) == 0 {
		return entries
	}
	f.mu.Lock()
	d, deleted := f.keys[string(key)]
	if u, ok := f.urls[KeyURL(string(key))]; ok && (!deleted || u.at.After(d.at)) {
		d, deleted = u, true
	}
	w, written := f.writes[string(key)]
	f.mu.Unlock()
	if !deleted && !written {
		return entries
	}
	var kept []*Entry
	for _, e := range entries {
		switch {
		case written && w.hides(e):
			// Older than the response whose write failed, or of the
			// same instant on a clock that did not move: hidden. The
			// key's other variants are not outdated by it.
		case deleted && !e.ResponseTime.After(d.at):
			// Stored before the delete: what it removes.
		default:
			kept = append(kept, e)
		}
	}
	return kept
}

// generation returns the number of the last thing remembered: a delete
// that starts after it confirms only what was remembered up to it.
func (f *failedDeletes) generation() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gen
}

// remember records a failed delete of a key (url false) or of every key of
// a URL, and starts the retries.
func (f *failedDeletes) remember(t *Transport, name string, url bool, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	set, kind := f.keys, failedKey
	if url {
		set, kind = f.urls, failedURL
	}
	f.makeRoomLocked(kind, name)
	f.gen++
	if _, known := set[name]; !known {
		f.bytes += failedRecordSize(name)
	}
	set[name] = failedDelete{at: at, gen: f.gen}
	f.appendOrderLocked(kind, name)
	f.startLocked(t)
}

// rememberWrite records that a tier refused entry under key, and starts
// the retries, which delete the key from that tier.
func (f *failedDeletes) rememberWrite(t *Transport, key string, entry *Entry, memory bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.makeRoomLocked(failedWriteOf, key)
	f.gen++
	w := failedWrite{entry: weak.Make(entry), variant: digestOfVariant(entry.Variant), vary: varyDigestOf(entry), memory: memory, gen: f.gen}
	if len(entry.Variant) <= maxKeptVariantName && len(entry.responseFacts().varyNames) > 0 {
		w.variantName = entry.Variant
	} else {
		w.wholeKey = true // or without Vary: it answers every request of the key
	}
	if earlier, known := f.writes[key]; !known {
		f.bytes += failedRecordSize(key)
	} else if earlier.wholeKey || earlier.variant != w.variant || earlier.memory != memory {
		// Another variant's write, or another tier's, failed before and
		// is not retried yet: the record covers both.
		w.wholeKey = true
	}
	f.writes[key] = w
	f.appendOrderLocked(failedWriteOf, key)
	f.startLocked(t)
}

// failedRecordSize is what a record of name counts toward
// maxFailedDeleteBytes.
func failedRecordSize(name string) int64 { return int64(len(name)) + failedRecordCost }

// genOf returns the gen of the record of name in kind's map, if any.
// f.mu is held.
func (f *failedDeletes) genOf(kind recordKind, name string) (uint64, bool) {
	switch kind {
	case failedKey:
		d, ok := f.keys[name]
		return d.gen, ok
	case failedURL:
		d, ok := f.urls[name]
		return d.gen, ok
	}
	w, ok := f.writes[name]
	return w.gen, ok
}

// forgetLocked removes the record of name from kind's map. f.mu is held.
func (f *failedDeletes) forgetLocked(kind recordKind, name string) {
	if _, ok := f.genOf(kind, name); !ok {
		return
	}
	switch kind {
	case failedKey:
		delete(f.keys, name)
	case failedURL:
		delete(f.urls, name)
	default:
		delete(f.writes, name)
	}
	f.bytes -= failedRecordSize(name)
}

// appendOrderLocked notes the record of name just remembered, at f.gen,
// and compacts the order when most of it is stale. f.mu is held.
func (f *failedDeletes) appendOrderLocked(kind recordKind, name string) {
	f.order = append(f.order, rememberedAt{kind: kind, name: name, gen: f.gen})
	if len(f.order) <= 2*f.size()+64 {
		return
	}
	kept := make([]rememberedAt, 0, f.size())
	for _, r := range f.order {
		if gen, ok := f.genOf(r.kind, r.name); ok && gen == r.gen {
			kept = append(kept, r)
		}
	}
	f.order = kept
}

// makeRoomLocked drops the oldest records while the maps are full, by
// count or by bytes, for a record of name in kind's map that is not in it
// already. f.mu is held.
func (f *failedDeletes) makeRoomLocked(kind recordKind, name string) {
	if _, known := f.genOf(kind, name); known {
		return
	}
	for f.size() > 0 && (f.size() >= maxFailedDeletes || f.bytes+failedRecordSize(name) > maxFailedDeleteBytes) {
		f.dropOldestLocked()
	}
}

func (f *failedDeletes) size() int { return len(f.keys) + len(f.urls) + len(f.writes) }

// startLocked updates the count and starts the retries. f.mu is held.
func (f *failedDeletes) startLocked(t *Transport) {
	f.count.Store(int64(f.size()))
	if !f.running && !f.closed {
		f.running = true
		f.done = make(chan struct{})
		go f.retry(t)
	}
}

// confirm forgets a delete of name that has now succeeded, if it was
// remembered at or before generation gen: a delete remembered later, while
// this one ran, still stands. A delete of a key confirms a failed write of
// it too, since it removed what the write could not replace.
func (f *failedDeletes) confirm(name string, url bool, gen uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if url {
		if d, ok := f.urls[name]; ok && d.gen <= gen {
			f.forgetLocked(failedURL, name)
		}
	} else {
		if d, ok := f.keys[name]; ok && d.gen <= gen {
			f.forgetLocked(failedKey, name)
		}
		if w, ok := f.writes[name]; ok && w.gen <= gen {
			f.forgetLocked(failedWriteOf, name)
		}
	}
	f.count.Store(int64(f.size()))
}

// confirmWrite forgets a failed write of key whose tier no longer holds
// the key, if it was remembered at or before generation gen.
func (f *failedDeletes) confirmWrite(key string, gen uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if w, ok := f.writes[key]; ok && w.gen <= gen {
		f.forgetLocked(failedWriteOf, key)
	}
	f.count.Store(int64(f.size()))
}

// confirmWriteOf forgets a failed write of key to the same tier,
// remembered at or before generation gen, which the write of entry has now
// replaced: one of its variant under the same Vary list, or one without
// Vary, which answers every request of the key and, newest, is chosen
// over whatever the failed write hid (RFC 9111 §4.1).
func (f *failedDeletes) confirmWriteOf(key string, entry *Entry, memory bool, gen uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if w, ok := f.writes[key]; ok && w.gen <= gen && w.memory == memory && w.replacedBy(entry) {
		f.forgetLocked(failedWriteOf, key)
	}
	f.count.Store(int64(f.size()))
}

// replacedBy reports whether a write of entry, stored after w failed,
// replaces what w meant to store (confirmWriteOf).
func (w failedWrite) replacedBy(entry *Entry) bool {
	if f := entry.responseFacts(); len(f.varyNames) == 0 && !f.varyStar {
		return true
	}
	return !w.wholeKey && w.variant == digestOfVariant(entry.Variant) && w.vary == varyDigestOf(entry)
}

// dropOldestLocked drops the record remembered first, skipping the
// order's stale records. f.mu is held.
func (f *failedDeletes) dropOldestLocked() {
	for len(f.order) > 0 {
		r := f.order[0]
		f.order[0] = rememberedAt{}
		f.order = f.order[1:]
		if gen, ok := f.genOf(r.kind, r.name); ok && gen == r.gen {
			f.forgetLocked(r.kind, r.name)
			return
		}
	}
}

// retry retries the remembered deletes, and the deletes that stand for
// failed writes, until none is left or close.
func (f *failedDeletes) retry(t *Transport) {
	// Deferred first, so run last: done is closed once the watcher below
	// has ended and nothing is left to do, so that no goroutine outlives
	// close.
	defer close(f.done)
	ticker := time.NewTicker(failedDeleteRetry)
	defer ticker.Stop()
	// close ends a pass at once, and the storage call under way.
	ctx, cancel := context.WithCancel(context.Background())
	watcher := make(chan struct{})
	go func() {
		defer close(watcher)
		select {
		case <-f.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	defer func() { cancel(); <-watcher }()
	for {
		select {
		case <-ticker.C:
		case <-f.stop:
			return
		}
		f.mu.Lock()
		if f.closed || f.size() == 0 {
			f.running = false
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		f.retryPass(ctx, t)
	}
}

// retryPass retries once what is remembered now.
func (f *failedDeletes) retryPass(ctx context.Context, t *Transport) {
	f.mu.Lock()
	keys, urls, writes := recordNames(f.keys), recordNames(f.urls), recordNames(f.writes)
	gen := f.gen
	f.mu.Unlock()
	for _, key := range keys {
		if ctx.Err() != nil {
			return
		}
		if t.deleteAt(ctx, key) == nil {
			f.confirm(key, false, gen)
		}
	}
	for _, url := range urls {
		if ctx.Err() != nil {
			return
		}
		if t.deleteURLAt(ctx, url) == nil {
			f.confirm(url, true, gen)
		}
	}
	for _, key := range writes {
		if ctx.Err() != nil {
			return
		}
		f.mu.Lock()
		w, ok := f.writes[key]
		f.mu.Unlock()
		if !ok {
			continue
		}
		// A write of the key under way since before the failure (its
		// queue was full while an older write ran) would land after this
		// delete, and the older entry be served: the delete waits for it.
		// The failed deletes need no wait: they waited when they ran.
		if t.writes != nil {
			t.writes.awaitWriting(key)
		}
		if t.deleteFromTier(ctx, key, w) == nil {
			f.confirmWrite(key, gen)
		}
	}
}

// close stops the retries and waits for them to end. What is still
// remembered stays filtered out of reads.
func (f *failedDeletes) close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	close(f.stop)
	running, done := f.running, f.done
	f.mu.Unlock()
	if running {
		<-done
	}
}

func recordNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	return names
}
