// Package storagetest is the acceptance suite every httpcache.Storage must
// pass. A store's own tests call Run:
//
//	func TestMyStore(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T, maxBytes int64) httpcache.Storage {
//			return mystore.New(maxBytes)
//		})
//	}
package storagetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
)

// Factory returns a new, empty store for one test. maxBytes is the bound the
// store is made with, zero meaning the store's default. A store with no byte
// bound of its own (one that relies on expiry, such as Redis) returns nil
// when maxBytes is not zero, and the size test is skipped for it.
type Factory func(t *testing.T, maxBytes int64) httpcache.Storage

// Run runs the whole suite against stores made by newStore.
func Run(t *testing.T, newStore Factory) {
	t.Helper()
	tests := []struct {
		name string
		run  func(*testing.T, Factory)
	}{
		{"GetMissing", testGetMissing},
		{"SetGetDelete", testSetGetDelete},
		{"Overwrite", testOverwrite},
		{"Variants", testVariants},
		{"KeysAreDistinct", testKeysAreDistinct},
		{"LargeBody", testLargeBody},
		{"EmptyBody", testEmptyBody},
		{"ExpiryHint", testExpiryHint},
		{"SizeBound", testSizeBound},
		{"Concurrency", testConcurrency},
		{"Partitions", testPartitions},
		{"ManyPartitions", testManyPartitions},
		{"DeleteURLMissing", testDeleteURLMissing},
		{"DeleteVariant", testDeleteVariant},
		{"OversizeVariant", testOversizeVariant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore) })
	}
}

var base = time.Date(2026, 3, 4, 5, 6, 7, 8000, time.UTC)

// NewEntry returns an entry whose body and headers derive from id, so that
// CheckEntry can tell it apart from any other.
func NewEntry(variant, id string, bodySize int) *httpcache.Entry {
	body := bytes.Repeat([]byte(id+"."), bodySize/(len(id)+1)+1)[:bodySize]
	return &httpcache.Entry{
		Variant:    variant,
		StatusCode: http.StatusOK,
		Header: http.Header{
			"Content-Type":  {"text/plain"},
			"X-Entry":       {id},
			"X-Body-Length": {strconv.Itoa(bodySize)},
			"Set-Cookie":    {"a=1", "b=2"},
		},
		RequestTime:  base,
		ResponseTime: base.Add(time.Millisecond),
		Body:         httpcache.BytesBody(body),
	}
}

// CheckEntry fails the test unless got is a complete copy of want.
func CheckEntry(t *testing.T, got, want *httpcache.Entry) {
	t.Helper()
	if got == nil {
		t.Fatal("entry missing")
	}
	if got.Variant != want.Variant || got.StatusCode != want.StatusCode {
		t.Fatalf("variant %q status %d, want %q %d", got.Variant, got.StatusCode, want.Variant, want.StatusCode)
	}
	if !got.RequestTime.Equal(want.RequestTime) || !got.ResponseTime.Equal(want.ResponseTime) {
		t.Fatalf("times %v %v, want %v %v", got.RequestTime, got.ResponseTime, want.RequestTime, want.ResponseTime)
	}
	if fmt.Sprint(got.Header) != fmt.Sprint(want.Header) {
		t.Fatalf("header %v, want %v", got.Header, want.Header)
	}
	gotBody, wantBody := readBody(t, got), readBody(t, want)
	if !bytes.Equal(gotBody, wantBody) {
		t.Fatalf("body of %d bytes differs from the %d stored", len(gotBody), len(wantBody))
	}
	if got.Body.Size() != int64(len(wantBody)) {
		t.Fatalf("Body.Size() = %d, want %d", got.Body.Size(), len(wantBody))
	}
}

func readBody(t *testing.T, e *httpcache.Entry) []byte {
	t.Helper()
	r, err := e.Body.Open()
	if err != nil {
		t.Fatalf("opening body: %v", err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return b
}

func mustGet(t *testing.T, s httpcache.Storage, key string) []*httpcache.Entry {
	t.Helper()
	entries, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return entries
}

// mustGetOne gets key and fails unless exactly one entry is stored there.
func mustGetOne(t *testing.T, s httpcache.Storage, key string) *httpcache.Entry {
	t.Helper()
	got := mustGet(t, s, key)
	if len(got) != 1 {
		t.Fatalf("Get(%q) returned %d entries, want 1", key, len(got))
	}
	return got[0]
}

func mustSet(t *testing.T, s httpcache.Storage, key string, e *httpcache.Entry, ttl time.Duration) {
	t.Helper()
	if err := s.Set(context.Background(), key, e, ttl); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

// mustDeleteAll deletes key and checks that no variant of it is left.
func mustDeleteAll(t *testing.T, s httpcache.Storage, key string) {
	t.Helper()
	if err := s.Delete(context.Background(), key); err != nil {
		t.Fatalf("Delete(%q): %v", key, err)
	}
	if got := mustGet(t, s, key); len(got) != 0 {
		t.Fatalf("Delete(%q) left %d variants", key, len(got))
	}
}

func variantNamed(entries []*httpcache.Entry, variant string) *httpcache.Entry {
	for _, e := range entries {
		if e.Variant == variant {
			return e
		}
	}
	return nil
}

func testGetMissing(t *testing.T, newStore Factory) {
	s := newStore(t, 0)
	if got := mustGet(t, s, "https://example.com/none"); len(got) != 0 {
		t.Fatalf("Get of a missing key returned %d entries", len(got))
	}
	if err := s.Delete(context.Background(), "https://example.com/none"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
}

func testSetGetDelete(t *testing.T, newStore Factory) {
	s := newStore(t, 0)
	key := "https://example.com/a?b=c"
	want := NewEntry("", "one", 100)
	mustSet(t, s, key, want, time.Hour)
	CheckEntry(t, mustGetOne(t, s, key), want)
	CheckEntry(t, mustGetOne(t, s, key), want) // a body can be read again
	mustDeleteAll(t, s, key)
}

func testOverwrite(t *testing.T, newStore Factory) {
	s := newStore(t, 0)
	key := "https://example.com/over"
	mustSet(t, s, key, NewEntry("", "old", 500), time.Hour)
	want := NewEntry("", "new", 10)
	mustSet(t, s, key, want, time.Hour)
	CheckEntry(t, mustGetOne(t, s, key), want)
}

func testVariants(t *testing.T, newStore Factory) {
	s := newStore(t, 0)
	key := "https://example.com/vary"
	en := NewEntry("accept-language:en\n", "en", 50)
	fr := NewEntry("accept-language:fr\n", "fr", 60)
	mustSet(t, s, key, en, time.Hour)
	mustSet(t, s, key, fr, time.Hour)
	got := mustGet(t, s, key)
	if len(got) != 2 {
		t.Fatalf("Get returned %d variants, want 2", len(got))
	}
	CheckEntry(t, variantNamed(got, en.Variant), en)
	CheckEntry(t, variantNamed(got, fr.Variant), fr)

	fr2 := NewEntry(fr.Variant, "fr2", 70)
	mustSet(t, s, key, fr2, time.Hour)
	got = mustGet(t, s, key)
	if len(got) != 2 {
		t.Fatalf("replacing a variant left %d variants, want 2", len(got))
	}
	CheckEntry(t, variantNamed(got, fr.Variant), fr2)
	CheckEntry(t, variantNamed(got, en.Variant), en)
	mustDeleteAll(t, s, key)
}

// testDeleteVariant checks DeleteVariant, for a store that implements
// httpcache.VariantDeleter: one variant goes, the key's others and other
// keys stay, in every partition of the URL alike.
func testDeleteVariant(t *testing.T, newStore Factory) {
	s := newStore(t, 0)
	d, ok := s.(httpcache.VariantDeleter)
	if !ok {
		t.Skip("the store is no httpcache.VariantDeleter: the Transport deletes every variant of a key instead")
	}
	ctx := context.Background()
	key := "https://example.com/vary"
	other := key + "\x00partition"
	en := NewEntry("accept-language:en\n", "en", 50)
	fr := NewEntry("accept-language:fr\n", "fr", 60)
	for _, k := range []string{key, other} {
		mustSet(t, s, k, en, time.Hour)
		mustSet(t, s, k, fr, time.Hour)
	}
	if err := d.DeleteVariant(ctx, key, en.Variant); err != nil {
		t.Fatalf("DeleteVariant: %v", err)
	}
	CheckEntry(t, mustGetOne(t, s, key), fr)
	if got := mustGet(t, s, other); len(got) != 2 {
		t.Fatalf("DeleteVariant of one key left %d variants under another key of its URL, want 2", len(got))
	}
	if err := d.DeleteVariant(ctx, key, en.Variant); err != nil {
		t.Fatalf("DeleteVariant of a variant not stored: %v", err)
	}
	if err := d.DeleteVariant(ctx, "https://example.com/none", ""); err != nil {
		t.Fatalf("DeleteVariant of a missing key: %v", err)
	}
	if err := d.DeleteVariant(ctx, key, fr.Variant); err != nil {
		t.Fatalf("DeleteVariant of the last variant: %v", err)
	}
	if got := mustGet(t, s, key); len(got) != 0 {
		t.Fatalf("DeleteVariant of the last variant left %d entries", len(got))
	}
}

// testOversizeVariant checks that an entry too big for a bounded store,
// not stored, leaves the key's other variants: one caller's request for a
// large representation must not wipe the others' responses.
func testOversizeVariant(t *testing.T, newStore Factory) {
	const bound = 64 << 10
	s := newStore(t, bound)
	if s == nil {
		t.Skip("the store has no size bound")
	}
	key := "https://example.com/sized"
	small := NewEntry("accept-language:en\n", "en", 100)
	mustSet(t, s, key, small, time.Hour)
	if err := s.Set(context.Background(), key, NewEntry("accept-language:fr\n", "fr", 2*bound), time.Hour); err != nil {
		t.Logf("Set of an entry over the bound: %v", err) // an error is allowed
	}
	e := variantNamed(mustGet(t, s, key), small.Variant)
	if e == nil {
		t.Fatal("an entry over the bound removed the key's other variant")
	}
	CheckEntry(t, e, small)
}

func testKeysAreDistinct(t *testing.T, newStore Factory) {
	s := newStore(t, 0)
	keys := []string{"https://example.com/x", "https://example.com/x/", "https://example.com/X",
		"https://example.com/x?", "http://example.com/x", "https://example.com/" + string(bytes.Repeat([]byte("long/"), 400)),
		"https://example.com/\x00../../etc/passwd", "https://example.com/ü?q=é&x=\"'"}
	for i, key := range keys {
		mustSet(t, s, key, NewEntry("", "k"+strconv.Itoa(i), 20), time.Hour)
	}
	for i, key := range keys {
		CheckEntry(t, mustGetOne(t, s, key), NewEntry("", "k"+strconv.Itoa(i), 20))
	}
}

func testLargeBody(t *testing.T, newStore Factory) {
	s := newStore(t, 0)
	want := NewEntry("", "large", 4<<20)
	mustSet(t, s, "https://example.com/large", want, time.Hour)
	CheckEntry(t, mustGetOne(t, s, "https://example.com/large"), want)
}

func testEmptyBody(t *testing.T, newStore Factory) {
	s := newStore(t, 0)
	want := NewEntry("", "empty", 0)
	want.StatusCode = http.StatusNoContent
	mustSet(t, s, "https://example.com/empty", want, time.Hour)
	CheckEntry(t, mustGetOne(t, s, "https://example.com/empty"), want)
}

// testExpiryHint checks that a store honours the ttl Set gives: an entry is
// kept while useful and dropped soon after. Stores expire on their own clock
// (Redis's, for one), so this test waits in real time, briefly.
func testExpiryHint(t *testing.T, newStore Factory) {
	s := newStore(t, 0)
	mustSet(t, s, "https://example.com/long", NewEntry("", "long", 10), time.Hour)
	mustSet(t, s, "https://example.com/none", NewEntry("", "none", 10), 0)
	mustSet(t, s, "https://example.com/short", NewEntry("", "short", 10), 50*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for len(mustGet(t, s, "https://example.com/short")) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("an entry with a 50ms ttl was still there after 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(mustGet(t, s, "https://example.com/long")) != 1 {
		t.Fatal("an entry with a one-hour ttl was dropped")
	}
	if len(mustGet(t, s, "https://example.com/none")) != 1 {
		t.Fatal("an entry with no ttl was dropped")
	}
}

func testSizeBound(t *testing.T, newStore Factory) {
	const bound = 64 << 10
	s := newStore(t, bound)
	if s == nil {
		t.Skip("the store has no byte bound")
	}
	const entries, bodySize = 64, 4 << 10
	for i := 0; i < entries; i++ {
		mustSet(t, s, "https://example.com/"+strconv.Itoa(i), NewEntry("", "e"+strconv.Itoa(i), bodySize), time.Hour)
	}
	var kept int64
	for i := 0; i < entries; i++ {
		for _, e := range mustGet(t, s, "https://example.com/"+strconv.Itoa(i)) {
			kept += e.Body.Size()
		}
	}
	if kept > bound {
		t.Fatalf("store holds %d body bytes, over its bound of %d", kept, bound)
	}
	if kept == 0 {
		t.Fatal("store kept nothing")
	}
	last := mustGetOne(t, s, "https://example.com/"+strconv.Itoa(entries-1)) // the most recent is kept
	CheckEntry(t, last, NewEntry("", "e"+strconv.Itoa(entries-1), bodySize))
}

// testConcurrency runs writers, readers and deleters on a few keys at once:
// a reader sees either nothing or one whole entry, never a mix.
func testConcurrency(t *testing.T, newStore Factory) {
	s := newStore(t, 0)
	const workers, rounds = 8, 100
	keys := []string{"https://example.com/c0", "https://example.com/c1", "https://example.com/c2"}
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			ctx := context.Background()
			for i := 0; i < rounds; i++ {
				key := keys[(w+i)%len(keys)]
				switch i % 4 {
				case 0, 1:
					id := fmt.Sprintf("w%d-%d", w, i)
					if err := s.Set(ctx, key, NewEntry("", id, 1000+w*10+i), time.Hour); err != nil {
						errs <- err
					}
				case 2:
					entries, err := s.Get(ctx, key)
					if err != nil {
						errs <- err
						continue
					}
					for _, e := range entries {
						if err := wholeEntry(e); err != nil {
							errs <- err
						}
					}
				case 3:
					if w%2 == 0 {
						if err := s.Delete(ctx, key); err != nil {
							errs <- err
						}
					}
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// PartitionKey returns the storage key of url in the partition named by
// fingerprint, as the Transport builds it: see httpcache.KeyURL.
func PartitionKey(url, fingerprint string) string { return url + "\x00" + fingerprint }

// fingerprint returns a partition fingerprint for tests, shaped as the
// Transport's (64 hexadecimal digits).
func fingerprint(i int) string { return fmt.Sprintf("%064x", i) }

// testPartitions: each partition of a URL is a key of its own; Delete
// removes one partition, DeleteURL every partition of its URL and nothing
// of another URL, even one that starts with the same characters.
func testPartitions(t *testing.T, newStore Factory) {
	s := newStore(t, 0)
	ctx := context.Background()
	url := "https://example.com/me"
	plain, alice, bob := url, PartitionKey(url, fingerprint(1)), PartitionKey(url, fingerprint(2))
	others := []string{"https://example.com/me2", PartitionKey("https://example.com/me2", fingerprint(1)),
		"https://example.com/me?x", PartitionKey("https://example.com/m", fingerprint(1))}
	for i, key := range append([]string{plain, alice, bob}, others...) {
		mustSet(t, s, key, NewEntry("", "p"+strconv.Itoa(i), 100), time.Hour)
	}
	CheckEntry(t, mustGetOne(t, s, plain), NewEntry("", "p0", 100))
	CheckEntry(t, mustGetOne(t, s, alice), NewEntry("", "p1", 100))
	CheckEntry(t, mustGetOne(t, s, bob), NewEntry("", "p2", 100))

	mustDeleteAll(t, s, alice)
	CheckEntry(t, mustGetOne(t, s, bob), NewEntry("", "p2", 100))
	CheckEntry(t, mustGetOne(t, s, plain), NewEntry("", "p0", 100))

	if err := s.DeleteURL(ctx, url); err != nil {
		t.Fatalf("DeleteURL(%q): %v", url, err)
	}
	for _, key := range []string{plain, alice, bob} {
		if got := mustGet(t, s, key); len(got) != 0 {
			t.Fatalf("DeleteURL left %d variants under %q", len(got), key)
		}
	}
	for i, key := range others {
		CheckEntry(t, mustGetOne(t, s, key), NewEntry("", "p"+strconv.Itoa(i+3), 100))
	}
}

// testManyPartitions: a thousand partitions of one URL (a thousand users)
// are all kept, none crowding out another, and DeleteURL removes them all.
func testManyPartitions(t *testing.T, newStore Factory) {
	s := newStore(t, 0)
	const users = 1000
	url := "https://example.com/profile"
	for i := 0; i < users; i++ {
		mustSet(t, s, PartitionKey(url, fingerprint(i)), NewEntry("", "u"+strconv.Itoa(i), 64), time.Hour)
	}
	for i := 0; i < users; i++ {
		CheckEntry(t, mustGetOne(t, s, PartitionKey(url, fingerprint(i))), NewEntry("", "u"+strconv.Itoa(i), 64))
	}
	if err := s.DeleteURL(context.Background(), url); err != nil {
		t.Fatalf("DeleteURL: %v", err)
	}
	for i := 0; i < users; i++ {
		if got := mustGet(t, s, PartitionKey(url, fingerprint(i))); len(got) != 0 {
			t.Fatalf("DeleteURL left user %d's entry", i)
		}
	}
}

func testDeleteURLMissing(t *testing.T, newStore Factory) {
	s := newStore(t, 0)
	if err := s.DeleteURL(context.Background(), "https://example.com/none"); err != nil {
		t.Fatalf("DeleteURL of a URL with nothing stored: %v", err)
	}
}

// wholeEntry checks that an entry's body is the one its header describes.
func wholeEntry(e *httpcache.Entry) error {
	r, err := e.Body.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	id := e.Header.Get("X-Entry")
	length, _ := strconv.Atoi(e.Header.Get("X-Body-Length"))
	want := NewEntry("", id, length)
	if !bytes.Equal(body, []byte(want.Body.(httpcache.BytesBody))) {
		return fmt.Errorf("entry %s: body does not match its header", id)
	}
	return nil
}
