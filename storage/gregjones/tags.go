package gregjones

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"time"

	"github.com/c650553b/httpcache"
)

// Tag indexes: for each cache tag of a stored entry (httpcache.Entry.Tags),
// one more value, under a prefix of its own, lists the storage keys
// stored with the tag and when each expires, as a URL's index lists its
// partitions; KeysTagged reads it for httpcache.Transport.InvalidateTag.
// Set writes a key into its tags' indexes before it writes the entry, so
// that an entry this Storage stored is listed by each of its tags. When a
// tag's index is full, the entry is not stored. Processes sharing one
// backend have the caveat of the URL indexes (see the package doc): a key
// one stores while another stores the same tag may be left out. Each Set
// rewrites the index of each of its tags, so a tag on thousands of stored
// responses makes their writes slower; and, as for entries, a backend
// that does not evict keeps the index of a tag no longer used.

// tagIndexPrefix marks the tag indexes. It differs from keyPrefix and
// indexPrefix within their lengths, so that no entry's or URL index's
// backend key is a tag index's.
const tagIndexPrefix = "httpcache.v1-tagindex:"

// tagLocks serialise this Storage's writes to each tag's index, by tag.
type tagLocks struct {
	seed  maphash.Seed
	locks [lockStripes]sync.Mutex
}

// lock locks the writes to tag's index and returns the unlock.
func (l *tagLocks) lock(tag string) func() {
	mu := &l.locks[maphash.String(l.seed, tag)%lockStripes]
	mu.Lock()
	return mu.Unlock
}

// indexTags lists key, whose variants last until expiry (Unix
// milliseconds, 0 for none), in the index of each of tags. It reports
// false when an index is full: the entry must not be stored.
func (s *Storage) indexTags(key string, tags []string, expiry int64) bool {
	for _, tag := range tags {
		if !s.indexTag(key, tag, expiry) {
			return false
		}
	}
	return true
}

func (s *Storage) indexTag(key, tag string, expiry int64) bool {
	defer s.tags.lock(tag)()
	name := tagIndexPrefix + tag
	idx, changed, ok := s.indexAdd(name, key, expiry, func(member string) string { return member })
	if changed {
		s.backendSet(name, encodeIndex(idx))
	}
	return ok
}

// errDamagedTagIndex is returned by KeysTagged for an index that does not
// decode: the keys it listed cannot be purged.
var errDamagedTagIndex = errors.New("gregjones: a tag's index is damaged; its entries expire by themselves")

// KeysTagged calls fn with each key the tag's index lists whose entry has
// not expired, until fn returns false (httpcache.TagIndexer). It may name
// keys deleted since they were stored: the index drops them once expired.
// In a backend that evicts (memcache), an index evicted before its entries
// no longer names them: their freshness lifetime bounds how long they are
// served after a purge.
func (s *Storage) KeysTagged(ctx context.Context, tag string, fn func(key string) bool) error {
	if s.err != nil {
		return s.err
	}
	var idx index
	var intact bool
	err := s.bounded(ctx, func() error {
		defer s.tags.lock(tag)()
		idx, intact = s.readIndex(tagIndexPrefix+tag, false)
		return nil
	})
	if err != nil {
		return err
	}
	if !intact {
		return errDamagedTagIndex
	}
	now := time.Now().UnixMilli()
	for _, e := range idx.entries {
		if !e.expired(now) && !fn(e.partition) {
			return nil
		}
	}
	return nil
}

var _ httpcache.TagIndexer = (*Storage)(nil)
