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
//
// Cache tags (httpcache.Transport.InvalidateTag) are kept in an index per
// tag, as partitions are below (see tags.go).
//
// A backend's calls take no context; each operation runs on a goroutine of
// its own and returns when its context ends (the Transport's storage
// timeout), so that a silent memcache or Redis server delays a request by
// that timeout at most (see bounded.go and ErrBackendStuck).
//
// # Partitions and DeleteURL
//
// Each partition of a URL (each user, for a request with credentials) is a
// key, and so a backend value, of its own. The backend cannot list its
// keys, so for DeleteURL the Storage keeps, for each URL with partitioned
// keys, an index: one more value, under a prefix of its own that no entry
// key and no key of gregjones/httpcache's can have, listing the URL's
// partitions, each with the time its entry expires. Set of a partitioned
// key adds it to the index; DeleteURL deletes every partition the index
// lists, the URL's key without a partition, and the index. The index drops
// expired partitions whenever it is rewritten, and may list partitions
// already gone (evicted or deleted), which is harmless. It holds at most
// 8192 partitions of one URL: when it is full (even after it has checked
// which of them are still in the backend, at most once a minute), a
// response to a further partition is not stored, as a cache may forget.
//
// A Storage serialises its own writes to one URL, so within one process
// DeleteURL removes every partition stored before it. Processes sharing one
// backend through Storages of their own do not: the index is read,
// modified and written back with no lock the backend knows of, so a
// partition stored by one process at the moment another stores or
// invalidates the same URL may be left out of the index, and then escapes
// DeleteURL until its entry expires or is overwritten. Such processes
// should not rely on DeleteURL (an invalidation by an unsafe request) for
// responses to requests with credentials; the freshness lifetime bounds
// how long such a response may be served after a change.
package gregjones

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/c650553b/httpcache"
	ghttpcache "github.com/gregjones/httpcache"
)

// keyPrefix marks this cache's values in a backend that may also hold
// gregjones/httpcache's own.
const keyPrefix = "httpcache.v1:"

// indexPrefix marks the URL indexes. It differs from keyPrefix within its
// length ('-' where keyPrefix has ':'), so no entry's backend key is an
// index's, whatever the storage key; and, like keyPrefix, it does not
// start as a URL gregjones/httpcache keys a response by (its scheme is not
// one net/http sends).
const indexPrefix = "httpcache.v1-urlindex:"

// valueMagic starts every value, with a format version; the digest of
// the key the value was written for follows it (keyDigest).
const valueMagic = "HCG2"

// indexMagic starts every index value. Neither magic reads as an HTTP
// response's status line, so gregjones/httpcache reading one would find no
// response.
const indexMagic = "HCGI1"

// maxVariants bounds the variants kept under one key.
const maxVariants = 32

// maxIndexEntries and maxIndexBytes bound the members an index lists
// (partitions of a URL, some 80 bytes each; keys of a tag), so that an
// index stays within a memcache item (1 MB). Variables for the tests.
var (
	maxIndexEntries = 8192
	maxIndexBytes   = 768 << 10
)

// indexCheckInterval is how often a full index may check which of its
// partitions are still stored: a check reads every one. A variable for the
// tests.
var indexCheckInterval = time.Minute

// lockStripes is how many locks serialise writes, by URL.
const lockStripes = 64

// Storage adapts a gregjones/httpcache Cache. It is safe for concurrent use
// if the Cache is. It keeps up to DefaultDecodedBytes of the entries it has
// decoded in memory (httpcache.EntryDecoder; WithDecodedBytes): every Get
// still reads the backend, and a value that is byte for byte one decoded
// before is answered by the entries decoded then, without decoding or
// parsing them again. Its writes to one URL (Set, Delete, DeleteURL) are
// serialised; instances sharing one backend do not serialise with each
// other, so two writing variants of one key at once may lose one (a cache
// may forget), and a partition one stores while another stores or
// invalidates the same URL may escape DeleteURL (see the package doc).
type Storage struct {
	cache   ghttpcache.Cache
	seed    maphash.Seed
	locks   [lockStripes]sync.Mutex
	tags    tagLocks
	keys    *httpcache.Keyring // encrypts values and names; nil in clear
	decoder *httpcache.EntryDecoder
	err     error // from an invalid option: every operation returns it
	// ops bounds the operations running on goroutines of their own,
	// waited for or left by their callers (bounded.go).
	ops operations
}

// DefaultDecodedBytes is how many bytes of decoded entries a Storage keeps
// unless WithDecodedBytes says otherwise.
const DefaultDecodedBytes = 4 << 20

// Option configures a Storage.
type Option func(*Storage)

// WithDecodedBytes sets how many bytes of the entries it has decoded the
// Storage keeps in memory (httpcache.EntryDecoder), so that a hit on a
// value read before decodes and parses nothing: it still reads the value
// from the backend, and the value must be the very bytes the kept entry was
// decoded from. Zero keeps none; a negative n makes every operation fail.
// A Storage WithKeyring keeps decrypted entries, in this process's memory
// only.
func WithDecodedBytes(n int64) Option {
	return func(s *Storage) {
		if n < 0 {
			s.err = fmt.Errorf("gregjones: WithDecodedBytes: %d is negative", n)
			return
		}
		s.decoder = httpcache.NewEntryDecoder(n)
	}
}

// WithKeyring encrypts and authenticates every value the Storage writes
// (entries, and the URL and tag indexes) with keys (httpcache.Keyring:
// AES-256-GCM, an entry bound to its storage key and its partition), and
// names each by a keyed hash under its own prefix, so that the backend
// shows no URL, header, body or tag. Values written in clear, or under
// keys the ring no longer holds, are misses. After a rotation a value of
// a previous key is read, and replaced under the current key when next
// written.
//
// A nil or empty Keyring (what a failed httpcache.NewKeyring returns) makes
// every operation fail, so that nothing is ever written in clear by
// mistake; the Transport then uses the network.
func WithKeyring(keys *httpcache.Keyring) Option {
	return func(s *Storage) {
		if keys == nil || keys.Len() == 0 {
			s.err = errNoKeyring
			return
		}
		s.keys = keys
	}
}

// errNoKeyring is returned by every operation of a Storage given a nil or
// empty Keyring.
var errNoKeyring = errors.New("gregjones: WithKeyring: no Keyring (make one with httpcache.NewKeyring); nothing is stored")

// New returns a Storage on cache.
func New(cache ghttpcache.Cache, opts ...Option) *Storage {
	s := &Storage{cache: cache, seed: maphash.MakeSeed(), ops: newOperations(), tags: tagLocks{seed: maphash.MakeSeed()},
		decoder: httpcache.NewEntryDecoder(DefaultDecodedBytes)}
	for _, opt := range opts {
		if opt != nil {
			opt(s)
		}
	}
	return s
}

// lock locks the writes to url and returns the unlock.
func (s *Storage) lock(url string) func() {
	mu := &s.locks[maphash.String(s.seed, url)%lockStripes]
	mu.Lock()
	return mu.Unlock
}

// record is one variant in a value: its expiry and its encoded entry.
type record struct {
	expiry  int64 // Unix milliseconds; 0 for none
	encoded []byte
	entry   *httpcache.Entry
}

// Get returns the unexpired variants stored under key. A value that does
// not decode is a miss.
func (s *Storage) Get(ctx context.Context, key string) ([]*httpcache.Entry, error) {
	if s.err != nil {
		return nil, s.err
	}
	var records []record
	if err := s.bounded(ctx, func() error { records = s.read(key); return nil }); err != nil {
		return nil, err
	}
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
// and dropping expired ones. A key with a partition is added to its URL's
// index, after the entry is written: an entry never stored is never
// listed, and an entry stored is listed by the time Set returns. A tagged
// entry's key is added to its tags' indexes before (tags.go). When an
// index is full, the entry is not stored.
func (s *Storage) Set(ctx context.Context, key string, entry *httpcache.Entry, ttl time.Duration) error {
	if s.err != nil {
		return s.err
	}
	encoded, err := httpcache.MarshalEntry(entry)
	if err != nil {
		return err
	}
	return s.bounded(ctx, func() error { s.set(key, entry, encoded, ttl); return nil })
}

// set is Set's work on the backend, once the entry is encoded.
func (s *Storage) set(key string, entry *httpcache.Entry, encoded []byte, ttl time.Duration) {
	url, partition := httpcache.KeyURL(key), httpcache.KeyPartition(key)
	defer s.lock(url)()
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
	if !s.indexTags(key, entry.Tags, lastExpiry(kept)) {
		// A tag's index is full: the entry is forgotten, and so is one
		// stored before under the key, which the index may not list.
		s.backendDelete(keyPrefix + key)
		return
	}
	if !strings.Contains(key, "\x00") {
		s.backendSet(keyPrefix+key, encodeValue(key, kept))
		return
	}
	idx, changed, ok := s.indexAdd(indexPrefix+url, partition, lastExpiry(kept), func(p string) string { return url + "\x00" + p })
	if !ok {
		// The index is full: the entry is forgotten, and so is one stored
		// before under the key, which the index does not list.
		s.backendDelete(keyPrefix + key)
		return
	}
	s.backendSet(keyPrefix+key, encodeValue(key, kept))
	if changed {
		s.backendSet(indexPrefix+url, encodeIndex(idx))
	}
}

// Delete removes every variant stored under key. Its URL's index may still
// list it: it drops it once expired.
func (s *Storage) Delete(ctx context.Context, key string) error {
	if s.err != nil {
		return s.err
	}
	return s.bounded(ctx, func() error {
		defer s.lock(httpcache.KeyURL(key))()
		s.backendDelete(keyPrefix + key)
		return nil
	})
}

// DeleteURL removes every variant stored under every key of url: the key
// without a partition and each partition its index lists, then the index.
// A damaged index lists none.
func (s *Storage) DeleteURL(ctx context.Context, url string) error {
	if s.err != nil {
		return s.err
	}
	if strings.Contains(url, "\x00") {
		return nil // no key's URL part has a NUL
	}
	return s.bounded(ctx, func() error {
		defer s.lock(url)()
		idx, _ := s.readIndex(indexPrefix+url, true)
		for _, e := range idx.entries {
			s.backendDelete(keyPrefix + url + "\x00" + e.partition)
		}
		s.backendDelete(keyPrefix + url)
		s.backendDelete(indexPrefix + url)
		return nil
	})
}

// lastExpiry returns when the last of records expires, in Unix
// milliseconds: 0 if one never does.
func lastExpiry(records []record) int64 {
	var last int64
	for _, r := range records {
		if r.expiry == 0 {
			return 0
		}
		last = max(last, r.expiry)
	}
	return last
}

// read returns the records stored under key, or none if the value is
// missing or damaged (a damaged value is deleted).
func (s *Storage) read(key string) []record {
	value, ok := s.backendGet(keyPrefix + key)
	if !ok {
		return nil
	}
	// The entries share the value's memory: a copy of their own, in case
	// the backend reuses its buffer.
	records, err := decodeValue(key, bytes.Clone(value), s.decoder)
	if err != nil {
		s.backendDelete(keyPrefix + key)
		return nil
	}
	return records
}

// index lists the partitions stored for one URL, or the keys stored with
// one tag.
type index struct {
	checked int64 // Unix seconds of the last check of which are stored
	entries []indexEntry
}

// indexEntry is one member of an index (a partition, or a tag's key) and
// when its entry expires.
type indexEntry struct {
	expiry    int64 // Unix seconds, rounded up; 0 for none
	partition string
}

// expired reports whether the partition's entry has expired by nowMilli
// (Unix milliseconds).
func (e indexEntry) expired(nowMilli int64) bool {
	return e.expiry != 0 && e.expiry*1000 < nowMilli
}

// readIndex returns the index stored under the backend key name: empty,
// and not ok, if it is damaged. On a write path (migrate), an index found
// sealed by a previous key of the ring is written again under the current
// one; a read (a purge listing keys) never writes, so that it cannot lose
// a member another process adds meanwhile.
func (s *Storage) readIndex(name string, migrate bool) (idx index, ok bool) {
	value, found, previous := s.backendRead(name)
	if !found {
		return index{}, true
	}
	if previous && migrate {
		// Sealed by a previous key: written again under the current one,
		// so that it is not lost when the previous key is dropped. The
		// caller holds the index's lock.
		s.backendSet(name, value)
	}
	idx, err := decodeIndex(value)
	return idx, err == nil
}

// indexAdd returns the index stored under name (a URL's, or a tag's)
// with member listed until expiry (Unix milliseconds, 0 for none), its
// expired members dropped; whether it differs from the stored one; and,
// not ok, when it is full and member is not in it. keyOf names the
// storage key of a member, to check which are still stored when the
// index is full. The caller holds the index's lock and writes it back.
func (s *Storage) indexAdd(name, member string, expiryMilli int64, keyOf func(member string) string) (idx index, changed, ok bool) {
	expiry := (expiryMilli + 999) / 1000
	nowMilli := time.Now().UnixMilli()
	now := nowMilli / 1000
	idx, intact := s.readIndex(name, true)
	changed = !intact
	live := idx.entries[:0]
	found := false
	for _, e := range idx.entries {
		switch {
		case e.partition == member:
			found = true
			if e.expiry != 0 && (expiry == 0 || e.expiry < expiry) {
				e.expiry = expiry
				changed = true
			}
		case e.expired(nowMilli):
			changed = true
			continue
		}
		live = append(live, e)
	}
	idx.entries = live
	if found {
		return idx, changed, true
	}
	if idx.full(member) && now-idx.checked >= int64(indexCheckInterval/time.Second) {
		// Keep only the members still stored, with their expiry as
		// stored: evicted and deleted ones go.
		idx.checked = now
		stored := idx.entries[:0]
		for _, e := range idx.entries {
			if records := s.read(keyOf(e.partition)); len(records) > 0 {
				if last := lastExpiry(records); last == 0 || last >= nowMilli {
					e.expiry = (last + 999) / 1000
					stored = append(stored, e)
				}
			}
		}
		clear(idx.entries[len(stored):])
		idx.entries = stored
		changed = true
	}
	if idx.full(member) {
		if changed {
			s.backendSet(name, encodeIndex(idx))
		}
		return idx, false, false
	}
	idx.entries = append(idx.entries, indexEntry{expiry: expiry, partition: member})
	return idx, true, true
}

// full reports whether the index has no room for member: it lists
// maxIndexEntries members, or member would take it past maxIndexBytes.
func (idx *index) full(member string) bool {
	if len(idx.entries) >= maxIndexEntries {
		return true
	}
	size := len(member)
	for _, e := range idx.entries {
		size += len(e.partition) + 8
	}
	return size > maxIndexBytes
}

// encodeValue lays out the records of key as: magic, the key's digest,
// then for each its expiry (int64), its length (uint32) and its encoded
// entry.
func encodeValue(key string, records []record) []byte {
	size := len(valueMagic) + keyDigestLen
	for _, r := range records {
		size += 12 + len(r.encoded)
	}
	value := make([]byte, 0, size)
	value = append(value, valueMagic...)
	digest := keyDigest(key)
	value = append(value, digest[:]...)
	for _, r := range records {
		value = binary.BigEndian.AppendUint64(value, uint64(r.expiry))
		value = binary.BigEndian.AppendUint32(value, uint32(len(r.encoded)))
		value = append(value, r.encoded...)
	}
	return value
}

var errDamaged = errors.New("gregjones: damaged value")

// keyDigestLen is the length of a key's digest in a value.
const keyDigestLen = 8

// keyDigest is the digest of a storage key stored in its value: a value
// copied or moved to another key's backend name (a backend's restore or
// migration gone wrong) is damaged there, never served for that key.
func keyDigest(key string) (digest [keyDigestLen]byte) {
	sum := sha256.Sum256([]byte(key))
	copy(digest[:], sum[:])
	return digest
}

// decodeValue reads what encodeValue wrote for key, its entries through
// decoder (which may give entries decoded before from the same bytes, and
// shared: not to be modified); the entries' checksums catch any damage.
func decodeValue(key string, value []byte, decoder *httpcache.EntryDecoder) ([]record, error) {
	prefix := len(valueMagic) + keyDigestLen
	if len(value) < prefix || string(value[:len(valueMagic)]) != valueMagic {
		return nil, errDamaged
	}
	if digest := keyDigest(key); string(value[len(valueMagic):prefix]) != string(digest[:]) {
		return nil, errDamaged
	}
	rest := value[prefix:]
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
		entry, err := decoder.Unmarshal(rest[:n])
		if err != nil {
			return nil, err
		}
		records = append(records, record{expiry: expiry, encoded: rest[:n], entry: entry})
		rest = rest[n:]
	}
	return records, nil
}

// encodeIndex lays out an index as: magic, the time of its last check
// (uint64), then for each partition its expiry and its length (uvarints)
// and the partition; then a CRC-32 (IEEE) of all that.
func encodeIndex(idx index) []byte {
	size := len(indexMagic) + 8 + 4
	for _, e := range idx.entries {
		size += 2*binary.MaxVarintLen64 + len(e.partition)
	}
	value := make([]byte, 0, size)
	value = append(value, indexMagic...)
	value = binary.BigEndian.AppendUint64(value, uint64(idx.checked))
	for _, e := range idx.entries {
		value = binary.AppendUvarint(value, uint64(e.expiry))
		value = binary.AppendUvarint(value, uint64(len(e.partition)))
		value = append(value, e.partition...)
	}
	return binary.BigEndian.AppendUint32(value, crc32.ChecksumIEEE(value))
}

// decodeIndex reads what encodeIndex wrote. The partitions are copies:
// value may be the backend's buffer.
func decodeIndex(value []byte) (index, error) {
	if len(value) < len(indexMagic)+8+4 || string(value[:len(indexMagic)]) != indexMagic {
		return index{}, errDamaged
	}
	body, sum := value[:len(value)-4], binary.BigEndian.Uint32(value[len(value)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return index{}, errDamaged
	}
	idx := index{checked: int64(binary.BigEndian.Uint64(body[len(indexMagic):]))}
	rest := body[len(indexMagic)+8:]
	for len(rest) > 0 {
		expiry, n1 := binary.Uvarint(rest)
		if n1 <= 0 || expiry > 1<<62 {
			return index{}, errDamaged
		}
		length, n2 := binary.Uvarint(rest[n1:])
		if n2 <= 0 || length > uint64(len(rest)-n1-n2) {
			return index{}, errDamaged
		}
		rest = rest[n1+n2:]
		idx.entries = append(idx.entries, indexEntry{expiry: int64(expiry), partition: string(rest[:length])})
		rest = rest[length:]
	}
	return idx, nil
}

var _ httpcache.Storage = (*Storage)(nil)
