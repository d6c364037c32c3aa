//go:build !race

package httpcache

import "testing"

// A fresh hit costs its four allocations (the response, its body reader,
// the header map and the header's values), whatever else the Transport
// does for requests that go to the origin: an exchange that escapes to
// the heap on one path would cost every hit one more (it did, once, when
// the coalescer handed the caller's exchange to a func value).
func TestFreshHitAllocations(t *testing.T) {
	tr := New(WithTransport(newBenchOrigin(1<<10, "max-age=3600")))
	defer tr.Close()
	req := benchRequest(t)
	roundTripDrain(t, tr, req)
	if n := testing.AllocsPerRun(200, func() { roundTripDrain(t, tr, req) }); n > 4 {
		t.Fatalf("a fresh hit makes %v allocations, want 4", n)
	}
}
