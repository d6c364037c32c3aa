//go:build !race

package redisstore_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/redisstore"
)

// TestHitAllocations: a 1 KiB hit through Redis costs at most 20
// allocations (issue 19), about half of them go-redis's own (the command,
// its reply, the pool's check of the connection). The entry is not decoded
// again: the Store keeps it (WithDecodedBytes), and the Transport's parsed
// header and Cache-Status with it.
func TestHitAllocations(t *testing.T) {
	client := testRedis(t)
	tr := httpcache.New(httpcache.WithTransport(origin{make([]byte, 1<<10)}),
		httpcache.WithStorage(newStore(client, redisstore.WithPrefix(testPrefix(t, client)))))
	req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/v1/items/42", nil)
	hit := func() {
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	hit()
	tr.Close() // the entry is written
	hit()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st, _ := httpcache.StatusOf(resp); !st.Hit {
		t.Fatal("not a hit")
	}
	if n := testing.AllocsPerRun(100, hit); n > 20 {
		t.Fatalf("a Redis hit makes %v allocations, want at most 20", n)
	}
}
