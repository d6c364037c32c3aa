package gregjones_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/gregjones"
	"github.com/c650553b/httpcache/storage/storagetest"
)

// Review (issue 18): WithKeyring(nil) must not give a Storage that
// silently writes in clear (NewEncryptedDiskStorage and
// redisstore.WithKeyring refuse a nil Keyring). A keyring that failed to
// load (keys, err := httpcache.NewKeyring(badKey); keys is nil) would
// otherwise put URLs, headers and bodies in the backend in clear. A
// panic at New, or a Storage that stores nothing, both keep the promise.
func TestEncReviewNilKeyringDoesNotWriteInClear(t *testing.T) {
	backend := newMapCache()
	keys, err := httpcache.NewKeyring([]byte("too short"))
	if err == nil || keys != nil {
		t.Fatalf("NewKeyring of a short key: %v, %v", keys, err)
	}
	var store *gregjones.Storage
	func() {
		defer func() { recover() }()
		store = gregjones.New(backend, gregjones.WithKeyring(keys))
	}()
	if store == nil {
		return // refused
	}
	func() {
		defer func() { recover() }()
		store.Set(context.Background(), "https://a.example/SECRET-PATH", storagetest.NewEntry("", "SECRET-BODY", 20), time.Hour)
	}()
	if dump := backend.dump(); strings.Contains(dump, "SECRET") {
		t.Fatalf("WithKeyring(nil) stores in clear: %q", dump)
	}
}

// Review (issue 18): after a rotation, an entry stored again moves to the
// new key, and so must the URL's and tags' indexes that list it. An
// index that the Set did not change (the entry stored again with an
// expiry no later than the one listed) stayed sealed by the old key under
// its old name; once the old key is dropped (the README: "once its
// entries have expired"; the entry had been rewritten) the index no
// longer opens, and DeleteURL and InvalidateTag miss an entry that is
// still served.
func TestEncReviewIndexesFollowTheRotation(t *testing.T) {
	ctx := context.Background()
	backend := newMapCache()
	oldKey, newKey := httpcache.NewKey(), httpcache.NewKey()
	url := "https://a.example/x"
	key := url + "\x00alice"
	tagged := func(id string) *httpcache.Entry {
		e := storagetest.NewEntry("", id, 10)
		e.Tags = []string{"t"}
		return e
	}
	before := gregjones.New(backend, gregjones.WithKeyring(newKeyring(t, oldKey)))
	if err := before.Set(ctx, key, tagged("first"), time.Hour); err != nil {
		t.Fatal(err)
	}
	rotated := gregjones.New(backend, gregjones.WithKeyring(newKeyring(t, newKey, oldKey)))
	if err := rotated.Set(ctx, key, tagged("second"), 10*time.Minute); err != nil { // a shorter lifetime
		t.Fatal(err)
	}
	after := gregjones.New(backend, gregjones.WithKeyring(newKeyring(t, newKey))) // the old key dropped
	if got, _ := after.Get(ctx, key); len(got) != 1 {
		t.Fatalf("%d entries under the new key", len(got))
	}
	var listed []string
	after.KeysTagged(ctx, "t", func(k string) bool { listed = append(listed, k); return true })
	if len(listed) != 1 || listed[0] != key {
		t.Errorf("KeysTagged after the old key was dropped: %q; want the entry stored under the new key", listed)
	}
	if err := after.DeleteURL(ctx, url); err != nil {
		t.Fatal(err)
	}
	if got, _ := after.Get(ctx, key); len(got) != 0 {
		t.Fatal("DeleteURL left a partition of the URL servable: its index is still sealed by the dropped key")
	}
}
