package redisstore_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/redisstore"
)

// TestDecodedEntryFollowsRedis: the entry a Store keeps decoded answers
// only while Redis holds the bytes it was decoded from. Another instance's
// write of the key (a new version of the response), or its delete, is seen
// on the next Get, decoded or not.
func TestDecodedEntryFollowsRedis(t *testing.T) {
	client := testRedis(t)
	prefix := testPrefix(t, client)
	for _, opts := range [][]redisstore.Option{nil, {redisstore.WithDecodedBytes(0)}} {
		ctx := context.Background()
		reader := newStore(client, append([]redisstore.Option{redisstore.WithPrefix(prefix)}, opts...)...)
		writer := newStore(client, redisstore.WithPrefix(prefix))
		key := "https://api.example.com/v1/profile"
		write := func(body string) {
			t.Helper()
			e := &httpcache.Entry{StatusCode: http.StatusOK, Header: http.Header{"Cache-Control": {"max-age=60"}},
				RequestTime: time.Now(), ResponseTime: time.Now(), Body: httpcache.BytesBody(body)}
			if err := writer.Set(ctx, key, e, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		read := func() string {
			t.Helper()
			entries, err := reader.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) == 0 {
				return "(none)"
			}
			r, err := entries[0].Body.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			b, _ := io.ReadAll(r)
			return string(b)
		}
		write("version 1")
		for range 2 { // decoded, then kept
			if got := read(); got != "version 1" {
				t.Fatalf("got %q, want version 1", got)
			}
		}
		write("version 2")
		if got := read(); got != "version 2" {
			t.Fatalf("after another instance's write: got %q, want version 2", got)
		}
		if err := writer.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if got := read(); got != "(none)" {
			t.Fatalf("after another instance's delete: got %q", got)
		}
	}
}
