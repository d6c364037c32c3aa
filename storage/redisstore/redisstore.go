// Package redisstore is an httpcache.Storage in Redis, for a fleet of
// service instances that share one cache: what one instance stores, the
// others are served from.
//
//	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	cache := httpcache.New(httpcache.WithStorage(redisstore.New(client)))
//
// It works with a standalone server, Sentinel and Cluster (any
// redis.UniversalClient). Each key is one Redis hash holding the key's
// variants, so a hit is one round trip (HGETALL). Entries expire in Redis
// by themselves, from the TTL hint the Transport gives (freshness plus the
// windows in which a stale entry is still useful), so the store never grows
// without bound.
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
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

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
	err             error // from an invalid option: every operation returns it

	mu        sync.Mutex
	downUntil time.Time // zero when Redis is taken to be up
}

// Option configures a Store.
type Option func(*Store) error

// WithPrefix sets the prefix of the Store's Redis keys, so that caches
// (or other data) can share one Redis. The default is DefaultPrefix.
func WithPrefix(prefix string) Option {
	return func(s *Store) error {
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

// WithRetryWait sets how long the store fails fast after a Redis failure
// before it tries Redis again. The default is DefaultRetryWait.
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
		timeout: DefaultTimeout, retryWait: DefaultRetryWait, maxTTL: DefaultMaxTTL}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("redisstore: nil Option")
		}
		if err := opt(s); err != nil {
			return nil, fmt.Errorf("redisstore: %w", err)
		}
	}
	return s, nil
}

// setScript stores one variant in a key's hash and makes the key live at
// least ttl milliseconds: HSET, then PEXPIRE unless the key already lives
// longer (PTTL is -1 for a key without expiry). A key at its variant bound
// is emptied first.
var setScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then
	redis.call('DEL', KEYS[1])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local ttl = tonumber(ARGV[3])
local current = redis.call('PTTL', KEYS[1])
if current < 0 or current < ttl then
	redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
`)

// Get returns the unexpired variants stored under key, in one round trip.
// A variant that does not decode is skipped.
func (s *Store) Get(ctx context.Context, key string) ([]*httpcache.Entry, error) {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	var fields map[string]string
	err = s.run(ctx, func(ctx context.Context) (err error) {
		fields, err = s.client.HGetAll(ctx, s.prefix+key).Result()
		return err
	})
	if err = s.end(ctx, err); err != nil {
		return nil, fmt.Errorf("redisstore: get: %w", err)
	}
	now := time.Now().UnixMilli()
	var entries []*httpcache.Entry
	for _, value := range fields {
		if len(value) < 8 || int64(binary.BigEndian.Uint64([]byte(value[:8]))) < now {
			continue
		}
		entry, err := httpcache.UnmarshalEntry([]byte(value[8:]))
		if err != nil {
			continue
		}
		entries = append(entries, entry)
	}
	return entries, nil
}

// Set stores entry under key, replacing the variant with the same
// Variant. The key expires ttl from now, or later if another variant
// lives longer; with no ttl, after the store's maximum TTL.
func (s *Store) Set(ctx context.Context, key string, entry *httpcache.Entry, ttl time.Duration) error {
	if ttl <= 0 || ttl > s.maxTTL {
		ttl = s.maxTTL
	}
	encoded, err := httpcache.MarshalEntry(entry)
	if err != nil {
		return err
	}
	value := make([]byte, 8, 8+len(encoded))
	binary.BigEndian.PutUint64(value, uint64(time.Now().Add(ttl).UnixMilli()))
	value = append(value, encoded...)
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	err = s.run(ctx, func(ctx context.Context) error {
		return setScript.Run(ctx, s.client, []string{s.prefix + key}, entry.Variant, value, ttl.Milliseconds(), maxVariants).Err()
	})
	if err = s.end(ctx, err); err != nil {
		return fmt.Errorf("redisstore: set: %w", err)
	}
	return nil
}

// Delete removes every variant stored under key.
func (s *Store) Delete(ctx context.Context, key string) error {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	err = s.run(ctx, func(ctx context.Context) error { return s.client.Del(ctx, s.prefix+key).Err() })
	if err := s.end(ctx, err); err != nil {
		return fmt.Errorf("redisstore: delete: %w", err)
	}
	return nil
}

// begin starts an operation: its context with the store's timeout, or an
// error while the store waits to try Redis again.
func (s *Store) begin(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if s.err != nil {
		return nil, nil, s.err
	}
	s.mu.Lock()
	downUntil := s.downUntil
	s.mu.Unlock()
	if !downUntil.IsZero() && time.Now().Before(downUntil) {
		return nil, nil, ErrUnavailable
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	return ctx, cancel, nil
}

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
// caller's own cancellation says nothing about Redis.
func (s *Store) end(ctx context.Context, err error) error {
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	if err != nil && errors.Is(context.Cause(ctx), context.Canceled) {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil && isUnavailable(err) {
		s.downUntil = time.Now().Add(s.retryWait)
	} else if err == nil {
		s.downUntil = time.Time{}
	}
	return err
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

var _ httpcache.Storage = (*Store)(nil)
