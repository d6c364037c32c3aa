package httpcache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Inspection and purge: a Storage that can list its keys (KeyLister) lets
// the Transport show what it stores (Entries), remove every URL under a
// prefix (InvalidatePrefix) and empty itself (Clear). MemoryStorage and
// DiskStorage list, and so do the Redis store (storage/redisstore, with
// SCAN) and a TieredStorage whose back tier lists. Stores that cannot
// list (the gregjones backends, whose interface has no way to) make
// these return ErrCannotList.

// KeyLister is a Storage that can list its keys, for Transport.Entries,
// InvalidatePrefix and Clear.
type KeyLister interface {
	// Keys calls fn with each stored key whose URL part (KeyURL) starts
	// with prefix, until fn returns false. Keys stored or deleted while it
	// runs may or may not be seen. fn may call the Storage.
	Keys(ctx context.Context, prefix string, fn func(key string) bool) error
	// Peek returns the variants stored under key, as Get does, but
	// without Get's side effects: it marks nothing recently used and
	// copies nothing between tiers, so that listing leaves the store as
	// it was.
	Peek(ctx context.Context, key string) ([]*Entry, error)
}

// ErrCannotList is returned by Transport.Entries, InvalidatePrefix and
// Clear when the Storage does not implement KeyLister.
var ErrCannotList = errors.New("httpcache: the Storage cannot list its keys")

// Keys lists the stored keys whose URL starts with prefix (KeyLister).
func (m *MemoryStorage) Keys(ctx context.Context, prefix string, fn func(key string) bool) error {
	m.mu.Lock()
	keys := make([]string, 0, len(m.items))
	for key := range m.items {
		if strings.HasPrefix(KeyURL(key), prefix) {
			keys = append(keys, key)
		}
	}
	m.mu.Unlock()
	slices.Sort(keys)
	for _, key := range keys {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !fn(key) {
			return nil
		}
	}
	return nil
}

// Peek returns the variants under key without marking them recently used
// (KeyLister).
func (m *MemoryStorage) Peek(_ context.Context, key string) ([]*Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	item := m.items[key]
	if item == nil {
		return nil, nil
	}
	now := time.Since(m.epoch)
	var live []*Entry
	for i, e := range item.variants {
		if expiry := item.meta[i].expiry; expiry == 0 || expiry > now {
			live = append(live, e)
		}
	}
	return live, nil
}

// Peek returns the variants under key in both tiers, without copying
// them into memory (KeyLister): memory's first, then the back tier's,
// which may be newer (another process's) or outlive their memory copy. A
// variant in both appears twice, so that a search of what Peek returns
// (a purge by tag) misses neither copy.
func (s *TieredStorage) Peek(ctx context.Context, key string) ([]*Entry, error) {
	back, ok := s.back.(KeyLister)
	if !ok {
		return nil, ErrCannotList
	}
	front, _ := s.front.Peek(ctx, key)
	behind, err := back.Peek(ctx, key)
	return append(front, behind...), err
}

// Keys lists the keys of both tiers whose URL starts with prefix, each
// once (KeyLister). It returns ErrCannotList when the back tier cannot
// list.
func (s *TieredStorage) Keys(ctx context.Context, prefix string, fn func(key string) bool) error {
	back, ok := s.back.(KeyLister)
	if !ok {
		return ErrCannotList
	}
	seen := make(map[string]bool)
	more := true
	collect := func(key string) bool {
		if !seen[key] {
			seen[key] = true
			more = fn(key)
		}
		return more
	}
	if err := s.front.Keys(ctx, prefix, collect); err != nil || !more {
		return err
	}
	return back.Keys(ctx, prefix, collect)
}

// Keys lists the keys whose URL starts with prefix (KeyLister): every
// entry file in the directory, this process's and other processes' alike,
// read for the key its header names. A file whose key does not name its
// path is skipped (it is never served).
func (d *DiskStorage) Keys(ctx context.Context, prefix string, fn func(key string) bool) error {
	var names []string
	err := filepath.WalkDir(d.dir, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walk
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if entry.Type().IsRegular() {
			if name, err := filepath.Rel(d.dir, path); err == nil && isDiskFileName(name) {
				names = append(names, name)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("httpcache: disk storage: listing: %w", err)
	}
	seen := make(map[string]bool) // after a rotation, a key may have files under two names
	for _, name := range names {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		key, ok := d.keyOf(name)
		if !ok || seen[key] || !strings.HasPrefix(KeyURL(key), prefix) {
			continue
		}
		seen[key] = true
		if !fn(key) {
			return nil
		}
	}
	return nil
}

// keyOf returns the key a file names, and false for a file that is gone,
// unreadable, without a key, or whose key does not name its path.
func (d *DiskStorage) keyOf(name string) (string, bool) {
	f, err := openRegular(filepath.Join(d.dir, name))
	if err != nil {
		return "", false
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", false
	}
	if d.keys != nil {
		key, rk, err := readSealedKey(f, info.Size(), d.keys)
		return key, err == nil && sealedName(rk, key) == name
	}
	key, err := readDiskFileKey(f, info.Size())
	if err != nil || key == "" || fileName(key) != name {
		return "", false
	}
	return key, true
}

// Peek returns the unexpired variants under key without marking the file
// recently used or removing anything (KeyLister).
func (d *DiskStorage) Peek(_ context.Context, key string) ([]*Entry, error) {
	return d.read(key, true)
}

// EntryInfo describes the entries stored under one key (Transport.Entries).
// It holds no header, body or credential.
type EntryInfo struct {
	// URL is the key's URL part, with the values of redacted query
	// parameters (WithRedactedQueryParams) replaced.
	URL string `json:"url"`
	// Partitioned reports a response stored for a request with
	// credentials, in a partition of its own; which one is not shown.
	Partitioned bool `json:"partitioned"`
	// Variants is how many responses are stored for the key (Vary).
	Variants int `json:"variants"`
	// Size is the bytes the variants take, as stores count them.
	Size int64 `json:"size"`
	// StoredAt is when the newest variant was received.
	StoredAt time.Time `json:"stored_at"`
	// FreshUntil is when the freshest variant goes stale, by its headers
	// and the rules (WithRules) for a GET of the URL; in the past for a
	// stale one, kept for revalidation or stale-if-error.
	FreshUntil time.Time `json:"fresh_until"`
	// Tags are the cache tags of the variants (WithTagFields), each once.
	Tags []string `json:"tags,omitempty"`
}

// maxShownTTL bounds FreshUntil, so that a saturated lifetime makes no
// absurd date.
const maxShownTTL = 100 * 365 * 24 * time.Hour

// freshUntil is when e, stored under key, goes stale (EntryInfo).
func (t *Transport) freshUntil(key string, e *Entry, now time.Time) time.Time {
	var rule *compiledRule
	if len(t.cfg.rules) > 0 {
		if u, err := url.Parse(KeyURL(key)); err == nil {
			rule = t.cfg.rules.match(http.MethodGet, u.Host, u.Path, e.StatusCode)
		}
	}
	d := t.cfg.policy.evaluate(&cacheControl{}, e, t.factsWithRule(e, rule), now)
	return now.Add(min(d.ttl(), maxShownTTL))
}

// Entries lists what the Storage holds under URLs that start with prefix
// ("" for everything; compared as InvalidatePrefix compares it), at most limit keys (0 for no limit), sorted by
// URL. It returns ErrCannotList for a Storage that cannot list.
func (t *Transport) Entries(ctx context.Context, prefix string, limit int) ([]EntryInfo, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	lister, ok := t.cfg.storage.(KeyLister)
	if !ok {
		return nil, ErrCannotList
	}
	redact := redactor{params: t.cfg.redacted}
	var infos []EntryInfo
	var failure error
	err := t.listKeys(ctx, lister, prefix, func(key string) bool {
		entries, err := lister.Peek(ctx, key)
		if err != nil {
			failure = err
			return false
		}
		entries = t.failedDeletes.filter([]byte(key), entries)
		if len(entries) == 0 {
			return true
		}
		info := EntryInfo{URL: redact.key(KeyURL(key)), Partitioned: KeyPartition(key) != ""}
		now := t.cfg.now()
		var variants []string
		for _, e := range entries {
			if slices.Contains(variants, e.Variant) {
				continue // a copy in another tier
			}
			variants = append(variants, e.Variant)
			if until := t.freshUntil(key, e, now); until.After(info.FreshUntil) {
				info.FreshUntil = until
			}
			info.Size = addSizes(info.Size, entrySize(e))
			if e.ResponseTime.After(info.StoredAt) {
				info.StoredAt = e.ResponseTime
			}
			tags, _ := tagsOf(t.cfg.tagFields, e.Header)
			for _, tag := range tags {
				if !slices.Contains(info.Tags, tag) {
					info.Tags = append(info.Tags, tag)
				}
			}
		}
		info.Variants = len(variants)
		infos = append(infos, info)
		return limit <= 0 || len(infos) < limit
	})
	if err == nil {
		err = failure
	}
	slices.SortStableFunc(infos, func(a, b EntryInfo) int { return strings.Compare(a.URL, b.URL) })
	return infos, err
}

// listKeys lists the keys whose URL, as logs and Entries show it (values
// of redacted query parameters replaced), starts with prefix. Matching
// the redacted form keeps a prefix from probing a redacted value (a
// token) one character at a time.
func (t *Transport) listKeys(ctx context.Context, lister KeyLister, prefix string, fn func(key string) bool) error {
	redact := redactor{params: t.cfg.redacted}
	storePrefix, _, _ := strings.Cut(prefix, "?") // the path part matches alike
	return lister.Keys(ctx, storePrefix, func(key string) bool {
		if !strings.HasPrefix(redact.key(KeyURL(key)), prefix) {
			return true
		}
		return fn(key)
	})
}

// InvalidatePrefix removes the entries of every URL that starts with
// prefix, in every partition, and returns how many keys it removed; the
// prefix is compared with storage keys' URL part ("https://host/path",
// host in lower case, without the scheme's default port), as Entries
// shows it (redacted query values read "REDACTED"), without the query
// normalisation of WithIgnoredQueryParams. Writes still queued for
// such URLs are dropped. It returns ErrCannotList for a Storage that
// cannot list. When the listing fails part way, the keys it found are
// removed all the same, and the error is returned with their count.
func (t *Transport) InvalidatePrefix(ctx context.Context, prefix string) (int, error) {
	if err := t.check(); err != nil {
		return 0, err
	}
	lister, ok := t.cfg.storage.(KeyLister)
	if !ok {
		return 0, ErrCannotList
	}
	// Queued writes first, so that none lands after the listing.
	under := func(key string) bool { return strings.HasPrefix(KeyURL(key), prefix) }
	t.inOrder(keysWhere(under), func() {})
	var keys []string
	err := t.listKeys(ctx, lister, prefix, func(key string) bool { keys = append(keys, key); return true })
	// A listing that failed part way (a shared tier that is down) still
	// removes what it found, the memory tier's keys among them: this
	// process stops serving them, and their deletes are retried.
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	removed := 0
	for _, key := range keys {
		if err := t.delete(ctx, key); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// Clear removes every entry of the Storage (InvalidatePrefix of ""). Use
// it after a deploy that changes what responses mean, or in tests.
func (t *Transport) Clear(ctx context.Context) error {
	_, err := t.InvalidatePrefix(ctx, "")
	return err
}
