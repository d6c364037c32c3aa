package httpcache

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// taggedHarness serves each path with the tags its query names: ?ct= for
// Cache-Tag, ?sk= for Surrogate-Key, ?x= for X-Tags; it varies on Accept.
func taggedHarness(t *testing.T, opts ...Option) *harness {
	return newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Vary", "Accept")
		q := r.URL.Query()
		for param, field := range map[string]string{"ct": "Cache-Tag", "sk": "Surrogate-Key", "x": "X-Tags"} {
			if v, ok := q[param]; ok {
				w.Header()[field] = v
			}
		}
		io.WriteString(w, "body of "+r.URL.String())
	}, append([]Option{WithSynchronousWrites(true)}, opts...)...)
}

func TestTagsOf(t *testing.T) {
	fields := DefaultTagFields
	long := strings.Repeat("t", maxTagBytes+1)
	many := make([]string, maxTagsPerEntry+1)
	for i := range many {
		many[i] = "tag" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
	}
	tests := []struct {
		name   string
		header http.Header
		want   []string
		ok     bool
	}{
		{"none", http.Header{}, nil, true},
		{"cache-tag commas", http.Header{"Cache-Tag": {"a,b, c"}}, []string{"a", "b", "c"}, true},
		{"surrogate-key spaces", http.Header{"Surrogate-Key": {"a  b\tc"}}, []string{"a", "b", "c"}, true},
		{"both fields, lines, duplicates", http.Header{"Cache-Tag": {"a", "b,a"}, "Surrogate-Key": {"b c"}}, []string{"a", "b", "c"}, true},
		{"empty members", http.Header{"Cache-Tag": {" , ,a,,"}}, []string{"a"}, true},
		{"case kept", http.Header{"Cache-Tag": {"A,a"}}, []string{"A", "a"}, true},
		{"other field ignored", http.Header{"X-Tags": {"a"}}, nil, true},
		{"a tag too long", http.Header{"Cache-Tag": {long}}, nil, false},
		{"too many tags", http.Header{"Cache-Tag": {strings.Join(many, ",")}}, nil, false},
		{"exactly the bound", http.Header{"Cache-Tag": {strings.Join(many[:maxTagsPerEntry], ",")}}, many[:maxTagsPerEntry], true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tagsOf(fields, tt.header)
			if ok != tt.ok || !slices.Equal(got, tt.want) {
				t.Fatalf("tagsOf = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// InvalidateTag removes every response carrying the tag, in every
// partition and variant, whatever its URL and whichever field carried it,
// and nothing else, on every store that can list or index.
func TestInvalidateTag(t *testing.T) {
	for name, store := range tagStores(t) {
		t.Run(name, func(t *testing.T) {
			h := taggedHarness(t, WithStorage(store()))
			ctx := context.Background()
			a, b, c := "/a?ct=product-1,list", "/b?sk=other+product-1", "/c?ct=product-2,Product-1"
			h.get(a)
			h.get(a, "Accept", "text/html")           // a second variant
			h.get(a, "Authorization", "Bearer alice") // a partition
			h.get(b)
			h.get(c)
			n, err := h.transport.InvalidateTag(ctx, "product-1")
			if err != nil || n != 3 {
				t.Fatalf("InvalidateTag removed %d keys, %v; want 3", n, err)
			}
			for _, got := range []result{h.get(a), h.get(a, "Accept", "text/html"), h.get(a, "Authorization", "Bearer alice"), h.get(b)} {
				if got.cache.Hit {
					t.Fatalf("a tagged response is still served: %+v", got.cache)
				}
			}
			if !h.get(c).cache.Hit {
				t.Fatal("a response without the tag (only a tag differing in case) was removed")
			}
			if n, err := h.transport.InvalidateTag(ctx, "no-such-tag"); err != nil || n != 0 {
				t.Fatalf("an unknown tag removed %d, %v", n, err)
			}
		})
	}
}

func tagStores(t *testing.T) map[string]func() Storage {
	return map[string]func() Storage{
		"memory": func() Storage { return NewMemoryStorage(0) },
		"disk":   func() Storage { return must(NewDiskStorage(t.TempDir(), 0)) },
		"tiered": func() Storage {
			return must(NewTieredStorage(NewMemoryStorage(0), NewMemoryStorage(0), time.Minute))
		},
		"tiered over disk": func() Storage {
			return must(NewTieredStorage(NewMemoryStorage(0), must(NewDiskStorage(t.TempDir(), 0)), time.Minute))
		},
		"tiered over an index": func() Storage {
			return must(NewTieredStorage(NewMemoryStorage(0), newIndexingStorage(), time.Minute))
		},
	}
}

// indexingStorage is a store that indexes tags (TagIndexer) and cannot
// list, as the Redis store would be without SCAN.
type indexingStorage struct {
	*fakeStorage
	mu     sync.Mutex
	tagged map[string][]string
	asked  int
	down   bool // Set fails, index and entry alike
}

func newIndexingStorage() *indexingStorage {
	return &indexingStorage{fakeStorage: newFakeStorage(), tagged: make(map[string][]string)}
}

func (s *indexingStorage) Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
	s.mu.Lock()
	if s.down {
		s.mu.Unlock()
		return errors.New("down")
	}
	for _, tag := range e.Tags {
		if !slices.Contains(s.tagged[tag], key) {
			s.tagged[tag] = append(s.tagged[tag], key)
		}
	}
	s.mu.Unlock()
	return s.fakeStorage.Set(ctx, key, e, ttl)
}

func (s *indexingStorage) KeysTagged(_ context.Context, tag string, fn func(string) bool) error {
	s.mu.Lock()
	s.asked++
	keys := slices.Clone(s.tagged[tag])
	s.mu.Unlock()
	for _, key := range keys {
		if !fn(key) {
			break
		}
	}
	return nil
}

// With a store that indexes tags, InvalidateTag asks the index, and also
// searches the memory tier in front of it, which holds what a failed
// write to the index missed.
func TestInvalidateTagUsesTheIndexAndTheMemoryTier(t *testing.T) {
	back := newIndexingStorage()
	back.down = true
	front := NewMemoryStorage(0)
	h := taggedHarness(t, WithStorage(must(NewTieredStorage(front, back, time.Minute))))
	h.get("/a?ct=t1")
	if !h.get("/a?ct=t1").cache.Hit {
		t.Fatal("not served from the memory tier")
	}
	n, err := h.transport.InvalidateTag(context.Background(), "t1")
	if err != nil || n != 1 || back.asked != 1 {
		t.Fatalf("removed %d, %v; index asked %d times", n, err, back.asked)
	}
	if h.get("/a?ct=t1").cache.Hit {
		t.Fatal("the memory tier's copy survived the purge")
	}
}

func TestInvalidateTagOnAStoreThatCannotList(t *testing.T) {
	h := taggedHarness(t, WithStorage(newFakeStorage()))
	if _, err := h.transport.InvalidateTag(context.Background(), "x"); !errors.Is(err, ErrCannotList) {
		t.Fatalf("InvalidateTag: %v", err)
	}
	if _, err := h.transport.InvalidateTag(context.Background(), ""); err == nil {
		t.Fatal("an empty tag was accepted")
	}
	var zero Transport
	if _, err := zero.InvalidateTag(context.Background(), "x"); err == nil {
		t.Fatal("a zero Transport purged")
	}
}

// WithTagFields replaces the fields read; with none, nothing is tagged.
func TestWithTagFields(t *testing.T) {
	h := taggedHarness(t, WithTagFields("x-tags"))
	h.get("/a?x=mine")
	h.get("/b?ct=mine")
	if n, _ := h.transport.InvalidateTag(context.Background(), "mine"); n != 1 {
		t.Fatalf("removed %d, want the X-Tags response only", n)
	}
	if !h.get("/b?ct=mine").cache.Hit || h.get("/a?x=mine").cache.Hit {
		t.Fatal("the wrong response was removed")
	}
	h = taggedHarness(t, WithTagFields())
	h.get("/a?ct=mine")
	if n, _ := h.transport.InvalidateTag(context.Background(), "mine"); n != 0 {
		t.Fatalf("removed %d with tagging off", n)
	}
	if _, err := NewTransport(WithTagFields("bad field")); err == nil {
		t.Fatal("an invalid field name was accepted")
	}
}

// A response with more tags than can be purged one by one is not stored.
func TestTooManyTagsAreNotStored(t *testing.T) {
	h := taggedHarness(t)
	tags := make([]string, maxTagsPerEntry+1)
	for i := range tags {
		tags[i] = "t" + strings.Repeat("x", i)
	}
	path := "/a?ct=" + strings.Join(tags, ",")
	got := h.get(path)
	if got.cache.Stored || got.cache.Detail != detailTags {
		t.Fatalf("Cache-Status %+v", got.cache)
	}
	if h.transport.Stats().NotStored[detailTags] != 1 {
		t.Fatalf("stats %+v", h.transport.Stats().NotStored)
	}
	if h.get(path).cache.Hit {
		t.Fatal("served from the cache")
	}
}

// A 304 that brings new tags retags the stored response (RFC 9111 §4.3.4
// replaces the stored fields).
func TestRevalidationRetags(t *testing.T) {
	tag := "old"
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("ETag", `"1"`)
		w.Header().Set("Cache-Tag", tag)
		if r.Header.Get("If-None-Match") == `"1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "body")
	}, WithSynchronousWrites(true))
	h.get("/r")
	tag = "new"
	h.clock.Advance(time.Minute)
	if got := h.get("/r"); got.cache.Hit {
		t.Fatalf("not revalidated: %+v", got.cache)
	}
	if n, _ := h.transport.InvalidateTag(context.Background(), "old"); n != 0 {
		t.Fatal("the old tag still names the response")
	}
	if n, _ := h.transport.InvalidateTag(context.Background(), "new"); n != 1 {
		t.Fatal("the new tag does not name the response")
	}
}

// Writes still queued behind the requests are purged with the stored
// entries: none lands after InvalidateTag.
func TestInvalidateTagDropsQueuedWrites(t *testing.T) {
	lister, release := heldListingStore()
	h := taggedHarness(t, WithStorage(lister), WithSynchronousWrites(false))
	h.get("/held?ct=other") // its write holds the writer
	h.get("/queued?ct=t")   // queued behind it
	purged := make(chan int, 1)
	go func() {
		n, _ := h.transport.InvalidateTag(context.Background(), "t")
		purged <- n
	}()
	for h.transport.Stats().QueuedWrites != 0 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	if n := <-purged; n != 1 {
		t.Fatalf("removed %d", n)
	}
	h.transport.waitForWrites()
	if h.get("/queued?ct=t").cache.Hit {
		t.Fatal("a queued write landed after the purge")
	}
	if !h.get("/held?ct=other").cache.Hit {
		t.Fatal("an untagged write was dropped")
	}
}

// The tag fields are bounded before they are split: a response whose
// fields repeat a few tags to megabytes is refused without splitting
// them, and counts as too many tags.
func TestRepeatedTagsAreBoundedByBytes(t *testing.T) {
	line := strings.Repeat("a,b,c,", maxTagsBytes/6+1)
	if tags, ok := tagsOf(DefaultTagFields, http.Header{"Cache-Tag": {line}}); ok || tags != nil {
		t.Fatalf("%d bytes of three repeated tags accepted", len(line))
	}
	if tags, ok := tagsOf(DefaultTagFields, http.Header{"Cache-Tag": {"a,b", "c"}, "Surrogate-Key": {strings.Repeat(" ", maxTagsBytes-4)}}); !ok || len(tags) != 3 {
		t.Fatalf("at the bound: %q, %v", tags, ok)
	}
}
