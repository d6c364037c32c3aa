package redisstore

import (
	"context"
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
func (s *Store) indexTags(ctx context.Context, key string, tags []string, ttl time.Duration) error {
	if len(tags) == 0 {
		return nil
	}
	pipe := s.client.Pipeline()
	for _, tag := range tags {
		// Eval, not EvalSha: a pipeline cannot load a script Redis lacks.
		tagScript.Eval(ctx, pipe, []string{s.tagKey(tag)}, key, ttl.Milliseconds())
	}
	_, err := pipe.Exec(ctx)
	return err
}

// KeysTagged calls fn with each storage key whose entry was stored tagged
// tag and is still in Redis, until fn returns false (httpcache.TagIndexer).
// It walks the tag's set with ZSCAN, each call under the store's timeout,
// and fn runs between calls.
func (s *Store) KeysTagged(ctx context.Context, tag string, fn func(key string) bool) error {
	name := s.tagKey(tag)
	var cursor uint64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		opCtx, cancel, err := s.begin(ctx)
		if err != nil {
			return fmt.Errorf("redisstore: keys tagged: %w", err)
		}
		var pairs []string
		err = s.run(opCtx, func(opCtx context.Context) (err error) {
			pairs, cursor, err = s.client.ZScan(opCtx, name, cursor, "", tagScanCount).Result()
			return err
		})
		err = s.end(opCtx, err)
		cancel()
		if err != nil {
			return fmt.Errorf("redisstore: keys tagged: %w", err)
		}
		keys, err := s.existing(ctx, members(pairs))
		if err != nil {
			return fmt.Errorf("redisstore: keys tagged: %w", err)
		}
		for _, key := range keys {
			if !fn(key) {
				return nil
			}
		}
		if cursor == 0 {
			return nil
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

// existing returns the keys that have an entry hash, in one pipelined
// round trip: a key deleted since it was tagged (by a purge, an
// invalidation) stays in the sets until it expires, and is not named
// again. It is not removed from them here: it may be a key being stored
// anew, whose entry is written after its index.
func (s *Store) existing(ctx context.Context, keys []string) ([]string, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	opCtx, cancel, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	cmds := make([]*redis.IntCmd, len(keys))
	err = s.run(opCtx, func(opCtx context.Context) error {
		pipe := s.client.Pipeline()
		for i, key := range keys {
			cmds[i] = pipe.Exists(opCtx, s.entryKey(key))
		}
		_, err := pipe.Exec(opCtx)
		return err
	})
	if err = s.end(opCtx, err); err != nil {
		return nil, err
	}
	var found []string
	for i, key := range keys {
		if cmds[i].Val() > 0 {
			found = append(found, key)
		}
	}
	return found, nil
}

var _ httpcache.TagIndexer = (*Store)(nil)
