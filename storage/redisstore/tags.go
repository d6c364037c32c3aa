package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/redis/go-redis/v9"
)

// The tag index: for each tag of a stored entry (httpcache.Entry.Tags), a
// sorted set of the storage keys tagged with it, each scored by when its
// entry expires (Unix milliseconds, by Redis's clock):
//
//	prefix{tag hash}t:<tag>
//
// Set writes a key into its tags' sets before it writes the entry, so
// that an entry in Redis is always in the index of each of its tags, and
// one call to httpcache.Transport.InvalidateTag purges what every
// instance sharing the store has stored. A set drops its expired members
// whenever it is written, and expires after its longest-lived member, so
// it stays near the number of live entries with its tag. A key removed
// by a delete stays in the sets until it expires: a later purge of the
// tag deletes it again, which costs nothing.

// kindTag is the kind of a tag's set, after its hash tag.
const kindTag = "t:"

// tagScanCount is the COUNT hint of each ZSCAN of a tag's set.
const tagScanCount = 500

// tagScript adds a key (ARGV[1]) to a tag's set (KEYS[1]), scored by when
// its entry expires, ARGV[2] milliseconds from now by Redis's clock (so
// that instances whose clocks differ agree), unless it is there with a
// later expiry; drops the members already expired; and makes the set live
// at least as long as the entry.
var tagScript = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[2])
local expiry = now + ttl
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) < expiry then
	redis.call('ZADD', KEYS[1], expiry, ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
if redis.call('PTTL', KEYS[1]) < ttl then
	redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
`)

// tagKey returns the name of tag's set. Tags are hashed into the hash tag
// apart from URLs: no URL holds a NUL byte.
func (s *Store) tagKey(tag string) string {
	return s.redisKey("\x00tag\x00"+tag, kindTag, tag, "")
}

// indexTags adds key to the sets of its entry's tags, the entry living
// ttl from now, in one pipelined round trip. Each set is a key of its own
// (on Redis Cluster, in a slot of its own), so the writes are not one
// script with the entry's; they come first.
func (s *Store) indexTags(ctx context.Context, key string, names keyNames, tags []string, ttl time.Duration) error {
	if len(tags) == 0 {
		return nil
	}
	member := s.tagMember(key, names)
	pipe := s.client.Pipeline()
	for _, tag := range tags {
		// Eval, not EvalSha: a pipeline cannot load a script Redis lacks.
		tagScript.Eval(ctx, pipe, []string{s.tagNames(tag)[0]}, member, ttl.Milliseconds())
	}
	_, err := pipe.Exec(ctx)
	return err
}

// KeysTagged calls fn with each storage key whose entry was stored tagged
// tag and is still in Redis, until fn returns false (httpcache.TagIndexer).
// It walks the tag's set with ZSCAN, each call under the store's timeout,
// and fn runs between calls.
func (s *Store) KeysTagged(ctx context.Context, tag string, fn func(key string) bool) error {
	for _, name := range s.tagNames(tag) {
		if more, err := s.keysTaggedIn(ctx, name, fn); err != nil || !more {
			return err
		}
	}
	return nil
}

// keysTaggedIn is KeysTagged for one of the tag's sets (one per key of an
// encrypted store's ring). It reports false when fn did.
func (s *Store) keysTaggedIn(ctx context.Context, name string, fn func(key string) bool) (bool, error) {
	var cursor uint64
	for {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		opCtx, cancel, err := s.begin(ctx)
		if err != nil {
			return false, fmt.Errorf("redisstore: keys tagged: %w", err)
		}
		var pairs []string
		err = s.run(opCtx, func(opCtx context.Context) (err error) {
			pairs, cursor, err = s.client.ZScan(opCtx, name, cursor, "", tagScanCount).Result()
			return err
		})
		err = s.end(opCtx, err)
		cancel()
		if err != nil {
			return false, fmt.Errorf("redisstore: keys tagged: %w", err)
		}
		keys, err := s.existing(ctx, members(pairs))
		if err != nil {
			return false, fmt.Errorf("redisstore: keys tagged: %w", err)
		}
		for _, key := range keys {
			if !fn(key) {
				return false, nil
			}
		}
		if cursor == 0 {
			return true, nil
		}
	}
}

// members returns the members of ZSCAN's member, score pairs. Whether
// each is live is asked of Redis (existing), not of this host's clock.
func members(pairs []string) []string {
	out := make([]string, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, pairs[i])
	}
	return out
}

// existing returns the storage keys of a tag set's members that still
// have an entry hash (encrypted: whose hash holds their sealed key), in
// one pipelined round trip: a key deleted since it was tagged (by a purge, an
// invalidation) stays in the sets until it expires, and is not named
// again. It is not removed from them here: it may be a key being stored
// anew, whose entry is written after its index.
func (s *Store) existing(ctx context.Context, members []string) ([]string, error) {
	if len(members) == 0 {
		return nil, nil
	}
	opCtx, cancel, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	exists := make([]*redis.IntCmd, len(members))
	listings := make([]*redis.StringCmd, len(members))
	err = s.run(opCtx, func(opCtx context.Context) error {
		pipe := s.client.Pipeline()
		for i, member := range members {
			if s.keys == nil {
				exists[i] = pipe.Exists(opCtx, s.entryKey(member))
			} else {
				listings[i] = pipe.HGet(opCtx, s.prefix+member, listingField)
			}
		}
		_, err := pipe.Exec(opCtx)
		if errors.Is(err, redis.Nil) {
			err = nil // a key gone: no listing field
		}
		return err
	})
	if err = s.end(opCtx, err); err != nil {
		return nil, err
	}
	var found []string
	for i, member := range members {
		if s.keys == nil {
			if exists[i].Val() > 0 {
				found = append(found, member)
			}
			continue
		}
		if key, err := s.keys.OpenListing([]byte(listings[i].Val())); err == nil && s.isEntryOf(key, s.prefix+member) {
			found = append(found, key)
		}
	}
	return found, nil
}

// isEntryOf reports whether name is the entry hash of key under a key of
// the ring: a sealed key found in a hash it does not name is not listed.
func (s *Store) isEntryOf(key, name string) bool {
	for _, n := range s.namesOf(key) {
		if n.entry == name {
			return true
		}
	}
	return false
}

var _ httpcache.TagIndexer = (*Store)(nil)
