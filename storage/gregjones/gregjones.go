// Package gregjones makes any github.com/gregjones/httpcache backend an
// httpcache.Storage: its diskcache, memcache, redis and leveldbcache
// packages, or a Cache of your own. Users of gregjones/httpcache keep their
// backend and move to this cache's transport:
//
//	backend := diskcache.New("/var/cache/app")      // as before
//	cache := httpcache.New(httpcache.WithStorage(gregjones.New(backend)))
//
// Each key's variants are kept as one value, under the key with a prefix of
// its own, so entries written by gregjones/httpcache itself (dumped HTTP
// responses) are never mistaken for this cache's. The backend has no
// expiry, so each variant carries its own and expired ones are dropped on
// read; a backend that evicts (memcache, an LRU) bounds the space.
package gregjones

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/c650553b/httpcache"
	ghttpcache "github.com/gregjones/httpcache"
)

// keyPrefix marks this cache's values in a backend that may also hold
// gregjones/httpcache's own.
const keyPrefix = "httpcache.v1:"

// valueMagic starts every value, with a format version.
const valueMagic = "HCG1"

// maxVariants bounds the variants kept under one key.
const maxVariants = 32

// Storage adapts a gregjones/httpcache Cache. It is safe for concurrent use
// if the Cache is. A Set of one variant reads and rewrites the key's value,
// so two instances writing variants of one key at once may lose one: a
// cache may forget.
type Storage struct {
	cache ghttpcache.Cache
}

// New returns a Storage on cache.
func New(cache ghttpcache.Cache) *Storage {
	return &Storage{cache: cache}
}

// record is one variant in a value: its expiry and its encoded entry.
type record struct {
	expiry  int64 // Unix milliseconds; 0 for none
	encoded []byte
	entry   *httpcache.Entry
}

// Get returns the unexpired variants stored under key. A value that does
// not decode is a miss.
func (s *Storage) Get(_ context.Context, key string) ([]*httpcache.Entry, error) {
	records := s.read(key)
	now := time.Now().UnixMilli()
	var entries []*httpcache.Entry
	for _, r := range records {
		if r.expiry == 0 || r.expiry >= now {
			entries = append(entries, r.entry)
		}
	}
	return entries, nil
}

// Set stores entry under key, replacing the variant with the same Variant
// and dropping expired ones.
func (s *Storage) Set(_ context.Context, key string, entry *httpcache.Entry, ttl time.Duration) error {
	encoded, err := httpcache.MarshalEntry(entry)
	if err != nil {
		return err
	}
	var expiry int64
	if ttl > 0 {
		expiry = time.Now().Add(ttl).UnixMilli()
	}
	now := time.Now().UnixMilli()
	kept := []record{{expiry: expiry, encoded: encoded}}
	for _, r := range s.read(key) {
		if r.entry.Variant != entry.Variant && (r.expiry == 0 || r.expiry >= now) && len(kept) < maxVariants {
			kept = append(kept, r)
		}
	}
	s.cache.Set(keyPrefix+key, encodeValue(kept))
	return nil
}

// Delete removes every variant stored under key.
func (s *Storage) Delete(_ context.Context, key string) error {
	s.cache.Delete(keyPrefix + key)
	return nil
}

// read returns the records stored under key, or none if the value is
// missing or damaged (a damaged value is deleted).
func (s *Storage) read(key string) []record {
	value, ok := s.cache.Get(keyPrefix + key)
	if !ok {
		return nil
	}
	// The entries share the value's memory: a copy of their own, in case
	// the backend reuses its buffer.
	records, err := decodeValue(bytes.Clone(value))
	if err != nil {
		s.cache.Delete(keyPrefix + key)
		return nil
	}
	return records
}

// encodeValue lays out records as: magic, then for each its expiry
// (int64), its length (uint32) and its encoded entry.
func encodeValue(records []record) []byte {
	size := len(valueMagic)
	for _, r := range records {
		size += 12 + len(r.encoded)
	}
	value := make([]byte, 0, size)
	value = append(value, valueMagic...)
	for _, r := range records {
		value = binary.BigEndian.AppendUint64(value, uint64(r.expiry))
		value = binary.BigEndian.AppendUint32(value, uint32(len(r.encoded)))
		value = append(value, r.encoded...)
	}
	return value
}

var errDamaged = errors.New("gregjones: damaged value")

// decodeValue reads what encodeValue wrote; the entries' checksums catch
// any damage.
func decodeValue(value []byte) ([]record, error) {
	if len(value) < len(valueMagic) || string(value[:len(valueMagic)]) != valueMagic {
		return nil, errDamaged
	}
	rest := value[len(valueMagic):]
	var records []record
	for len(rest) > 0 {
		if len(rest) < 12 || len(records) >= maxVariants {
			return nil, errDamaged
		}
		expiry := int64(binary.BigEndian.Uint64(rest))
		n := binary.BigEndian.Uint32(rest[8:])
		rest = rest[12:]
		if uint64(n) > uint64(len(rest)) {
			return nil, errDamaged
		}
		entry, err := httpcache.UnmarshalEntry(rest[:n])
		if err != nil {
			return nil, err
		}
		records = append(records, record{expiry: expiry, encoded: rest[:n], entry: entry})
		rest = rest[n:]
	}
	return records, nil
}

var _ httpcache.Storage = (*Storage)(nil)
