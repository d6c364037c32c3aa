//go:build !race

package httpcache

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// A fresh hit costs three allocations (the response with its body reader
// and its header's values, the header map and the map's group), whatever else the Transport
// does for requests that go to the origin: an exchange that escapes to
// the heap on one path would cost every hit one more (it did, once, when
// the coalescer handed the caller's exchange to a func value).
func TestFreshHitAllocations(t *testing.T) {
	tr := New(WithTransport(newBenchOrigin(1<<10, "max-age=3600")))
	defer tr.Close()
	req := benchRequest(t)
	roundTripDrain(t, tr, req)
	if n := testing.AllocsPerRun(200, func() { roundTripDrain(t, tr, req) }); n > 3 {
		t.Fatalf("a fresh hit makes %v allocations, want 3", n)
	}
	// A header of a typical API response's size costs only what its map
	// does, and the response: its values fit in the served response's
	// room for them (newServedResponse).
	large := newBenchOrigin(1<<10, "max-age=3600")
	for i := range 10 {
		large.header["X-Field-"+strconv.Itoa(i)] = []string{strconv.Itoa(i)}
	}
	largeHits := New(WithTransport(large))
	defer largeHits.Close()
	roundTripDrain(t, largeHits, req)
	served := len(large.header) + 2 // Age, Cache-Status
	var sink http.Header
	mapAllocations := testing.AllocsPerRun(200, func() {
		sink = make(http.Header, served)
		for name, values := range large.header {
			sink[name] = values
		}
		sink["Age"], sink["Cache-Status"] = nil, nil
	})
	if n := testing.AllocsPerRun(200, func() { roundTripDrain(t, largeHits, req) }); n > mapAllocations+1 {
		t.Fatalf("a fresh hit with a header of %d fields makes %v allocations, want %v: its map's and the response", served, n, mapAllocations+1)
	}
	// A key not in canonical form that the cache does not read later
	// costs nothing: the request is not copied (withCanonicalKeys).
	req.Header["x-trace-id"] = []string{"abc"}
	if n := testing.AllocsPerRun(200, func() { roundTripDrain(t, tr, req) }); n > 3 {
		t.Fatalf("a fresh hit with a lower-case x-trace-id makes %v allocations, want 3", n)
	}
	// Nor does a gateway's Host, not the server dialled: the partition's
	// name is kept (partitioner.withDialTarget).
	req.Host = "gateway.example"
	roundTripDrain(t, tr, req)
	if n := testing.AllocsPerRun(200, func() { roundTripDrain(t, tr, req) }); n > 3 {
		t.Fatalf("a fresh hit through a gateway makes %v allocations, want 3", n)
	}
}

// A 304 revalidation costs at most 20 allocations (issue 19), of which the
// bench origin's own 304 makes 4: the conditional request (3), the
// coalescer (3: the flight with the leader's exchange in it, its identity,
// the storage key), the merged entry with its facts inline (1), its header
// and template (3), its place in the store (1), the served copy (4) and its
// Cache-Status (1). A withheld-field list built per call, a hit-for-pass
// lookup that copies the identity or an exchange allocated apart from its
// flight would each cost one more.
func TestRevalidationAllocations(t *testing.T) {
	tr, origin, req := newRevalidating(t)
	defer tr.Close()
	if n := testing.AllocsPerRun(200, func() { roundTripDrain(t, tr, req) }); n > 20 {
		t.Fatalf("a 304 revalidation makes %v allocations, want at most 20", n)
	}
	if origin.requests.Load() < 200 {
		t.Fatalf("origin saw %d requests: not revalidations", origin.requests.Load())
	}
}

// A miss whose 1 KiB response is stored costs at most 25 allocations
// (issue 19); 23 today.
func TestMissAndStoreAllocations(t *testing.T) {
	origin := newBenchOrigin(1<<10, "max-age=3600")
	tr := New(WithTransport(origin))
	defer tr.Close()
	reqs := make([]*http.Request, 300)
	for i := range reqs {
		reqs[i] = must(http.NewRequest(http.MethodGet, "https://api.example.com/v1/items/"+strconv.Itoa(i), nil))
	}
	i := 0
	if n := testing.AllocsPerRun(200, func() { roundTripDrain(t, tr, reqs[i]); i++ }); n > 25 {
		t.Fatalf("a miss makes %v allocations, want at most 25", n)
	}
	if int(origin.requests.Load()) != i {
		t.Fatalf("origin saw %d requests for %d misses", origin.requests.Load(), i)
	}
}

// A hit on an entry a store decodes for every Get (as Redis, the disk and
// the gregjones adapter do) parses its facts into the entry itself and
// keeps no Age/Cache-Status record for the second that follows, since the
// entry is never served again: each would cost one allocation more.
func TestDecodedHitAllocations(t *testing.T) {
	var mu sync.Mutex
	encoded := map[string][]byte{}
	store := newFakeStorage()
	store.set = func(_ context.Context, key string, e *Entry, _ time.Duration) error {
		data, err := MarshalEntry(e)
		mu.Lock()
		encoded[key] = data
		mu.Unlock()
		return err
	}
	store.get = func(_ context.Context, key string) ([]*Entry, error) {
		mu.Lock()
		data := encoded[key]
		mu.Unlock()
		if data == nil {
			return nil, nil
		}
		e, err := UnmarshalEntry(data)
		return []*Entry{e}, err
	}
	origin := newBenchOrigin(1<<10, "max-age=3600")
	tr := New(WithTransport(origin), WithStorage(store))
	defer tr.Close()
	req := benchRequest(t)
	roundTripDrain(t, tr, req)
	tr.waitForWrites()
	n := testing.AllocsPerRun(200, func() { roundTripDrain(t, tr, req) })
	if origin.requests.Load() != 1 {
		t.Fatalf("origin saw %d requests: not hits", origin.requests.Load())
	}
	if n > decodedHitAllocations {
		t.Fatalf("a hit on a decoded entry makes %v allocations, want at most %d", n, decodedHitAllocations)
	}
}

// decodedHitAllocations is what such a hit costs today: the store's decode
// (the Entry, its header map and values, the metadata's strings), the
// storage call's timeout context, the key's string, the served copy and
// its formatted Age and Cache-Status.
const decodedHitAllocations = 18
