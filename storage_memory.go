package httpcache

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
	"unsafe"
)

// MemoryStorage is a Storage in memory, bounded by bytes: when a new entry
// would take it over its bound, the least recently used keys are evicted.
// It keeps decoded entries, so a hit neither decodes nor copies a body. It
// is safe for concurrent use.
type MemoryStorage struct {
	maxBytes int64
	// epoch is when the store was made; expiries are kept as monotonic
	// offsets from it, so that checking one reads only the monotonic clock.
	epoch time.Time

	mu        sync.Mutex
	usedBytes int64
	items     map[string]*memoryItem
	// partitioned indexes the items of keys with a partition by their
	// URL (KeyURL), for DeleteURL.
	partitioned map[string]map[*memoryItem]struct{}
	recency     recencyList[*memoryItem]
	secret      []byte
}

// memoryItem is one key's variants, linked into the recency list. Its
// variants slice is replaced, never modified, so Get can return it.
type memoryItem struct {
	key      string
	variants []*Entry
	meta     []variantMeta // per variant
	size     int64
	node     recencyNode[*memoryItem]
	// firstMeta backs meta while the key has one variant, so that a new
	// key costs no allocation for it. No reader ever sees meta. (The
	// variants slice is never kept in the item: a reader may hold it, so
	// an entry in it could not be let go when replaced.)
	firstMeta [1]variantMeta
}

// What a key costs a MemoryStorage beside its entries: the item, its slot
// in the key map (and the URL index), and a variant's place in the item's
// slices. Measured with entrySize (TestMemoryStorageHoldsItsBound).
const (
	memoryItemCost    = int64(unsafe.Sizeof(memoryItem{})) + 96
	memoryVariantCost = int64(unsafe.Sizeof(&Entry{})) + int64(unsafe.Sizeof(variantMeta{}))
)

// variantMeta is what a MemoryStorage keeps beside a variant.
type variantMeta struct {
	expiry time.Duration // since epoch; zero when no ttl was given
	size   int64         // entrySize, counted once when stored
}

// NewMemoryStorage returns a MemoryStorage that holds at most maxBytes of
// entries (bodies, headers and bookkeeping). A maxBytes of zero or less means
// DefaultMemoryBytes.
func NewMemoryStorage(maxBytes int64) *MemoryStorage {
	if maxBytes <= 0 {
		maxBytes = DefaultMemoryBytes
	}
	return &MemoryStorage{maxBytes: maxBytes, epoch: time.Now(), items: make(map[string]*memoryItem),
		partitioned: make(map[string]map[*memoryItem]struct{}), secret: newPartitionSecret()}
}

// Get returns the variants stored under key that have not expired.
func (m *MemoryStorage) Get(_ context.Context, key string) ([]*Entry, error) {
	return m.getKeyBytes([]byte(key)), nil
}

// GetKeyBytes is Get for a key in a byte slice (KeyBytesGetter): the
// Transport's hit path builds keys on the stack, and a map index by
// string(key) does not copy.
func (m *MemoryStorage) GetKeyBytes(_ context.Context, key []byte) ([]*Entry, error) {
	return m.getKeyBytes(key), nil
}

// Local reports true: a MemoryStorage's calls never wait (LocalStorage).
func (m *MemoryStorage) Local() bool { return true }

// MemoryTier returns m itself and no store behind it (MemoryTiered): the
// Transport stores entries in m at once.
func (m *MemoryStorage) MemoryTier() (memory, behind Storage) { return m, nil }

func (m *MemoryStorage) getKeyBytes(key []byte) []*Entry {
	return m.lookup(key, time.Since(m.epoch))
}

// getKeyBytesAt is getKeyBytes at now, a reading of time.Now taken by the
// caller, so that a hit reads the clock once: its monotonic reading times
// the expiry, as time.Since would.
func (m *MemoryStorage) getKeyBytesAt(key []byte, now time.Time) []*Entry {
	return m.lookup(key, now.Sub(m.epoch))
}

// lookup returns key's variants that have not expired elapsed after the
// store's epoch, and marks the key used.
func (m *MemoryStorage) lookup(key []byte, elapsed time.Duration) []*Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	item := m.items[string(key)]
	if item == nil {
		return nil
	}
	m.dropExpired(item, elapsed)
	if len(item.variants) == 0 {
		m.remove(item)
		return nil
	}
	m.recency.touch(&item.node)
	return item.variants
}

// Set stores entry under key, replacing the variant with the same Variant.
// An entry larger than the whole bound is not stored, and the key's
// variants, which it supersedes, are removed.
func (m *MemoryStorage) Set(ctx context.Context, key string, entry *Entry, ttl time.Duration) error {
	if entry == nil {
		return errors.New("httpcache: MemoryStorage.Set: nil entry")
	}
	size := entrySize(entry)
	if size+int64(len(key)) > m.maxBytes {
		// Too big to keep: the stored response of its variant is
		// outdated, the key's other variants are not.
		return m.DeleteVariant(ctx, key, entry.Variant)
	}
	var expiry time.Duration
	if ttl > 0 {
		expiry = addDurations(time.Since(m.epoch), ttl)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	item := m.items[key]
	if item == nil {
		item = m.add(key)
	}
	m.recency.touch(&item.node)
	// A reader may hold the variants slice Get returned: it is replaced.
	// No reader ever sees meta, which is rebuilt in place.
	variants := make([]*Entry, 0, len(item.variants)+1)
	meta := item.meta[:0]
	if meta == nil {
		meta = item.firstMeta[:0]
	}
	for i, v := range item.variants {
		if v.Variant != entry.Variant {
			variants = append(variants, v)
			meta = append(meta, item.meta[i])
		}
	}
	if len(variants) >= maxVariantsPerKey {
		variants, meta = variants[1:], meta[1:]
	}
	m.setVariants(item, append(variants, entry), append(meta, variantMeta{expiry: expiry, size: size}))
	m.evict(item)
	return nil
}

// Delete removes every variant stored under key.
func (m *MemoryStorage) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if item := m.items[key]; item != nil {
		m.remove(item)
	}
	return nil
}

// DeleteVariant removes the stored response of one variant of key, and
// leaves the key's others (VariantDeleter).
func (m *MemoryStorage) DeleteVariant(_ context.Context, key, variant string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	item := m.items[key]
	if item == nil {
		return nil
	}
	i := slices.IndexFunc(item.variants, func(e *Entry) bool { return e.Variant == variant })
	switch {
	case i < 0:
	case len(item.variants) == 1:
		m.remove(item)
	default:
		// A reader may hold the variants slice: a new one replaces it.
		variants := slices.Delete(slices.Clone(item.variants), i, i+1)
		meta := slices.Delete(item.meta, i, i+1)
		m.setVariants(item, variants, meta)
	}
	return nil
}

// DeleteURL removes every variant stored under every key of url, in every
// partition.
func (m *MemoryStorage) DeleteURL(_ context.Context, url string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if item := m.items[url]; item != nil {
		m.remove(item)
	}
	for item := range m.partitioned[url] {
		m.remove(item)
	}
	return nil
}

// PartitionSecret returns the secret generated for the store
// (PartitionSecretKeeper): every Transport using it computes the same
// partitions.
func (m *MemoryStorage) PartitionSecret() []byte { return m.secret }

// Len returns the number of keys stored.
func (m *MemoryStorage) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items)
}

// Size returns the bytes the stored entries take, as counted against the
// bound.
func (m *MemoryStorage) Size() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.usedBytes
}

func (m *MemoryStorage) setVariants(item *memoryItem, variants []*Entry, meta []variantMeta) {
	size := memoryItemCost + int64(len(item.key)) + int64(len(variants))*memoryVariantCost
	for _, v := range meta {
		size += v.size
	}
	m.usedBytes += size - item.size
	item.variants, item.meta, item.size = variants, meta, size
}

func (m *MemoryStorage) dropExpired(item *memoryItem, now time.Duration) {
	expired := func(v variantMeta) bool { return v.expiry != 0 && now > v.expiry }
	if !slices.ContainsFunc(item.meta, expired) {
		return
	}
	var variants []*Entry
	var meta []variantMeta
	for i, v := range item.meta {
		if !expired(v) {
			variants = append(variants, item.variants[i])
			meta = append(meta, v)
		}
	}
	m.setVariants(item, variants, meta)
}

// evict removes least recently used keys until the store is within its
// bound, sparing keep (the key just set).
func (m *MemoryStorage) evict(keep *memoryItem) {
	for m.usedBytes > m.maxBytes {
		victim := m.recency.evictionVictim(&keep.node)
		if victim == nil {
			m.trimVariants(keep)
			return
		}
		m.remove(victim.item)
	}
}

// trimVariants drops keep's oldest variants, all but the one just set
// (the last), while the store is over its bound: the variants of one key
// count against the bound as any entries do. m.mu is held.
func (m *MemoryStorage) trimVariants(keep *memoryItem) {
	drop := 0
	for over := m.usedBytes - m.maxBytes; over > 0 && drop < len(keep.variants)-1; drop++ {
		over -= keep.meta[drop].size + memoryVariantCost
	}
	if drop == 0 {
		return
	}
	// A reader may hold the variants slice: a new one replaces it.
	variants := slices.Clone(keep.variants[drop:])
	meta := append(keep.meta[:0], keep.meta[drop:]...)
	m.setVariants(keep, variants, meta)
}

// add makes the item of a new key. m.mu is held.
func (m *MemoryStorage) add(key string) *memoryItem {
	item := &memoryItem{key: key}
	item.node.item = item
	m.items[key] = item
	if url := KeyURL(key); url != key {
		if m.partitioned[url] == nil {
			m.partitioned[url] = make(map[*memoryItem]struct{})
		}
		m.partitioned[url][item] = struct{}{}
	}
	return item
}

func (m *MemoryStorage) remove(item *memoryItem) {
	m.recency.remove(&item.node)
	delete(m.items, item.key)
	m.usedBytes -= item.size
	if url := KeyURL(item.key); url != item.key {
		delete(m.partitioned[url], item)
		if len(m.partitioned[url]) == 0 {
			delete(m.partitioned, url)
		}
	}
}

var (
	_ VariantDeleter        = (*MemoryStorage)(nil)
	_ KeyBytesGetter        = (*MemoryStorage)(nil)
	_ LocalStorage          = (*MemoryStorage)(nil)
	_ MemoryTiered          = (*MemoryStorage)(nil)
	_ PartitionSecretKeeper = (*MemoryStorage)(nil)
)
