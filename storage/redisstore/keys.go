package redisstore

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/c650553b/httpcache"
	"github.com/redis/go-redis/v9"
)

// scanCount is the COUNT hint of each SCAN: how many keys Redis looks at
// per call, each call bounded by the store's timeout.
const scanCount = 500

// Keys calls fn with each storage key whose URL part starts with prefix,
// until fn returns false (httpcache.KeyLister). It walks the store's entry
// hashes with SCAN, on every master of a Redis Cluster (or every shard of
// a Ring) in turn, never with KEYS; the URLs' indexes of partitions are
// not keys of their own and are skipped. Each key is given once, though
// SCAN may return it twice. Each SCAN call has the store's timeout, and fn
// runs between calls, with no lock held.
func (s *Store) Keys(ctx context.Context, prefix string, fn func(key string) bool) error {
	if s.err != nil {
		return s.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	nodes, err := s.nodes(ctx)
	if err != nil {
		return fmt.Errorf("redisstore: keys: %w", err)
	}
	// Entry hashes: prefix{tag}e:<storage key>, whose storage key starts
	// with the URL prefix.
	match := globEscape(s.prefix) + "{????????????????}" + kindEntry + globEscape(prefix) + "*"
	if s.keys != nil {
		// Names are hashes: every entry hash is read for its sealed key.
		match = globEscape(s.prefix) + "{????????????????}" + kindEntry + "*"
	}
	seen := make(map[string]bool)
	for _, node := range nodes {
		var cursor uint64
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			var names []string
			opCtx, cancel, err := s.begin(ctx)
			if err != nil {
				return fmt.Errorf("redisstore: keys: %w", err)
			}
			err = s.run(opCtx, func(opCtx context.Context) (err error) {
				names, cursor, err = node.Scan(opCtx, cursor, match, scanCount).Result()
				return err
			})
			err = s.end(opCtx, err)
			cancel()
			if err != nil {
				return fmt.Errorf("redisstore: keys: %w", err)
			}
			keys, err := s.keysNamed(ctx, names)
			if err != nil {
				return fmt.Errorf("redisstore: keys: %w", err)
			}
			for _, key := range keys {
				if seen[key] || !strings.HasPrefix(httpcache.KeyURL(key), prefix) {
					continue
				}
				seen[key] = true
				if !fn(key) {
					return nil
				}
			}
			if cursor == 0 {
				break
			}
		}
	}
	return nil
}

// keysNamed returns the storage keys of entry hashes' names: read from
// the names in clear; from the hashes' sealed keys (one pipelined round
// trip) when encrypted.
func (s *Store) keysNamed(ctx context.Context, names []string) ([]string, error) {
	if s.keys != nil {
		members := make([]string, 0, len(names))
		for _, name := range names {
			if rest, ok := strings.CutPrefix(name, s.prefix); ok {
				members = append(members, rest)
			}
		}
		return s.existing(ctx, members)
	}
	var keys []string
	for _, name := range names {
		if key, ok := s.storageKey(name); ok {
			keys = append(keys, key)
		}
	}
	return keys, nil
}

// scanner is a client that SCAN walks: a server, or a node of a cluster.
type scanner interface {
	Scan(ctx context.Context, cursor uint64, match string, count int64) *redis.ScanCmd
}

// nodes returns what holds the store's keys: every master of a Redis
// Cluster, every shard of a Ring, or the one client.
func (s *Store) nodes(ctx context.Context) ([]scanner, error) {
	var mu sync.Mutex
	var nodes []scanner
	collect := func(_ context.Context, node *redis.Client) error {
		mu.Lock()
		nodes = append(nodes, node)
		mu.Unlock()
		return nil
	}
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, collect)
	case *redis.Ring:
		err = c.ForEachShard(ctx, collect)
	default:
		return []scanner{s.client}, nil
	}
	return nodes, s.end(ctx, err)
}

// storageKey returns the storage key of an entry hash's name, and false
// for a name that is not one of the store's entry hashes.
func (s *Store) storageKey(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, s.prefix)
	if !ok || len(rest) < tagLen+len(kindEntry) || rest[0] != '{' || rest[tagLen-1] != '}' {
		return "", false
	}
	key, ok := strings.CutPrefix(rest[tagLen:], kindEntry)
	// The tag must be the hash of the key's URL: a name that only looks
	// like an entry's is not one.
	if !ok || s.entryKey(key) != name {
		return "", false
	}
	return key, true
}

// globEscape escapes the characters special in a SCAN MATCH pattern.
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

var _ httpcache.KeyLister = (*Store)(nil)

// Peek returns the variants stored under key (httpcache.KeyLister). A
// Redis read has no side effects, so it is Get.
func (s *Store) Peek(ctx context.Context, key string) ([]*httpcache.Entry, error) {
	return s.Get(ctx, key)
}
