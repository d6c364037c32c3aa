package gregjones_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/gregjones"
	ghttpcache "github.com/gregjones/httpcache"
)

// TestDecodedEntryFollowsTheBackend: the entries a Storage keeps decoded
// answer only while the backend holds the bytes they were decoded from.
// Another instance's write of the key (a new version), or its delete, is
// seen on the next Get.
func TestDecodedEntryFollowsTheBackend(t *testing.T) {
	backend := ghttpcache.NewMemoryCache()
	reader, writer := gregjones.New(backend), gregjones.New(backend)
	ctx := context.Background()
	const key = "https://api.example.com/v1/profile"
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

// TestWithDecodedBytes: by default a value read twice is answered by the
// entry decoded the first time; WithDecodedBytes(0) decodes it each time;
// a negative size is refused, by every operation.
func TestWithDecodedBytes(t *testing.T) {
	ctx := context.Background()
	const key = "https://api.example.com/v1/item"
	entry := &httpcache.Entry{StatusCode: http.StatusOK, Header: http.Header{"Cache-Control": {"max-age=60"}},
		RequestTime: time.Now(), ResponseTime: time.Now(), Body: httpcache.BytesBody("body")}
	for _, tc := range []struct {
		opts []gregjones.Option
		same bool
	}{
		{nil, true},
		{[]gregjones.Option{gregjones.WithDecodedBytes(0)}, false},
	} {
		s := gregjones.New(ghttpcache.NewMemoryCache(), tc.opts...)
		if err := s.Set(ctx, key, entry, time.Minute); err != nil {
			t.Fatal(err)
		}
		first, err1 := s.Get(ctx, key)
		second, err2 := s.Get(ctx, key)
		if err1 != nil || err2 != nil || len(first) != 1 || len(second) != 1 {
			t.Fatalf("Get: %v, %v, %d and %d entries", err1, err2, len(first), len(second))
		}
		if same := first[0] == second[0]; same != tc.same {
			t.Errorf("%d options: the second Get's entry is the first's: %v, want %v", len(tc.opts), same, tc.same)
		}
	}
	s := gregjones.New(ghttpcache.NewMemoryCache(), gregjones.WithDecodedBytes(-1))
	if err := s.Set(ctx, key, entry, time.Minute); err == nil || err.Error() != "gregjones: WithDecodedBytes: -1 is negative" {
		t.Fatalf("Set with WithDecodedBytes(-1): %v", err)
	}
}
