package httpcache

import (
	"context"
	"errors"
	"fmt"
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
// invalidation removes the memory copy at once.
type TieredStorage struct {
	front    *MemoryStorage
	back     Storage
	trustFor time.Duration
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
	return &TieredStorage{front: front, back: back, trustFor: trustFor}, nil
}

// Get returns the variants under key from memory, or else from the shared
// tier, keeping them in memory.
func (s *TieredStorage) Get(ctx context.Context, key string) ([]*Entry, error) {
	if entries := s.front.getKeyBytes([]byte(key)); len(entries) > 0 {
		return entries, nil
	}
	entries, err := s.back.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		s.front.Set(ctx, key, e, s.trustFor)
	}
	return entries, nil
}

// Set stores entry in both tiers; the memory copy is trusted for at most
// trustFor.
func (s *TieredStorage) Set(ctx context.Context, key string, entry *Entry, ttl time.Duration) error {
	s.front.Set(ctx, key, entry, s.memoryTTL(ttl))
	return s.back.Set(ctx, key, entry, ttl)
}

// Delete removes key from both tiers.
func (s *TieredStorage) Delete(ctx context.Context, key string) error {
	s.front.Delete(ctx, key)
	return s.back.Delete(ctx, key)
}

// DeleteURL removes every key of url from both tiers.
func (s *TieredStorage) DeleteURL(ctx context.Context, url string) error {
	s.front.DeleteURL(ctx, url)
	return s.back.DeleteURL(ctx, url)
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
// (MemoryTiered).
func (s *TieredStorage) MemoryTier() (memory, behind Storage) {
	return tieredMemory{s}, s.back
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

func (m tieredMemory) Set(ctx context.Context, key string, entry *Entry, ttl time.Duration) error {
	return m.s.front.Set(ctx, key, entry, m.s.memoryTTL(ttl))
}

func (m tieredMemory) Delete(ctx context.Context, key string) error {
	return m.s.front.Delete(ctx, key)
}

func (m tieredMemory) DeleteURL(ctx context.Context, url string) error {
	return m.s.front.DeleteURL(ctx, url)
}

func (m tieredMemory) Local() bool { return true }

var (
	_ MemoryTiered   = (*TieredStorage)(nil)
	_ LocalStorage   = (*TieredStorage)(nil)
	_ KeyBytesGetter = tieredMemory{}
	_ LocalStorage   = tieredMemory{}
)
