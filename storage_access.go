package httpcache

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"time"
)

// How the Transport reads and writes its Storage: a memory tier at once,
// anything else behind the request (writeback.go), a timeout on calls
// that may wait on a network, and a storage error logged, never returned.

// storageAccess is how a Transport uses its Storage, worked out once from
// the optional interfaces it implements.
type storageAccess struct {
	// all is the Storage as configured: read when the memory tier has
	// nothing, and deleted from.
	all tier
	// memory is the tier read first and written at once; its zero value
	// when the store has none.
	memory tier
	// lookup is memory's zero-copy lookup; nil when it has none.
	lookup KeyBytesGetter
	// builtinMemory is the memory tier when it is a built-in one (a
	// MemoryStorage, or a TieredStorage's front), called directly: a key
	// passed through an interface escapes to the heap, and a hit would
	// pay an allocation or a pooled buffer for it. It is the same store
	// as memory, and answers as memory's GetKeyBytes would.
	builtinMemory *MemoryStorage
	// behind is the store written behind the request: all when there is
	// no memory tier, the tier behind memory otherwise; its zero value
	// when everything is in memory.
	behind tier
}

// tier is a Storage and how long its calls may wait.
type tier struct {
	Storage
	// local reports calls that run in this process or on a local disk
	// (LocalStorage): they get no timeout.
	local bool
	// bounded reports calls that end within a timeout of their own
	// (TimeBoundedStorage): the Transport adds none of its own, though a
	// read still gets its share of the caller's deadline (readContext).
	bounded bool
}

func newTier(s Storage) tier {
	if s == nil {
		return tier{}
	}
	l, isLocal := s.(LocalStorage)
	b, bounded := s.(TimeBoundedStorage)
	return tier{Storage: s, local: isLocal && l.Local(), bounded: bounded && b.TimeBounded()}
}

func newStorageAccess(s Storage) storageAccess {
	a := storageAccess{all: newTier(s), behind: newTier(s)}
	tiered, ok := s.(MemoryTiered)
	if !ok {
		return a
	}
	memory, behind := tiered.MemoryTier()
	if memory == nil || !memoryTierBelongs(s, memory, behind) {
		return a
	}
	// A memory tier is local whatever it says: its calls do not wait.
	a.memory = tier{Storage: memory, local: true}
	a.lookup, _ = memory.(KeyBytesGetter)
	switch m := memory.(type) { // exact types: a wrapper is never matched
	case *MemoryStorage:
		a.builtinMemory = m
	case tieredMemory:
		a.builtinMemory = m.s.front
	}
	a.behind = newTier(behind)
	return a
}

// memoryTierBelongs reports whether the tiers s's MemoryTier returned are
// s's own. A struct that embeds a built-in store gets the embedded store's
// MemoryTier by promotion, naming the embedded store's tiers: using them
// would bypass the struct's own methods. So a memory tier with nothing
// behind it must be s itself, and a TieredStorage's must be s's.
func memoryTierBelongs(s, memory, behind Storage) bool {
	if m, ok := memory.(tieredMemory); ok {
		return sameStorage(m.s, s)
	}
	if behind == nil {
		return sameStorage(memory, s)
	}
	return true // a custom store's own memory tier and store behind
}

// sameStorage reports whether a and b are the same store, without the
// panic of comparing interfaces that hold values of uncomparable types.
func sameStorage(a, b Storage) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta.Comparable() && a == b
}

// errWriteQueueFull is logged for a write dropped because the writes
// waiting behind the requests fill their bound.
var errWriteQueueFull = errors.New("httpcache: the queue of writes behind the requests is full; the entry is not stored")

// load returns the stored variants of key, with the writes still pending
// for it (read-your-writes) and without what a failed delete meant to
// remove; a storage error is logged and counts as a miss. fromMemory
// reports variants the memory tier alone gave, with a store behind it
// that may hold others (findStored).
//
// now is the Transport's clock reading taken before the lookup. load
// returns, with the entries, the reading to judge them at: now when the
// built-in memory store answered, at once; a new reading after any other
// store's lookup, which may take up to the storage timeout, during which
// a fresh response may go stale.
func (t *Transport) load(ctx context.Context, key []byte, now time.Time) (entries []*Entry, at time.Time, fromMemory bool) {
	entries, atOnce, fromMemory := t.loadStored(ctx, key, now)
	if !atOnce {
		now = t.cfg.now()
	}
	return t.withWrites(key, entries), now, fromMemory
}

// withWrites returns stored entries of key with the writes still pending
// for it and without what a failed delete meant to remove.
func (t *Transport) withWrites(key []byte, entries []*Entry) []*Entry {
	if t.writes != nil {
		if pending := t.writes.pendingEntries(key); pending != nil {
			entries = withPending(entries, pending)
		}
	}
	return t.failedDeletes.filter(key, entries)
}

// findStored returns the stored response that may answer x's request
// (selectVariant), and the clock reading to judge it at. A memory tier
// holds some of a key's variants only (its bound or its trust trims them;
// another process writes the store behind it): when none of those it
// holds matches the request, the store behind is asked too, so that a
// variant stored there is found, as a hit or as a stale-if-error
// fallback, rather than fetched again.
func (t *Transport) findStored(x *exchange, key []byte) (*Entry, time.Time) {
	ctx := x.req.Context()
	entries, now, fromMemory := t.load(ctx, key, t.cfg.now())
	stored := x.selectVariant(entries)
	if stored != nil || !x.varyMiss || !fromMemory {
		return stored, now
	}
	entries = t.withWrites(key, t.loadFrom(ctx, t.storage.behind, key))
	return x.selectVariant(entries), t.cfg.now()
}

// withPending returns stored entries updated by pending ones, oldest
// first: a pending entry replaces the stored one of its Variant.
func withPending(stored, pending []*Entry) []*Entry {
	out := make([]*Entry, 0, len(stored)+len(pending))
	out = append(out, stored...)
	for _, p := range pending {
		out = slices.DeleteFunc(out, func(e *Entry) bool { return e.Variant == p.Variant })
		out = append(out, p)
	}
	return out
}

// loadStored looks key up in the Storage: the memory tier first, if any.
// atOnce reports the built-in memory store's answer; fromMemory, a memory
// tier's answer with a store behind it (load).
func (t *Transport) loadStored(ctx context.Context, key []byte, now time.Time) (entries []*Entry, atOnce, fromMemory bool) {
	s := &t.storage
	switch {
	case s.builtinMemory != nil && t.cfg.systemClock:
		entries, atOnce = s.builtinMemory.getKeyBytesAt(key, now), true // one clock reading a hit
	case s.builtinMemory != nil:
		entries, atOnce = s.builtinMemory.getKeyBytes(key), true
	case s.memory.Storage != nil:
		entries = t.loadMemory(ctx, key)
	default:
		return t.loadFrom(ctx, s.all, key), false, false
	}
	if s.behind.Storage == nil {
		return entries, atOnce, false
	}
	if len(entries) > 0 {
		return entries, atOnce, true
	}
	return t.loadFrom(ctx, s.all, key), false, false
}

// loadFrom looks key up in a tier, under its timeout.
func (t *Transport) loadFrom(ctx context.Context, from tier, key []byte) []*Entry {
	ctx, cancel := readContext(ctx, from, t.cfg.storageTimeout)
	defer cancel()
	entries, err := from.Get(ctx, string(key))
	if err != nil {
		t.storageErrors.log(ctx, "get", string(key), err)
		return nil
	}
	return usableEntries(entries)
}

// usableEntries drops what a store returned that is no entry at all (nil,
// or without a header): a custom store's bug is a miss, not a panic.
func usableEntries(entries []*Entry) []*Entry {
	for _, e := range entries {
		if e == nil || e.Header == nil {
			return slices.DeleteFunc(slices.Clone(entries), func(e *Entry) bool { return e == nil || e.Header == nil })
		}
	}
	return entries
}

// loadMemory looks key up in a memory tier that is not a built-in one,
// without copying it when the tier can.
func (t *Transport) loadMemory(ctx context.Context, key []byte) []*Entry {
	var entries []*Entry
	var err error
	if t.storage.lookup != nil {
		// The key is copied into a pooled buffer, so that the caller's,
		// on its stack, does not escape through the interface call.
		buffer := keyBuffers.get()
		buffer.b = append(buffer.b[:0], key...)
		entries, err = t.storage.lookup.GetKeyBytes(ctx, buffer.b)
		keyBuffers.put(buffer)
	} else {
		entries, err = t.storage.memory.Get(ctx, string(key))
	}
	if err != nil {
		t.storageErrors.log(ctx, "get", string(key), err)
		return nil
	}
	return usableEntries(entries)
}

// store writes an entry under x's key; a storage error is logged, never
// returned. The memory tier, if any, is written at once, so that the next
// request is a hit; the store behind it, if any, on the Transport's
// write-behind goroutine, so that the caller does not wait for a file or a
// network round trip.
func (t *Transport) store(x *exchange, entry *Entry, ttl time.Duration) {
	ctx, key := x.req.Context(), x.key
	if memory := t.storage.memory; memory.Storage != nil {
		t.storeIn(ctx, memory, true, key, entry, ttl) // at once: no timeout, no detaching
	}
	behind := t.storage.behind
	if behind.Storage == nil {
		return
	}
	if t.writes == nil { // WithSynchronousWrites
		t.storeIn(ctx, behind, false, key, entry, ttl)
		return
	}
	// The write may run after the caller has gone: its context must not
	// end with the caller's.
	detached := context.WithoutCancel(ctx)
	if !t.writes.write(key, entry, pendingWriteSize(key, entry), func() { t.storeIn(detached, behind, false, key, entry, ttl) }) {
		t.storageErrors.log(ctx, "set", key, errWriteQueueFull)
		// What the store holds under key is older than this response:
		// hidden from reads and deleted, as after a failed write.
		t.failedDeletes.rememberWrite(t, key, entry, false)
	}
}

// storeIn writes an entry to one tier, under the tier's timeout; an error
// is logged. What the tier holds under key after a failed write is older
// than the response the caller got: hidden from reads and deleted, as
// after a failed delete, so that a read-only disk or a full Redis never
// serves the outdated response as a hit. The new entry itself, which a
// memory tier in front may hold, stays; the retries delete the key from
// the tier that refused it only.
func (t *Transport) storeIn(ctx context.Context, s tier, memory bool, key string, entry *Entry, ttl time.Duration) {
	ctx, cancel := storageContext(ctx, s, t.cfg.storageTimeout)
	defer cancel()
	var gen uint64
	pending := t.failedDeletes.count.Load() != 0
	if pending {
		gen = t.failedDeletes.generation()
	}
	if err := s.Set(ctx, key, entry, ttl); err != nil {
		t.storageErrors.log(ctx, "set", key, err)
		t.failedDeletes.rememberWrite(t, key, entry, memory)
	} else if pending {
		// This write replaced what an earlier failed one could not.
		t.failedDeletes.confirmWriteOf(key, entry, memory, gen)
	}
}

// remove deletes every variant of key, one partition's response, for a
// request; a storage error is logged. The delete runs even when the caller
// has gone: the response that caused it is outdated.
func (t *Transport) remove(req *http.Request, key string) {
	if err := t.delete(context.WithoutCancel(req.Context()), key); err != nil {
		t.storageErrors.log(req.Context(), "delete", key, err)
	}
}

// removeStored deletes the stored response x's request selected, which a
// response for it outdates, and leaves the key's other variants: one
// caller's request (Accept-Language: xx answered no-store) must not wipe
// every other's response. When several stored responses matched the
// request, each of which could answer it next, the key goes whole; so it
// does where the Storage cannot remove one variant (VariantDeleter).
func (t *Transport) removeStored(x *exchange) {
	switch {
	case x.stored == nil:
	case !x.storedAlone:
		t.remove(x.req, x.key)
	default:
		ctx := context.WithoutCancel(x.req.Context())
		if err := t.deleteVariant(ctx, x.key, x.stored.Variant); err != nil {
			t.storageErrors.log(x.req.Context(), "delete", x.key, err)
		}
	}
}

// removeURL deletes every key of url, in every partition, for a request
// that invalidates it (RFC 9111 §4.4); a storage error is logged.
func (t *Transport) removeURL(req *http.Request, url string) {
	if err := t.deleteURL(context.WithoutCancel(req.Context()), url); err != nil {
		t.storageErrors.log(req.Context(), "delete url", url, err)
	}
}

// delete removes every variant of key from the whole Storage, once no
// write of it queued before can land after it, and returns the Storage's
// error. A failed delete is remembered: what it meant to remove is not
// served until a retry succeeds (failed_deletes.go).
func (t *Transport) delete(ctx context.Context, key string) error {
	var err error
	t.inOrder(oneKey(key), func() {
		gen := t.failedDeletes.generation()
		if err = t.deleteAt(ctx, key); err != nil {
			t.failedDeletes.remember(t, key, false, t.cfg.now())
		} else {
			t.failedDeletes.confirm(key, false, gen)
		}
	})
	return err
}

// deleteVariant is delete for one variant of key. A failed one is
// remembered as a failed delete of the whole key, whose retry deletes
// every variant: nothing it meant to remove is served meanwhile. One that
// succeeds confirms nothing: an earlier failed delete of the key is still
// to be retried.
func (t *Transport) deleteVariant(ctx context.Context, key, variant string) error {
	var err error
	t.inOrder(oneVariant(key, variant), func() {
		ctx, cancel := storageContext(ctx, t.storage.all, t.cfg.storageTimeout)
		defer cancel()
		if err = deleteVariant(ctx, t.storage.all.Storage, key, variant); err != nil {
			t.failedDeletes.remember(t, key, false, t.cfg.now())
		}
	})
	return err
}

// deleteURL is delete for every key of url.
func (t *Transport) deleteURL(ctx context.Context, url string) error {
	var err error
	t.inOrder(urlKeys(url), func() {
		gen := t.failedDeletes.generation()
		if err = t.deleteURLAt(ctx, url); err != nil {
			t.failedDeletes.remember(t, url, true, t.cfg.now())
		} else {
			t.failedDeletes.confirm(url, true, gen)
		}
	})
	return err
}

// deleteAt and deleteURLAt call the Storage, under its timeout.
func (t *Transport) deleteAt(ctx context.Context, key string) error {
	ctx, cancel := storageContext(ctx, t.storage.all, t.cfg.storageTimeout)
	defer cancel()
	return t.storage.all.Delete(ctx, key)
}

// deleteFromTier deletes what a refused write of key outdated from the
// tier that refused it (the memory tier, or the store behind it; the
// whole Storage when it has no memory tier): the stored response of its
// variant, or every variant of the key (failedWrite.wholeKey).
func (t *Transport) deleteFromTier(ctx context.Context, key string, w failedWrite) error {
	s := t.storage.behind
	if w.memory || s.Storage == nil {
		s = t.storage.memory
	}
	if s.Storage == nil {
		s = t.storage.all
	}
	ctx, cancel := storageContext(ctx, s, t.cfg.storageTimeout)
	defer cancel()
	if w.wholeKey {
		return s.Delete(ctx, key)
	}
	// An entry under another Vary list is hidden too (failedWrite.hides):
	// it goes with the key.
	entries, err := s.Get(ctx, key)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(usableEntries(entries), func(e *Entry) bool { return varyDigestOf(e) != w.vary }) {
		return s.Delete(ctx, key)
	}
	return deleteVariant(ctx, s.Storage, key, w.variantName)
}

func (t *Transport) deleteURLAt(ctx context.Context, url string) error {
	ctx, cancel := storageContext(ctx, t.storage.all, t.cfg.storageTimeout)
	defer cancel()
	return t.storage.all.DeleteURL(ctx, url)
}

// inOrder runs a delete of the keys selected once no write of them
// queued behind the requests can land after it (writeBehind.delete).
func (t *Transport) inOrder(selected keySelection, del func()) {
	if t.writes == nil {
		del()
		return
	}
	t.writes.delete(selected, del)
}

// storageContext bounds a call to a tier by timeout. Calls to a local
// tier, which a context could not interrupt, and to one that bounds its
// own, get none.
func storageContext(ctx context.Context, s tier, timeout time.Duration) (context.Context, context.CancelFunc) {
	if s.local || s.bounded {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, timeout)
}

// readContext bounds a lookup in s, which the request waits for: by the
// storage timeout, as storageContext does, and, when the caller has a
// deadline and s may wait on a network, by half the time left before it,
// so that a store that does not answer (a silent Redis) leaves the request
// the other half to reach the origin. Without that share, a caller whose
// deadline is shorter than the store's timeout spends all of it waiting
// for the store and fails, though the origin would have answered at once.
func readContext(ctx context.Context, s tier, timeout time.Duration) (context.Context, context.CancelFunc) {
	if s.local {
		return ctx, func() {}
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		return storageContext(ctx, s, timeout)
	}
	share := time.Until(deadline) / 2
	if !s.bounded {
		share = min(share, timeout)
	}
	return context.WithTimeout(ctx, share)
}
