package httpcache

import (
	"bytes"
	"hash/maphash"
	"sync/atomic"
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
// entry's encoding, its decoded header and its bookkeeping, and entries of
// at most MaxDecodedEntryBytes each; others are decoded each time. The
// newest entries are kept: one decoded takes the place of older ones. Safe for
// concurrent use. The entries it returns may be shared by every caller that
// decodes the same bytes, as a MemoryStorage's are: they must not be
// modified (Entry: entries are immutable once stored).
type EntryDecoder struct {
	seed     maphash.Seed
	maxBytes int64
	held     atomic.Int64
	// slots are found by a hash of the encoding: one entry each, replaced
	// by the next one decoded there. Read without a lock. There are about
	// as many as maxBytes holds of typical entries, so that the slots
	// next to a new entry's, which make room for it, hold some.
	slots []atomic.Pointer[decodedEntry]
}

// MaxDecodedEntryBytes is the largest encoding an EntryDecoder keeps the
// entry of; a larger one is decoded on every call, its body sharing the
// caller's bytes as UnmarshalEntry's does.
const MaxDecodedEntryBytes = 64 << 10

// bytesPerDecoderSlot is the room an EntryDecoder's slot stands for: a
// typical API response's entry, with its header and facts. There are
// between minDecoderSlots and maxDecoderSlots.
const (
	bytesPerDecoderSlot = 4 << 10
	minDecoderSlots     = 16
	maxDecoderSlots     = 4096
)

// decodedEntry is an entry kept by an EntryDecoder: its encoding, which its
// body shares, the entry, and the entry alone in a slice, which a store's
// Get can return as it is.
type decodedEntry struct {
	encoding []byte
	entry    *Entry
	alone    []*Entry
	size     int64
}

// NewEntryDecoder returns an EntryDecoder that keeps at most maxBytes of
// decoded entries. A maxBytes of zero or less keeps none: Unmarshal is then
// UnmarshalEntry.
func NewEntryDecoder(maxBytes int64) *EntryDecoder {
	d := &EntryDecoder{seed: maphash.MakeSeed(), maxBytes: maxBytes}
	if maxBytes > 0 {
		d.slots = make([]atomic.Pointer[decodedEntry], min(max(maxBytes/bytesPerDecoderSlot, minDecoderSlots), maxDecoderSlots))
	}
	return d
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
	if d == nil || d.maxBytes <= 0 || len(data) > MaxDecodedEntryBytes {
		e, err = UnmarshalEntry(data)
		return e, nil, err
	}
	index := maphash.Bytes(d.seed, data) % uint64(len(d.slots))
	if kept := d.slots[index].Load(); kept != nil && bytes.Equal(kept.encoding, data) {
		return kept.entry, kept.alone, nil
	}
	encoding := bytes.Clone(data) // the caller may reuse data
	if e, err = UnmarshalEntry(encoding); err != nil {
		return nil, nil, err
	}
	decoded := &decodedEntry{encoding: encoding, entry: e, alone: []*Entry{e}}
	decoded.size = int64(len(encoding)) + headerSize(e.Header) + entryOverhead
	d.keep(index, decoded)
	return e, decoded.alone, nil
}

// entryOverhead is what an EntryDecoder counts for a kept entry beyond its
// encoding and header: the entry itself, with its parsed facts.
const entryOverhead = 1024

// keep puts decoded in its slot, in place of the entry there. When the
// entries kept would outgrow maxBytes, it first removes those of the next
// slots, a few at most: the newest entries stay, whichever they are.
func (d *EntryDecoder) keep(index uint64, decoded *decodedEntry) {
	for i := uint64(1); i <= entryDecoderEvictions && d.held.Load()+decoded.size > d.maxBytes; i++ {
		if old := d.slots[(index+i)%uint64(len(d.slots))].Swap(nil); old != nil {
			d.held.Add(-old.size)
		}
	}
	slot := &d.slots[index]
	old := slot.Load()
	var freed int64
	if old != nil {
		freed = old.size
	}
	if d.held.Load()-freed+decoded.size > d.maxBytes {
		return // still full: decoded is not kept
	}
	if slot.CompareAndSwap(old, decoded) {
		d.held.Add(decoded.size - freed)
	}
}

// entryDecoderEvictions is how many other slots keep empties to make room.
const entryDecoderEvictions = 8
