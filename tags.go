package httpcache

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
)

// Cache tags: an origin names groups of responses in a response field
// (Cache-Tag, as Cloudflare reads it, comma-separated; Surrogate-Key, as
// Fastly reads it, space-separated), and Transport.InvalidateTag removes
// every stored response of a group at once, in every partition and
// variant, whatever its URL.

// DefaultTagFields are the response fields whose values tag a stored
// response (WithTagFields).
var DefaultTagFields = []string{"Cache-Tag", "Surrogate-Key"}

// Bounds on one response's tags, those of the CDNs that read the same
// fields: a response with more tags, longer ones, or more than
// maxTagsBytes in its tag fields (separators and repeats included) is
// not stored, since it could not be purged by each of them (detail
// "tags").
const (
	maxTagsPerEntry = 256
	maxTagBytes     = 1024
	maxTagsBytes    = 16 << 10
)

// detailTags is the Cache-Status detail and Stats reason of a response
// not stored because its tags exceed the bounds.
const detailTags = "tags"

// errNoTag is returned by InvalidateTag for an empty tag.
var errNoTag = errors.New("httpcache: InvalidateTag: empty tag")

// WithTagFields replaces the response fields whose values tag a stored
// response (DefaultTagFields), for Transport.InvalidateTag. Values are
// split at commas and white space; tags are compared exactly, case
// included. With no names, responses are not tagged.
func WithTagFields(names ...string) Option {
	return func(c *config) error {
		fields, err := canonicalFieldNames("WithTagFields", names)
		if err != nil {
			return err
		}
		c.tagFields = fields
		return nil
	}
}

// tagsOf returns the tags a stored response header carries in fields,
// each once, in the order found, and false when they exceed the bounds.
func tagsOf(fields []string, h http.Header) ([]string, bool) {
	// The fields' bytes, separators and repeated tags included, are
	// bounded first, so that splitting them costs little whatever they
	// hold.
	total := 0
	for _, field := range fields {
		for _, line := range h[field] {
			if total += len(line); total > maxTagsBytes {
				return nil, false
			}
		}
	}
	var tags []string
	for _, field := range fields {
		for _, line := range h[field] {
			for tag := range strings.FieldsFuncSeq(line, isTagSeparator) {
				if slices.Contains(tags, tag) {
					continue
				}
				if len(tag) > maxTagBytes || len(tags) == maxTagsPerEntry {
					return nil, false
				}
				tags = append(tags, tag)
			}
		}
	}
	return tags, true
}

func isTagSeparator(r rune) bool {
	return r == ',' || r == ' ' || r == '\t'
}

// tagEntry sets e.Tags from its header, and reports false when its tags
// exceed the bounds: then it is not to be stored.
func (t *Transport) tagEntry(e *Entry) bool {
	if len(t.cfg.tagFields) == 0 {
		return true
	}
	tags, ok := tagsOf(t.cfg.tagFields, e.Header)
	e.Tags = tags
	return ok
}

// TagIndexer is a Storage that indexes its entries by their Tags, so that
// Transport.InvalidateTag finds them without reading every entry: the
// Redis store does, for a fleet that shares it. Stores that do not are
// searched through KeyLister, by the tags their entries' headers carry.
type TagIndexer interface {
	// KeysTagged calls fn with each key under which an entry tagged tag
	// may be stored, until fn returns false. A key named by mistake
	// costs only a needless delete; a key left out would escape a purge,
	// so the index is written before the entry. It returns
	// ErrCannotList when the store cannot tell after all (a
	// TieredStorage over a store without an index).
	KeysTagged(ctx context.Context, tag string, fn func(key string) bool) error
}

// KeysTagged calls fn with the keys the shared tier indexes under tag
// (TagIndexer); ErrCannotList when it keeps no index.
func (s *TieredStorage) KeysTagged(ctx context.Context, tag string, fn func(key string) bool) error {
	back, ok := s.back.(TagIndexer)
	if !ok {
		return ErrCannotList
	}
	return back.KeysTagged(ctx, tag, fn)
}

// InvalidateTag removes every stored response tagged tag (by a field of
// WithTagFields), in every partition and variant, and returns how many
// keys it removed (with the gregjones adapter, whose index cannot tell,
// keys already gone count too). Writes still queued for such responses
// are dropped. With a store that indexes tags (TagIndexer: Redis, the
// gregjones adapter) one call purges what the whole fleet shares; a
// TieredStorage in another process may serve its memory copy for up to
// its trustFor. Other stores are searched entry by entry (KeyLister:
// memory, disk); one that can neither index nor list makes it return
// ErrCannotList, after removing what the memory tier and the queue held.
func (t *Transport) InvalidateTag(ctx context.Context, tag string) (int, error) {
	if err := t.check(); err != nil {
		return 0, err
	}
	if tag == "" {
		return 0, errNoTag
	}
	keys := make(map[string]bool)
	collect := func(key string) bool { keys[key] = true; return true }
	if t.writes != nil {
		t.writes.keysOf(func(e *Entry) bool { return t.tagged(e, tag) }, collect)
	}
	err := t.keysTagged(ctx, tag, collect)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	removed := 0
	for key := range keys {
		if err := t.delete(ctx, key); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// keysTagged finds the stored keys of tag: from the Storage's index when
// it keeps one (and in the memory tier in front of it, which a write to
// the index may have missed), else by reading every entry.
func (t *Transport) keysTagged(ctx context.Context, tag string, fn func(key string) bool) error {
	if indexer, ok := t.cfg.storage.(TagIndexer); ok {
		err := indexer.KeysTagged(ctx, tag, fn)
		if !errors.Is(err, ErrCannotList) {
			if memory := t.storage.builtinMemory; memory != nil {
				err = errors.Join(err, t.keysTaggedIn(ctx, memory, tag, fn))
			}
			return err
		}
	}
	lister, ok := t.cfg.storage.(KeyLister)
	if !ok {
		return ErrCannotList
	}
	return t.keysTaggedIn(ctx, lister, tag, fn)
}

// keysTaggedIn finds the keys of tag in a store that lists, by the tags
// of each entry's header.
func (t *Transport) keysTaggedIn(ctx context.Context, lister KeyLister, tag string, fn func(key string) bool) error {
	var failure error
	err := lister.Keys(ctx, "", func(key string) bool {
		entries, err := lister.Peek(ctx, key)
		if err != nil {
			failure = err
			return false
		}
		if slices.ContainsFunc(entries, func(e *Entry) bool { return t.tagged(e, tag) }) {
			return fn(key)
		}
		return true
	})
	if err == nil {
		err = failure
	}
	return err
}

// tagged reports whether e carries tag, by its header as the tag fields
// read it now.
func (t *Transport) tagged(e *Entry, tag string) bool {
	for _, field := range t.cfg.tagFields {
		for _, line := range e.Header[field] {
			for found := range strings.FieldsFuncSeq(line, isTagSeparator) {
				if found == tag {
					return true
				}
			}
		}
	}
	return false
}
