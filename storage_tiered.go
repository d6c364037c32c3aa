package httpcache

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// TieredStorage keeps recently used entries in a MemoryStorage in front of
// another Storage, above all a shared one such as Redis, so that a hit on
// a hot entry does not cost a round trip.
//
// Reads try the memory tier first, then the shared one; what the shared
// one returns is kept in memory. Writes and deletes go to both. A copy in
// memory is trusted for at most trustFor: an entry another instance
// replaced or invalidated in the shared tier may be served from memory for
// that long. Choose trustFor as the staleness the application accepts
// across instances (a few seconds is typical); within one instance,
// invalidation removes the memory copy at once, and a read of the shared
// tier that a write or delete of the URL overtook keeps nothing in memory.
type TieredStorage struct {
	front    *MemoryStorage
	back     Storage
	trustFor time.Duration
	// urls count the changes of URLs to the memory tier (urlStripe), so
	// that Get keeps what it read from the shared tier in memory only when
	// nothing changed the URL during the read: a copy read before an
	// invalidation, kept after it, would be served for trustFor.
	seed maphash.Seed
	urls [tieredStripes]urlStripe
}

// tieredStripes is how many stripes the URLs of a TieredStorage share: a
// change of one URL makes the reads of the URLs of its stripe that it
// overtook keep nothing, which costs them a memory copy, never an answer.
const tieredStripes = 64

// urlStripe serialises the changes of its URLs to the memory tier with the
// copies Get keeps there, and counts the changes.
type urlStripe struct {
	mu      sync.Mutex
	changes atomic.Uint64
}

// NewTieredStorage returns a Storage with front in memory before back,
// trusting a memory copy for at most trustFor.
func NewTieredStorage(front *MemoryStorage, back Storage, trustFor time.Duration) (*TieredStorage, error) {
	switch {
	case front == nil:
		return nil, errors.New("httpcache: NewTieredStorage: front is nil")
	case back == nil:
		return nil, errors.New("httpcache: NewTieredStorage: back is nil")
	case trustFor <= 0:
		return nil, fmt.Errorf("httpcache: NewTieredStorage: trustFor %v is not a positive duration", trustFor)
	}
	return &TieredStorage{front: front, back: back, trustFor: trustFor, seed: maphash.MakeSeed()}, nil
}

// Get returns the variants under key from memory, or else from the shared
// tier, keeping them in memory unless a write or delete of the URL in
// this instance overtook the read.
func (s *TieredStorage) Get(ctx context.Context, key string) ([]*Entry, error) {
	// Counted before the memory tier is asked: a write that lands between
	// the two is one the read may not keep an older entry over.
	stripe := s.stripe(KeyURL(key))
	before := stripe.changes.Load()
	if entries := s.front.getKeyBytes([]byte(key)); len(entries) > 0 {
		return entries, nil
	}
	entries, err := s.back.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	stripe.mu.Lock()
	if stripe.changes.Load() == before {
		for _, e := range entries {
			s.front.Set(ctx, key, e, s.trustFor)
		}
	}
	stripe.mu.Unlock()
	return entries, nil
}

// Set stores entry in both tiers; the memory copy is trusted for at most
// trustFor.
func (s *TieredStorage) Set(ctx context.Context, key string, entry *Entry, ttl time.Duration) error {
	s.changeMemory(KeyURL(key), func() { s.front.Set(ctx, key, entry, s.memoryTTL(ttl)) })
	return s.setBehind(ctx, key, entry, ttl)
}

// setBehind writes entry to the shared tier, then counts the change again:
// a Get that read the shared tier before the write landed keeps nothing,
// and an older entry of the variant one kept already (the memory tier had
// refused or evicted entry) is removed from memory.
func (s *TieredStorage) setBehind(ctx context.Context, key string, entry *Entry, ttl time.Duration) error {
	err := s.back.Set(ctx, key, entry, ttl)
	s.changeMemory(KeyURL(key), func() {
		older := func(e *Entry) bool { return e.Variant == entry.Variant && newerThan(entry, e) }
		if slices.ContainsFunc(s.front.getKeyBytes([]byte(key)), older) {
			s.front.Delete(ctx, key)
		}
	})
	return err
}

// deleteBehind deletes key from the shared tier only, then counts the
// change, so that no Get that read the shared tier before keeps what it
// read. The memory tier keeps its copy: the newer entry a write there
// made, which the shared tier refused.
func (s *TieredStorage) deleteBehind(ctx context.Context, key string) error {
	err := s.back.Delete(ctx, key)
	s.changeMemory(KeyURL(key), func() {})
	return err
}

// Delete removes key from both tiers.
func (s *TieredStorage) Delete(ctx context.Context, key string) error {
	url := KeyURL(key)
	s.changeMemory(url, func() { s.front.Delete(ctx, key) })
	err := s.back.Delete(ctx, key)
	// Again: a Get that read the shared tier while it deleted, and kept
	// what it read, kept what is now deleted.
	s.changeMemory(url, func() { s.front.Delete(ctx, key) })
	return err
}

// DeleteVariant removes the stored response of one variant of key from
// both tiers (VariantDeleter); where the store behind cannot remove one
// variant alone, every variant of the key goes, from both.
func (s *TieredStorage) DeleteVariant(ctx context.Context, key, variant string) error {
	if _, ok := s.back.(VariantDeleter); !ok {
		return s.Delete(ctx, key)
	}
	url := KeyURL(key)
	s.changeMemory(url, func() { s.front.DeleteVariant(ctx, key, variant) })
	err := deleteVariant(ctx, s.back, key, variant)
	s.changeMemory(url, func() { s.front.DeleteVariant(ctx, key, variant) }) // as Delete does
	return err
}

// DeleteURL removes every key of url from both tiers.
func (s *TieredStorage) DeleteURL(ctx context.Context, url string) error {
	s.changeMemory(url, func() { s.front.DeleteURL(ctx, url) })
	err := s.back.DeleteURL(ctx, url)
	s.changeMemory(url, func() { s.front.DeleteURL(ctx, url) }) // as Delete does
	return err
}

// stripe returns the stripe of url.
func (s *TieredStorage) stripe(url string) *urlStripe {
	return &s.urls[maphash.String(s.seed, url)%tieredStripes]
}

// changeMemory runs change, a write or delete of url in the memory tier,
// and counts it, so that no Get it overtook keeps what it read.
func (s *TieredStorage) changeMemory(url string, change func()) {
	stripe := s.stripe(url)
	stripe.mu.Lock()
	stripe.changes.Add(1)
	change()
	stripe.mu.Unlock()
}

// PartitionSecret returns the shared tier's secret when it keeps one, and
// else the memory tier's (PartitionSecretKeeper).
func (s *TieredStorage) PartitionSecret() []byte {
	if keeper, ok := s.back.(PartitionSecretKeeper); ok {
		return keeper.PartitionSecret()
	}
	return s.front.PartitionSecret()
}

// MemoryTier returns the memory tier, as the Transport reads and writes it
// at once, and the shared tier, which it writes behind the request
// (MemoryTiered), through tieredBehind, which counts its writes as Set does.
func (s *TieredStorage) MemoryTier() (memory, behind Storage) {
	return tieredMemory{s}, tieredBehind{s}
}

// Local reports whether the shared tier is local (LocalStorage).
func (s *TieredStorage) Local() bool {
	l, ok := s.back.(LocalStorage)
	return ok && l.Local()
}

func (s *TieredStorage) memoryTTL(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return s.trustFor
	}
	return min(ttl, s.trustFor)
}

// tieredMemory is the memory tier of a TieredStorage as its MemoryTier
// returns it: writes to it are trusted for at most trustFor, as the
// TieredStorage's own are.
type tieredMemory struct{ s *TieredStorage }

func (m tieredMemory) Get(ctx context.Context, key string) ([]*Entry, error) {
	return m.s.front.Get(ctx, key)
}

func (m tieredMemory) GetKeyBytes(ctx context.Context, key []byte) ([]*Entry, error) {
	return m.s.front.GetKeyBytes(ctx, key)
}

func (m tieredMemory) Set(ctx context.Context, key string, entry *Entry, ttl time.Duration) (err error) {
	m.s.changeMemory(KeyURL(key), func() { err = m.s.front.Set(ctx, key, entry, m.s.memoryTTL(ttl)) })
	return err
}

func (m tieredMemory) Delete(ctx context.Context, key string) (err error) {
	m.s.changeMemory(KeyURL(key), func() { err = m.s.front.Delete(ctx, key) })
	return err
}

func (m tieredMemory) DeleteVariant(ctx context.Context, key, variant string) (err error) {
	m.s.changeMemory(KeyURL(key), func() { err = m.s.front.DeleteVariant(ctx, key, variant) })
	return err
}

func (m tieredMemory) DeleteURL(ctx context.Context, url string) (err error) {
	m.s.changeMemory(url, func() { err = m.s.front.DeleteURL(ctx, url) })
	return err
}

func (m tieredMemory) Local() bool { return true }

// tieredBehind is the shared tier of a TieredStorage as its MemoryTier
// returns it: the Transport's writes behind the requests, and the deletes
// from it alone that follow a failed write, count as changes of their URLs
// once done (setBehind, deleteBehind), so that no read of the shared tier
// they overtook keeps an older entry in memory. It has the shared tier's
// traits (LocalStorage, TimeBoundedStorage).
type tieredBehind struct{ s *TieredStorage }

func (b tieredBehind) Get(ctx context.Context, key string) ([]*Entry, error) {
	return b.s.back.Get(ctx, key)
}

func (b tieredBehind) Set(ctx context.Context, key string, entry *Entry, ttl time.Duration) error {
	return b.s.setBehind(ctx, key, entry, ttl)
}

func (b tieredBehind) Delete(ctx context.Context, key string) error {
	return b.s.deleteBehind(ctx, key)
}

// DeleteVariant removes one variant from the shared tier where it can,
// and else the key (VariantDeleter).
func (b tieredBehind) DeleteVariant(ctx context.Context, key, variant string) error {
	err := deleteVariant(ctx, b.s.back, key, variant)
	b.s.changeMemory(KeyURL(key), func() {})
	return err
}

func (b tieredBehind) DeleteURL(ctx context.Context, url string) error {
	err := b.s.back.DeleteURL(ctx, url)
	b.s.changeMemory(url, func() {})
	return err
}

// Local reports whether the shared tier is local (LocalStorage).
func (b tieredBehind) Local() bool { return b.s.Local() }

// TimeBounded reports whether the shared tier bounds its calls in time
// (TimeBoundedStorage).
func (b tieredBehind) TimeBounded() bool {
	bounded, ok := b.s.back.(TimeBoundedStorage)
	return ok && bounded.TimeBounded()
}

var (
	_ MemoryTiered       = (*TieredStorage)(nil)
	_ VariantDeleter     = (*TieredStorage)(nil)
	_ LocalStorage       = (*TieredStorage)(nil)
	_ KeyBytesGetter     = tieredMemory{}
	_ LocalStorage       = tieredMemory{}
	_ LocalStorage       = tieredBehind{}
	_ TimeBoundedStorage = tieredBehind{}
	_ VariantDeleter     = tieredMemory{}
	_ VariantDeleter     = tieredBehind{}
)
