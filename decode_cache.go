package httpcache

import (
	"bytes"
	"hash/maphash"
	"sync/atomic"
	"unsafe"
)

// EntryDecoder decodes entries (UnmarshalEntry) and keeps the last ones it
// decoded, for a store that reads the same bytes again and again, as a
// disk or Redis store does on every hit: the store then gets the entry
// decoded before, with the header the Transport parsed from it and the
// Age and Cache-Status it formatted, instead of decoding and parsing it
// anew. storage/redisstore uses one.
//
// A kept entry is found by its encoding, compared byte for byte, never by a
// key or a checksum: it answers only the very bytes it was decoded from,
// so it can never stand for an entry that has changed, gone, or belongs to
// another key. It does not save the store's read; it saves what follows.
//
// It keeps about the bytes it is made with, at most, counting each
// entry's encoding and all that is built from it (keptEntryCost), and entries of
// at most MaxDecodedEntryBytes each; others are decoded each time. The
// newest entries are kept: one decoded takes the place of older ones. Safe
// for concurrent use. The entries it returns may be shared by every caller
// that decodes the same bytes, as a MemoryStorage's are: they must not be
// modified (Entry: entries are immutable once stored).
type EntryDecoder struct {
	kept *decodedBytes[decodedEntry]
}

// MaxDecodedEntryBytes is the largest encoding an EntryDecoder keeps the
// entry of; a larger one is decoded on every call, its body sharing the
// caller's bytes as UnmarshalEntry's does.
const MaxDecodedEntryBytes = 64 << 10

// decodedEntry is an entry kept by an EntryDecoder, and the entry alone in
// a slice, which a store's Get can return as it is.
type decodedEntry struct {
	entry *Entry
	alone []*Entry
}

// NewEntryDecoder returns an EntryDecoder that keeps at most maxBytes of
// decoded entries. A maxBytes of zero or less keeps none: Unmarshal is then
// UnmarshalEntry.
func NewEntryDecoder(maxBytes int64) *EntryDecoder {
	return &EntryDecoder{kept: newDecodedBytes[decodedEntry](maxBytes)}
}

// Unmarshal decodes bytes made by MarshalEntry, as UnmarshalEntry does. An
// entry it keeps has a body of its own, not sharing data, which the caller
// may reuse once Unmarshal has returned.
func (d *EntryDecoder) Unmarshal(data []byte) (*Entry, error) {
	e, _, err := d.unmarshal(data)
	return e, err
}

// UnmarshalAlone is Unmarshal for a store's Get that finds one entry: it
// returns the entry alone in a slice, which may be shared as the entry is,
// so that a hit allocates none. The caller must not modify the slice.
func (d *EntryDecoder) UnmarshalAlone(data []byte) ([]*Entry, error) {
	e, alone, err := d.unmarshal(data)
	if err != nil {
		return nil, err
	}
	if alone == nil {
		alone = []*Entry{e}
	}
	return alone, nil
}

// unmarshal returns data's entry: the one kept for data when there is one,
// else decoded, and kept when it may be; alone is the kept entry's slice,
// nil for an entry not kept.
func (d *EntryDecoder) unmarshal(data []byte) (e *Entry, alone []*Entry, err error) {
	if d == nil || !d.kept.keeps(data) || len(data) > MaxDecodedEntryBytes {
		e, err = UnmarshalEntry(data)
		return e, nil, err
	}
	slot, kept := d.kept.find(data)
	if kept != nil {
		return kept.entry, kept.alone, nil
	}
	encoding := bytes.Clone(data) // the caller may reuse data
	if e, err = UnmarshalEntry(encoding); err != nil {
		return nil, nil, err
	}
	decoded := decodedEntry{entry: e, alone: []*Entry{e}}
	cost := keptEntryCost(e) + decodedEntryCost
	if body, ok := e.Body.(BytesBody); ok {
		cost -= int64(cap(body)) // the encoding's bytes: counted with it, not again
	}
	d.kept.keep(slot, encoding, decoded, cost)
	return e, decoded.alone, nil
}

// keptEntryCost is what an entry kept decoded costs in memory besides the
// bytes it was decoded from: what a MemoryStorage counts for it
// (entrySize), its facts parsed now so that the field names they hold
// count, and what the Transport keeps on it as it serves it (the Age and
// Cache-Status of its hits, its facts as a rule amends them).
func keptEntryCost(e *Entry) int64 {
	e.responseFacts()
	return entrySize(e) + servedEntryCost
}

const (
	// servedEntryCost: an entry's hitFields, with their two strings, and
	// its facts as a rule amends them.
	servedEntryCost = int64(unsafe.Sizeof(hitFields{})) + 64 + int64(unsafe.Sizeof(responseFacts{}))
	// decodedEntryCost: an EntryDecoder's record of a kept entry and the
	// entry alone in a slice.
	decodedEntryCost = int64(unsafe.Sizeof(keptBytes[decodedEntry]{})) + 16
)

// decodedBytes keeps values decoded from bytes (an entry, a disk file's
// records), found by a hash of the bytes and compared with them byte for
// byte: the memory of EntryDecoder and of DiskStorage's reads.
type decodedBytes[T any] struct {
	seed     maphash.Seed
	maxBytes int64
	held     atomic.Int64
	// slots are found by the hash: one value each, replaced by the next
	// one decoded there. Read without a lock. There are about as many as
	// maxBytes holds of typical entries, so that the slots next to a new
	// value's, which make room for it, hold some.
	slots []atomic.Pointer[keptBytes[T]]
}

// keptBytes is a value decoded from bytes: a copy of the bytes, the value,
// and what it counts for against the bound.
type keptBytes[T any] struct {
	data  []byte
	value T
	size  int64
}

// bytesPerDecodedSlot is the room a slot stands for: a typical API
// response's entry, with its header and facts. There are between
// minDecodedSlots and maxDecodedSlots.
const (
	bytesPerDecodedSlot = 4 << 10
	minDecodedSlots     = 16
	maxDecodedSlots     = 4096
)

// decodedEvictions is how many other slots keep empties to make room.
const decodedEvictions = 8

// newDecodedBytes returns a decodedBytes that keeps at most maxBytes; nil,
// which keeps nothing, for maxBytes of zero or less.
func newDecodedBytes[T any](maxBytes int64) *decodedBytes[T] {
	if maxBytes <= 0 {
		return nil
	}
	return &decodedBytes[T]{seed: maphash.MakeSeed(), maxBytes: maxBytes,
		slots: make([]atomic.Pointer[keptBytes[T]], min(max(maxBytes/bytesPerDecodedSlot, minDecodedSlots), maxDecodedSlots))}
}

// keeps reports whether values decoded from data may be kept.
func (m *decodedBytes[T]) keeps(data []byte) bool {
	return m != nil && int64(len(data)) <= m.maxBytes
}

// find returns data's slot, and the value kept there when it was decoded
// from bytes equal to data; nil otherwise.
func (m *decodedBytes[T]) find(data []byte) (slot uint64, value *T) {
	slot = maphash.Bytes(m.seed, data) % uint64(len(m.slots))
	if kept := m.slots[slot].Load(); kept != nil && bytes.Equal(kept.data, data) {
		return slot, &kept.value
	}
	return slot, nil
}

// keep puts value, decoded from data (which it keeps: the caller must not
// modify it after), in slot, in place of the value there. extra is what
// value holds beyond data's allocation. When what is kept would outgrow maxBytes, it
// first empties the next slots, a few at most: the newest values stay,
// whichever they are.
func (m *decodedBytes[T]) keep(slot uint64, data []byte, value T, extra int64) {
	kept := &keptBytes[T]{data: data, value: value, size: int64(cap(data)) + extra}
	n := uint64(len(m.slots))
	for i := uint64(1); i <= decodedEvictions && m.held.Load()+kept.size > m.maxBytes; i++ {
		if old := m.slots[(slot+i)%n].Swap(nil); old != nil {
			m.held.Add(-old.size)
		}
	}
	old := m.slots[slot].Load()
	var freed int64
	if old != nil {
		freed = old.size
	}
	if m.held.Load()-freed+kept.size > m.maxBytes {
		return // still full: value is not kept
	}
	if m.slots[slot].CompareAndSwap(old, kept) {
		m.held.Add(kept.size - freed)
	}
}
