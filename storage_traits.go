package httpcache

import (
	"context"
)

// Optional interfaces a Storage may implement, so that the Transport uses
// it as well as it can without knowing its type. The built-in stores
// implement those that fit them.
//
// A store that wraps another, to count, trace or filter its calls, behaves
// as what it wraps when it implements the interfaces the wrapped store
// does: Local and GetKeyBytes by asking it, MemoryTier by returning
// itself. One that implements none is used as a store of its own: written
// behind the request, each call under a timeout. Beware of embedding: a
// struct that embeds a *MemoryStorage or a *TieredStorage gets their Local
// and GetKeyBytes as well, so a wrapper that overrides Get must override
// GetKeyBytes too. The MemoryTier it would get names the embedded store's
// tiers, not the wrapper, and the Transport ignores it rather than bypass
// the wrapper.

// LocalStorage is implemented by a Storage whose calls never wait on a
// network: a store in this process's memory or on a local disk. When Local
// reports true, the Transport gives its calls no timeout
// (WithStorageTimeout), since a context could not interrupt them anyway.
type LocalStorage interface {
	Storage
	// Local reports whether every call runs in this process or on a local
	// file system.
	Local() bool
}

// TimeBoundedStorage is implemented by a Storage whose every call ends
// within a timeout of its own, such as storage/redisstore's WithTimeout.
// When TimeBounded reports true, the Transport gives its calls no timeout
// (WithStorageTimeout), which would only wrap the store's in a second.
type TimeBoundedStorage interface {
	Storage
	// TimeBounded reports whether every call ends within the store's own
	// timeout.
	TimeBounded() bool
}

// KeyBytesGetter is implemented by a Storage that can look a key up in a
// byte slice, as a Go map index by string(key) does without copying it.
// The Transport builds the key of a request in a buffer on its stack, so
// that with such a store a hit allocates nothing for the key.
type KeyBytesGetter interface {
	Storage
	// GetKeyBytes is Get for a key held in a byte slice. It must not keep
	// key, or any string that shares its bytes, after it returns.
	GetKeyBytes(ctx context.Context, key []byte) ([]*Entry, error)
}

// MemoryTiered is implemented by a Storage that holds entries in this
// process's memory, wholly (MemoryStorage) or in a tier in front of a
// slower store (TieredStorage). The Transport reads the memory tier first
// and writes it at once, on the caller's goroutine, so that the next
// request is a hit; it writes the store behind it, if any, behind the
// request (see WithStorage).
type MemoryTiered interface {
	Storage
	// MemoryTier returns the tier in memory and the store behind it. A
	// store wholly in memory returns itself and nil; any other memory
	// tier without a store behind it is ignored. The Transport reads
	// memory first, the whole Storage when memory has nothing, and behind
	// when none of the variants memory holds matches the request; it
	// writes to memory and behind; it deletes from the whole Storage.
	MemoryTier() (memory, behind Storage)
}

// VariantDeleter is implemented by a Storage that can remove the stored
// response of one variant of a key (Entry.Variant) and keep the others.
// The Transport removes one variant when a response for it says the
// stored one is outdated and may not replace it (a no-store answer, a
// refused 304 or HEAD update): one caller's request, say with
// Accept-Language: xx, must not wipe every language's response. A store
// without it has the key deleted, every variant with it.
type VariantDeleter interface {
	Storage
	// DeleteVariant removes the entry stored under key whose Variant is
	// variant, if any. Deleting one that is not there is not an error.
	DeleteVariant(ctx context.Context, key, variant string) error
}

// deleteVariant removes one variant of key from s: with DeleteVariant
// where s has it, and else every variant of the key.
func deleteVariant(ctx context.Context, s Storage, key, variant string) error {
	if d, ok := s.(VariantDeleter); ok {
		return d.DeleteVariant(ctx, key, variant)
	}
	return s.Delete(ctx, key)
}
