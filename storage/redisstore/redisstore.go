// Package redisstore is an httpcache.Storage in Redis, for a fleet of
// service instances that share one cache: what one instance stores, the
// others are served from.
//
//	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
//	cache := httpcache.New(httpcache.WithStorage(redisstore.New(client)))
//
// It works with a standalone server, Sentinel and Cluster (any
// redis.UniversalClient). Each storage key is one Redis hash holding the
// key's variants, so a hit is one round trip (HGETALL) and moves that key's
// bytes only: each partition of a URL (each user's credentials) is a key of
// its own. Entries expire in Redis by themselves, from the TTL hint the
// Transport gives (freshness plus the windows in which a stale entry is
// still useful), so the store never grows without bound.
//
// # Keys
//
// Every Redis key of one URL (the URL part of a storage key,
// httpcache.KeyURL) starts with the prefix and the URL's hash tag: "{",
// the first 16 hexadecimal digits of the SHA-256 of the URL, "}". On
// Redis Cluster a URL's keys are therefore in one slot, and DeleteURL
// removes them in one script. After the tag comes the kind of the key:
//
//	prefix{tag}e:<storage key>  a hash of the key's variants (field: Variant)
//	prefix{tag}u:<URL>          a set of the partitions stored for the URL
//	prefix{hash}t:<cache tag>   a sorted set of the keys tagged so (InvalidateTag)
//
// A storage key is the URL, or the URL, a NUL byte and the partition's
// fingerprint; the set holds the fingerprints (what follows the NUL) of
// the URL's partitioned keys, so that DeleteURL finds every partition
// without a SCAN. Keys (httpcache.KeyLister, for Transport.Entries,
// InvalidatePrefix and Clear) does SCAN, for the entry hashes alone. The set is written with its entry in one script and
// lives at least as long as the URL's longest-lived entry; a Set checks a
// few of its members and drops those whose entry has expired, so it stays
// near the number of live partitions. Needs Redis 4.0 or later (UNLINK).
//
// Responses to requests with credentials are stored under partitions
// fingerprinted with a secret. The store keeps none
// (httpcache.PartitionSecretKeeper): give every Transport that shares the
// store the same httpcache.WithPartitionSecret, or each instance stores
// its own copies of those responses.
//
// Redis trouble never fails a request: every operation has a short timeout,
// and after a failure the store fails fast (without touching the network)
// for a while, then tries again, so that an outage costs each request no
// more than a check of a clock, and the log is not flooded. Caching resumes
// by itself when Redis is back. Create the client with
// ContextTimeoutEnabled: true, so that an operation past its timeout is
// cancelled; otherwise the store stops waiting for it at the timeout, and
// it runs on until the client's own read and write timeouts.
package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/c650553b/httpcache"
	"github.com/redis/go-redis/v9"
)

// Defaults of the options.
const (
	DefaultPrefix    = "httpcache:"
	DefaultTimeout   = 200 * time.Millisecond
	DefaultRetryWait = time.Second
	// DefaultMaxTTL is how long an entry is kept when the Transport gives
	// no TTL hint.
	DefaultMaxTTL = 24 * time.Hour
	// DefaultDecodedBytes is how many bytes of decoded entries a Store
	// keeps (WithDecodedBytes).
	DefaultDecodedBytes = 8 << 20
	// maxVariants bounds the variants kept under one key; past it, the
	// key's other variants are dropped.
	maxVariants = 32
)

// ErrUnavailable is returned, wrapped, while the store waits before trying
// Redis again after a failure.
var ErrUnavailable = errors.New("redisstore: Redis unavailable; retrying later")

// Store is an httpcache.Storage in Redis. It is safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	// contextTimeouts: the client ends an operation at its context's
	// deadline (ContextTimeoutEnabled). Otherwise the store stops waiting
	// at the deadline, and the operation runs on, on its own goroutine,
	// until the client's own socket timeouts end it.
	contextTimeouts bool
	prefix          string
	timeout         time.Duration
	retryWait       time.Duration
	maxTTL          time.Duration
	keys            *httpcache.Keyring // encrypts entries and names; nil in clear
	decodedBytes    int64
	decoder         *httpcache.EntryDecoder
	err             error // from an invalid option: every operation returns it

	mu        sync.Mutex
	downUntil time.Time // zero when Redis is taken to be up
	// timeouts counts operations that timed out since the last that did
	// not: one slow key (a large value, a slow command) among answers is
	// not an outage; timeoutsForOutage in a row are.
	timeouts int
	// probing: a probe runs (probe); probed is when the last ended.
	probing bool
	probed  time.Time
}

// timeoutsForOutage is how many operations in a row must time out before
// the store takes Redis to be down. Any answer in between starts the count
// again, so a slow key never stops the store for the others; a Redis that
// has stopped answering costs at most this many callers the timeout before
// the rest fail fast. A network error that is not a timeout (a connection
// closed or reset) says Redis is down at once. go-redis reports a refused
// connection as a timeout (it dials again until the deadline), so an
// outage that refuses connections costs the first three callers the
// timeout.
const timeoutsForOutage = 3

// Option configures a Store.
type Option func(*Store) error

// WithDecodedBytes sets how many bytes of the entries it has decoded the
// Store keeps in memory (httpcache.EntryDecoder), so that a hit on a value
// read before (every hit on a popular URL) decodes and parses nothing: it
// still reads the value from Redis, and the value must be the very bytes
// the kept entry was decoded from. The default is DefaultDecodedBytes; zero
// keeps none. An encrypted store keeps decrypted entries, in this process's
// memory only.
func WithDecodedBytes(n int64) Option {
	return func(s *Store) error {
		if n < 0 {
			return fmt.Errorf("WithDecodedBytes: %d is negative", n)
		}
		s.decodedBytes = n
		return nil
	}
}

// WithPrefix sets the prefix of the Store's Redis keys, so that caches
// (or other data) can share one Redis. The default is DefaultPrefix. A
// prefix with a Cluster hash tag of its own ("{...}") puts every key of
// the store in that tag's one slot; one with an empty tag ("{}" before any
// other "{") is refused, as it would part a URL's keys across slots.
func WithPrefix(prefix string) Option {
	return func(s *Store) error {
		if i := strings.IndexByte(prefix, '{'); i >= 0 && strings.HasPrefix(prefix[i+1:], "}") {
			return fmt.Errorf("WithPrefix: %q holds an empty hash tag {}, which would part a URL's keys across Redis Cluster slots", prefix)
		}
		s.prefix = prefix
		return nil
	}
}

// WithTimeout bounds each Redis operation, so that a slow or unreachable
// Redis delays a request by at most this much before it goes to the
// network. The default is DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(s *Store) error {
		if d <= 0 {
			return fmt.Errorf("WithTimeout: %v is not a positive duration", d)
		}
		s.timeout = d
		return nil
	}
}

// WithRetryWait sets how long the store fails fast, once it takes Redis to
// be down, before it tries Redis again. Redis is taken to be down when a
// connection to it fails (closed, reset), when it says it cannot serve
// (LOADING, BUSY), or when three operations in a row time out (a refused
// connection among them: go-redis dials again until the deadline; so do
// the reads the store sends with its own timeout when callers' deadlines
// end operations before it): one slow key among answers is not an outage. The default is DefaultRetryWait.
func WithRetryWait(d time.Duration) Option {
	return func(s *Store) error {
		if d <= 0 {
			return fmt.Errorf("WithRetryWait: %v is not a positive duration", d)
		}
		s.retryWait = d
		return nil
	}
}

// WithMaxTTL sets how long an entry is kept when the Transport gives no
// TTL hint. The default is DefaultMaxTTL.
func WithMaxTTL(d time.Duration) Option {
	return func(s *Store) error {
		if d <= 0 {
			return fmt.Errorf("WithMaxTTL: %v is not a positive duration", d)
		}
		s.maxTTL = d
		return nil
	}
}

// WithKeyring encrypts and authenticates every entry the Store writes
// with keys (httpcache.Keyring: AES-256-GCM, a key derived for each
// partition, the entry bound to its storage key), and names every Redis
// key, hash field and set member by keyed hashes, so that Redis shows no
// URL, header, body, Vary value or tag. Give every instance that shares
// the store the same keys. Entries written in clear, or under keys the
// ring no longer holds, are misses and expire by themselves. After a
// rotation (a new current key, the old one as previous), a hit on an
// entry of the old key reads it in the same round trip; a miss costs a
// little more per previous key kept.
func WithKeyring(keys *httpcache.Keyring) Option {
	return func(s *Store) error {
		if keys == nil || keys.Len() == 0 {
			return errors.New("WithKeyring: no Keyring (make one with httpcache.NewKeyring)")
		}
		s.keys = keys
		return nil
	}
}

// New returns a Store on client. An invalid option makes every operation
// fail with an error that names it (the Transport logs it and uses the
// network); use NewStore to check options when the program starts.
func New(client redis.UniversalClient, opts ...Option) *Store {
	s, err := NewStore(client, opts...)
	if err != nil {
		return &Store{err: err}
	}
	return s
}

// NewStore is New that reports an invalid option as an error.
func NewStore(client redis.UniversalClient, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: nil client")
	}
	s := &Store{client: client, contextTimeouts: respectsContextTimeouts(client), prefix: DefaultPrefix,
		timeout: DefaultTimeout, retryWait: DefaultRetryWait, maxTTL: DefaultMaxTTL, decodedBytes: DefaultDecodedBytes}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("redisstore: nil Option")
		}
		if err := opt(s); err != nil {
			return nil, fmt.Errorf("redisstore: %w", err)
		}
	}
	s.decoder = httpcache.NewEntryDecoder(s.decodedBytes)
	return s, nil
}

// setScript stores one variant in a key's hash and makes the key live at
// least ttl milliseconds: HSET, then PEXPIRE unless the key already lives
// longer (PTTL is -1 for a key without expiry). A key at its variant bound
// (ARGV[4]) is emptied first. ARGV[5], when not empty, is the storage key
// sealed for listing (encrypted stores), kept in field "key". With a
// second key, the URL's index of partitions, it adds the key's member
// (ARGV[6]) to the index, makes the index live at least as long as the
// key, and drops from it up to three members, picked at random, whose key
// has expired (ARGV[7] is what a member follows in its key's name).
var setScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then
	redis.call('DEL', KEYS[1])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[5] ~= '' then
	redis.call('HSET', KEYS[1], 'key', ARGV[5])
end
local ttl = tonumber(ARGV[3])
local current = redis.call('PTTL', KEYS[1])
if current < 0 or current < ttl then
	redis.call('PEXPIRE', KEYS[1], ttl)
	current = ttl
end
if KEYS[2] then
	redis.call('SADD', KEYS[2], ARGV[6])
	if redis.call('PTTL', KEYS[2]) < current then
		redis.call('PEXPIRE', KEYS[2], current)
	end
	for _, partition in ipairs(redis.call('SRANDMEMBER', KEYS[2], 3)) do
		if redis.call('EXISTS', ARGV[7] .. partition) == 0 then
			redis.call('SREM', KEYS[2], partition)
		end
	end
end
return 1
`)

// deleteScript removes a partition's key (KEYS[1]) and its partition
// (ARGV[1]) from its URL's index (KEYS[2]).
var deleteScript = redis.NewScript(`
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return 1
`)

// deleteURLScript removes every key of a URL: those of the partitions its
// index (KEYS[1]) names (ARGV[1] is the name of a partition's key without
// the partition), the key without a partition (KEYS[2]) and the index. It
// runs as one, so a partition stored at the same time is either deleted
// or still indexed. The keys go in batches, within Lua's bound on unpack.
var deleteURLScript = redis.NewScript(`
local partitions = redis.call('SMEMBERS', KEYS[1])
local deleted = 0
for i = 1, #partitions, 500 do
	local batch = {}
	for j = i, math.min(i + 499, #partitions) do
		batch[#batch + 1] = ARGV[1] .. partitions[j]
	end
	deleted = deleted + redis.call('UNLINK', unpack(batch))
end
redis.call('UNLINK', KEYS[1])
return deleted + redis.call('UNLINK', KEYS[2])
`)

// The scripts touch partitions' keys they build from the index, not only
// those they declare; every one shares the declared keys' hash tag, so on
// Redis Cluster it is in their slot, on their node, as the scripts need.

// Kinds of Redis keys, after a URL's hash tag (see the package doc).
const (
	kindEntry = "e:"
	kindIndex = "u:"
)

// tagLen is the length of a URL's hash tag: braces and 16 hex digits.
const tagLen = 18

// redisKey returns the name of a Redis key of url's: the prefix, url's
// hash tag, kind, then name (a storage key of url's, or url) and suffix.
func (s *Store) redisKey(url, kind, name, suffix string) string {
	// Sum256 neither keeps nor modifies its input: hash url's bytes in
	// place rather than copy a long URL to the heap on every hit.
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(url), len(url)))
	var tag [tagLen]byte
	tag[0] = '{'
	hex.Encode(tag[1:tagLen-1], sum[:(tagLen-2)/2])
	tag[tagLen-1] = '}'
	var b strings.Builder
	b.Grow(len(s.prefix) + tagLen + len(kind) + len(name) + len(suffix))
	b.WriteString(s.prefix)
	b.Write(tag[:])
	b.WriteString(kind)
	b.WriteString(name)
	b.WriteString(suffix)
	return b.String()
}

// entryKey returns the name of the hash that holds key's variants.
func (s *Store) entryKey(key string) string {
	return s.redisKey(httpcache.KeyURL(key), kindEntry, key, "")
}

// indexKey returns the name of the set of url's partitions.
func (s *Store) indexKey(url string) string { return s.redisKey(url, kindIndex, url, "") }

// partitionBase returns what the name of each of url's partitioned keys
// starts with: its entry key's name, then the partition.
func (s *Store) partitionBase(url string) string { return s.redisKey(url, kindEntry, url, "\x00") }

// isPartitioned reports whether key names a partition of its URL.
func isPartitioned(key string) bool { return strings.IndexByte(key, 0) >= 0 }

// Get returns the unexpired variants stored under key, in one round trip.
// A variant that does not decode (or, encrypted, does not open) is
// skipped. An encrypted store with previous keys reads the key's hash
// under each of them in the same round trip, and uses the current key's
// when it has one.
func (s *Store) Get(ctx context.Context, key string) ([]*httpcache.Entry, error) {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	oneName := s.keys == nil || s.keys.Len() == 1
	if oneName && s.contextTimeouts {
		// The common case, without the closure and slice run needs.
		fields, err := s.client.HGetAll(ctx, s.entryName(key)).Result()
		if err = s.end(ctx, err); err != nil {
			return nil, fmt.Errorf("redisstore: get: %w", err)
		}
		return s.decode(key, fields), nil
	}
	var hashes []map[string]string
	err = s.run(ctx, func(ctx context.Context) error {
		if oneName {
			fields, err := s.client.HGetAll(ctx, s.entryName(key)).Result()
			hashes = []map[string]string{fields}
			return err
		}
		names := s.namesOf(key)
		pipe := s.client.Pipeline()
		cmds := make([]*redis.MapStringStringCmd, len(names))
		for i, n := range names {
			cmds[i] = pipe.HGetAll(ctx, n.entry)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
		for _, cmd := range cmds {
			hashes = append(hashes, cmd.Val())
		}
		return nil
	})
	if err = s.end(ctx, err); err != nil {
		return nil, fmt.Errorf("redisstore: get: %w", err)
	}
	for _, fields := range hashes {
		if entries := s.decode(key, fields); len(entries) > 0 {
			return entries, nil
		}
	}
	return nil, nil
}

// A stored value is the variant's expiry (Unix milliseconds, 8 bytes, big
// endian), the digest of the key it was written for, then the encoded
// (or, with a Keyring, sealed) entry. The digest makes a value copied or
// moved to another key's hash (COPY, RENAME, a restore gone wrong) a miss
// there, as a sealed entry is: no stored byte answers another key.
const (
	keyDigestLen   = 8
	valuePrefixLen = 8 + keyDigestLen
)

// keyDigest is the digest of a storage key stored in its values.
func keyDigest(key string) (digest [keyDigestLen]byte) {
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(key), len(key)))
	copy(digest[:], sum[:])
	return digest
}

// decode returns the unexpired variants of a key's hash that were written
// for key.
func (s *Store) decode(key string, fields map[string]string) []*httpcache.Entry {
	now := time.Now().UnixMilli()
	digest := keyDigest(key)
	var entries []*httpcache.Entry
	for field, value := range fields {
		if s.keys != nil && field == listingField {
			continue
		}
		if len(value) < valuePrefixLen || int64(binary.BigEndian.Uint64([]byte(value[:8]))) < now {
			continue
		}
		if value[8:valuePrefixLen] != string(digest[:]) {
			continue // written for another key, and copied or moved here
		}
		// The entry shares the reply's bytes, which nothing modifies.
		encoded := unsafe.Slice(unsafe.StringData(value[valuePrefixLen:]), len(value)-valuePrefixLen)
		if s.keys != nil {
			var err error
			if encoded, err = s.keys.Open(key, encoded); err != nil {
				continue
			}
		}
		if len(fields) == 1 {
			// The common case: a key with one variant, which a kept
			// entry answers with no allocation at all.
			alone, err := s.decoder.UnmarshalAlone(encoded)
			if err != nil {
				return nil
			}
			return alone
		}
		entry, err := s.decoder.Unmarshal(encoded)
		if err != nil {
			continue
		}
		entries = append(entries, entry)
	}
	return entries
}

// Set stores entry under key, replacing the variant with the same
// Variant. The key expires ttl from now, or later if another variant
// lives longer; with no ttl, after the store's maximum TTL. A partitioned
// key is added to its URL's index in the same script; a tagged entry's key
// is added to its tags' sets before (see tags.go). An encrypted store
// seals the entry for key, and removes the key's hashes under previous
// keys of the ring, which the new one supersedes: after a rotation, the
// first write of a key keeps only its new variant, and the others are
// fetched again (copying them over could not be made atomic with a
// concurrent delete on another instance, nor keep their tags).
func (s *Store) Set(ctx context.Context, key string, entry *httpcache.Entry, ttl time.Duration) error {
	if ttl <= 0 || ttl > s.maxTTL {
		ttl = s.maxTTL
	}
	encoded, err := httpcache.MarshalEntry(entry)
	if err != nil {
		return err
	}
	listing, variants := "", maxVariants
	if s.keys != nil {
		if encoded, err = s.keys.Seal(key, encoded); err != nil {
			return err
		}
		listing, variants = string(s.keys.SealListing(key)), maxVariants+1 // the listing field
	}
	value := make([]byte, 8, valuePrefixLen+len(encoded))
	binary.BigEndian.PutUint64(value, uint64(time.Now().Add(ttl).UnixMilli()))
	digest := keyDigest(key)
	value = append(value, digest[:]...)
	value = append(value, encoded...)
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	names := s.namesOf(key)
	current := names[0]
	keys := []string{current.entry}
	args := []any{s.field(key, entry.Variant), value, ttl.Milliseconds(), variants, listing}
	if isPartitioned(key) {
		keys = append(keys, current.index)
		args = append(args, current.member, current.base)
	}
	err = s.run(ctx, func(ctx context.Context) error {
		if err := s.indexTags(ctx, key, current, entry.Tags, ttl); err != nil {
			return err
		}
		if err := setScript.Run(ctx, s.client, keys, args...).Err(); err != nil {
			return err
		}
		return s.deletePrevious(ctx, key, names[1:])
	})
	if err = s.end(ctx, err); err != nil {
		return fmt.Errorf("redisstore: set: %w", err)
	}
	return nil
}

// Delete removes every variant stored under key, and a partitioned key
// from its URL's index; an encrypted store, under every key of the ring.
func (s *Store) Delete(ctx context.Context, key string) error {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	err = s.run(ctx, func(ctx context.Context) error {
		return s.deletePrevious(ctx, key, s.namesOf(key))
	})
	if err := s.end(ctx, err); err != nil {
		return fmt.Errorf("redisstore: delete: %w", err)
	}
	return nil
}

// DeleteVariant removes the entry of one variant of key and leaves the
// key's others, so that a response for one variant (a no-store answer, a
// refused 304) does not remove every variant's (httpcache.VariantDeleter).
func (s *Store) DeleteVariant(ctx context.Context, key, variant string) error {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	names := s.namesOf(key)
	err = s.run(ctx, func(ctx context.Context) error {
		if err := s.client.HDel(ctx, names[0].entry, s.field(key, variant)).Err(); err != nil {
			return err
		}
		return s.deletePrevious(ctx, key, names[1:])
	})
	if err := s.end(ctx, err); err != nil {
		return fmt.Errorf("redisstore: delete variant: %w", err)
	}
	return nil
}

// deletePrevious removes key's hashes named by names, and their members
// of the URL's index, in one round trip.
func (s *Store) deletePrevious(ctx context.Context, key string, names []keyNames) error {
	if len(names) == 0 {
		return nil
	}
	pipe := s.client.Pipeline()
	for _, n := range names {
		if !isPartitioned(key) {
			pipe.Del(ctx, n.entry)
			continue
		}
		// Eval, not EvalSha: a pipeline cannot load a script Redis lacks.
		deleteScript.Eval(ctx, pipe, []string{n.entry, n.index}, n.member)
	}
	_, err := pipe.Exec(ctx)
	return err
}

// DeleteURL removes every variant stored under every key of url, in every
// partition, in one script per key of the ring: the partitions its index
// names and the key without a partition.
func (s *Store) DeleteURL(ctx context.Context, url string) error {
	if isPartitioned(url) {
		return nil // no key's URL part holds a NUL
	}
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	err = s.run(ctx, func(ctx context.Context) error {
		for _, n := range s.namesOf(url) {
			if err := deleteURLScript.Run(ctx, s.client, []string{n.index, n.entry}, n.base).Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err := s.end(ctx, err); err != nil {
		return fmt.Errorf("redisstore: delete URL: %w", err)
	}
	return nil
}

// begin starts an operation: its context with the store's timeout, or an
// error while the store waits to try Redis again.
func (s *Store) begin(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if s.err != nil {
		return nil, nil, s.err
	}
	if s.down() {
		return nil, nil, ErrUnavailable
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err // the caller has given up: Redis is not asked
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= s.timeout {
		// Bounded already, as by the Transport's share of its caller's
		// deadline: marked, so that end tells its timeouts from Redis's.
		return context.WithValue(ctx, boundByCaller{}, true), func() {}, nil
	}
	ctx, cancel := context.WithTimeoutCause(ctx, s.timeout, errStoreTimeout)
	return ctx, cancel, nil
}

// boundByCaller is the context key that marks an operation bounded by its
// caller's deadline, not the store's timeout: a timeout then is the
// caller's. go-redis may report it as its own i/o timeout, the socket's
// deadline being the context's, before the context itself has ended.
type boundByCaller struct{}

// errStoreTimeout is the cause of the end of an operation's context at
// the store's own timeout (WithTimeout), which end tells from the end of
// the caller's context: only the store's timeout says Redis did not
// answer in time.
var errStoreTimeout = fmt.Errorf("redisstore: no answer within the store's timeout: %w", context.DeadlineExceeded)

// run runs a Redis operation and returns by ctx's deadline (see
// Store.contextTimeouts).
func (s *Store) run(ctx context.Context, op func(context.Context) error) error {
	if s.contextTimeouts {
		return op(ctx)
	}
	done := make(chan error, 1)
	go func() { done <- op(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// respectsContextTimeouts reports whether a client ends operations at their
// context's deadline.
func respectsContextTimeouts(client redis.UniversalClient) bool {
	switch c := client.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// end records the outcome of an operation on ctx: a failure to reach Redis
// makes the store wait before it tries again; a success ends the wait. The
// end of the caller's own context, cancelled or past a deadline shorter
// than the store's timeout, says nothing about Redis: one caller's short
// deadline must not stop the store for every other caller. A deadline's
// end starts a probe instead, which asks Redis with the store's own
// timeout.
func (s *Store) end(ctx context.Context, err error) error {
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	if err != nil && callersEnd(ctx, err) {
		if !errors.Is(ctx.Err(), context.Canceled) {
			s.probe() // the caller's deadline: Redis may or may not answer in time
		}
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err == nil:
		s.downUntil, s.timeouts = time.Time{}, 0
	case !isUnavailable(err):
		s.timeouts = 0 // Redis answered
	case isTimeout(err):
		if s.timeouts++; s.timeouts >= timeoutsForOutage {
			s.downUntil = time.Now().Add(s.retryWait)
		}
	default:
		s.downUntil = time.Now().Add(s.retryWait)
	}
	return err
}

// callersEnd reports whether an operation on ctx that failed with err was
// ended by its caller: cancelled, or timed out under its caller's deadline
// (boundByCaller), as opposed to the store's timeout or a failure of
// Redis's. A connection closed or reset is Redis's failure, whoever's
// deadline bounded the operation.
func callersEnd(ctx context.Context, err error) bool {
	if ctx.Err() != nil && !errors.Is(context.Cause(ctx), errStoreTimeout) {
		return true
	}
	return isTimeout(err) && ctx.Value(boundByCaller{}) != nil
}

// probe asks Redis whether it answers, with a read bounded by the
// store's timeout, as no caller whose deadline ended an operation could:
// a read that times out counts as an operation that did (end), and the
// probe asks again until Redis answers, fails otherwise, or is taken to
// be down. The read is a GET of a key of the store's (probeKey), not a
// PING, which a proxy in front of Redis (Envoy, twemproxy) answers itself
// while the Redis behind it is silent. Without it, callers whose deadlines are all shorter than the
// store's timeout would never let the store find a silent Redis down, and
// every request would wait out its share of its deadline on it; counting
// their ends as timeouts instead would let callers in a hurry stop the
// store for everyone while a slow Redis still answers within the timeout.
//
// One probe runs at a time, and one starts at most once a store timeout,
// so that many callers in a hurry cost Redis a few reads a second. A
// probe ends within timeoutsForOutage store timeouts, or when the client
// is closed.
func (s *Store) probe() {
	s.mu.Lock()
	if s.probing || time.Since(s.probed) < s.timeout {
		s.mu.Unlock()
		return
	}
	s.probing = true
	s.mu.Unlock()
	go func() {
		defer func() {
			s.mu.Lock()
			s.probing, s.probed = false, time.Now()
			s.mu.Unlock()
		}()
		for range timeoutsForOutage {
			ctx, cancel := context.WithTimeoutCause(context.Background(), s.timeout, errStoreTimeout)
			err := s.end(ctx, s.run(ctx, func(ctx context.Context) error { return s.client.Get(ctx, s.probeKey()).Err() }))
			cancel()
			if !isTimeout(err) || s.down() {
				return
			}
		}
	}()
}

// probeKey is the key probe reads: one of the store's names, in its
// prefix's hash slot when the prefix has a hash tag; never written.
func (s *Store) probeKey() string { return s.prefix + "probe" }

// down reports whether the store takes Redis to be down.
func (s *Store) down() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.downUntil.IsZero() && time.Now().Before(s.downUntil)
}

// isTimeout reports an operation that ran out of time, which one slow
// key can cause (and a refused connection, which go-redis dials again
// until the deadline), as opposed to a connection closed or reset.
func isTimeout(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout()
}

// isUnavailable reports errors that say Redis cannot be reached or did not
// answer in time, as opposed to an error in a command.
func isUnavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var redisErr redis.Error
	if errors.As(err, &redisErr) {
		// A reply from Redis: it is up. LOADING, BUSY and the like say it
		// cannot serve for now.
		msg := redisErr.Error()
		return strings.HasPrefix(msg, "LOADING") || strings.HasPrefix(msg, "BUSY") ||
			strings.HasPrefix(msg, "MASTERDOWN") || strings.HasPrefix(msg, "CLUSTERDOWN")
	}
	return true // a network error
}

// TimeBounded reports true: every call ends within the store's timeout
// (WithTimeout), so the Transport adds none of its own
// (httpcache.TimeBoundedStorage).
func (s *Store) TimeBounded() bool { return true }

var (
	_ httpcache.Storage            = (*Store)(nil)
	_ httpcache.TimeBoundedStorage = (*Store)(nil)
)
