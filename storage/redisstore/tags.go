package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/redis/go-redis/v9"
)

// The tag index: for each tag of a stored entry (httpcache.Entry.Tags), a
// sorted set of the storage keys tagged with it, each scored by when its
// entry expires (Unix milliseconds):
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

// tagScript adds a key (ARGV[1]) to a tag's set (KEYS[1]) with the
// expiry of its entry (ARGV[2], Unix milliseconds) unless it is there
// with a later one, drops the members expired by ARGV[3] (now), and makes
// the set live at least ARGV[4] milliseconds.
var tagScript = redis.NewScript(`
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) < tonumber(ARGV[2]) then
	redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then
	redis.call('PEXPIRE', KEYS[1], ARGV[4])
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
	now := time.Now()
	expiry := strconv.FormatInt(now.Add(ttl).UnixMilli(), 10)
	nowMillis := strconv.FormatInt(now.UnixMilli(), 10)
	pipe := s.client.Pipeline()
	for _, tag := range tags {
		// Eval, not EvalSha: a pipeline cannot load a script Redis lacks.
		tagScript.Eval(ctx, pipe, []string{s.tagKey(tag)}, key, expiry, nowMillis, ttl.Milliseconds())
	}
	_, err := pipe.Exec(ctx)
	return err
}

// KeysTagged calls fn with each storage key whose entry was stored tagged
// tag and has not expired, until fn returns false (httpcache.TagIndexer).
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
		keys, err := s.existing(ctx, liveMembers(pairs))
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

// liveMembers returns the members of ZSCAN's member, score pairs whose
// score, an expiry, has not passed.
func liveMembers(pairs []string) []string {
	now := float64(time.Now().UnixMilli())
	var live []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if expiry, err := strconv.ParseFloat(pairs[i+1], 64); err != nil || expiry >= now {
			live = append(live, pairs[i])
		}
	}
	return live
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
