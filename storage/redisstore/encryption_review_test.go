package redisstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/redisstore"
	"github.com/c650553b/httpcache/storage/storagetest"
)

// Review (issue 18): after a rotation, storing one variant of a key whose
// hash was written under the previous key keeps the key's other
// variants, as a Set does without a rotation: the previous key's hash is
// deleted by the Set, and its variants with it ("rotation without a cold
// cache").
func TestEncReviewRotationKeepsOtherVariants(t *testing.T) {
	client := testRedis(t)
	prefix := testPrefix(t, client)
	ctx := context.Background()
	oldKey, newKey := httpcache.NewKey(), httpcache.NewKey()
	before := redisstore.New(client, redisstore.WithPrefix(prefix), redisstore.WithKeyring(keyring(t, oldKey)))
	rotated := redisstore.New(client, redisstore.WithPrefix(prefix), redisstore.WithKeyring(keyring(t, newKey, oldKey)))
	for _, key := range []string{"https://a.example/vary", "https://a.example/vary\x00alice"} {
		for _, v := range []string{"a", "b"} {
			if err := before.Set(ctx, key, storagetest.NewEntry(v, v, 10), time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		if err := rotated.Set(ctx, key, storagetest.NewEntry("c", "c", 10), time.Hour); err != nil {
			t.Fatal(err)
		}
		entries, err := rotated.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		var variants []string
		for _, e := range entries {
			variants = append(variants, e.Variant)
		}
		slices.Sort(variants)
		if !slices.Equal(variants, []string{"a", "b", "c"}) {
			t.Fatalf("%q: after a rotation and one Set, the key holds %q; want the earlier variants kept", key, variants)
		}
	}
}
