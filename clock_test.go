package httpcache

import (
	"testing"
	"time"
)

// The system clock's readings lie between time.Now readings taken around
// them, on the monotonic clock and on the wall clock alike, and never go
// back.
func TestSystemClockReadsAsTimeNow(t *testing.T) {
	var c systemClock
	var last time.Time
	for i := range 1000 {
		before := time.Now()
		got := c.now()
		after := time.Now()
		if got.Before(before) || got.After(after) {
			t.Fatalf("reading %d: %v is not between %v and %v (monotonic)", i, got, before, after)
		}
		// Round(0) drops the monotonic reading: compare wall times. The
		// wall clock may be stepped while a test runs; a second is more
		// than any reading here departs from it otherwise.
		if wall := got.Round(0); wall.Before(before.Round(0).Add(-time.Second)) || wall.After(after.Round(0).Add(time.Second)) {
			t.Fatalf("reading %d: wall time %v is not near %v", i, wall, before.Round(0))
		}
		if i > 0 && got.Before(last) {
			t.Fatalf("reading %d went back: %v after %v", i, got, last)
		}
		last = got
	}
}

// A reading of time.Now older than systemClockResync is taken again; a
// younger one is reused.
func TestSystemClockRereadsTimeNow(t *testing.T) {
	var c systemClock
	first := c.now()
	kept := c.base.Load()
	if kept == nil || !kept.Equal(first) {
		t.Fatalf("the first reading %v is not the base (%v)", first, kept)
	}
	if c.now(); c.base.Load() != kept {
		t.Fatal("a base younger than systemClockResync was read again")
	}
	old := time.Now().Add(-2 * systemClockResync) // keeps its monotonic reading
	c.base.Store(&old)
	got := c.now()
	if c.base.Load() == &old {
		t.Fatal("a base older than systemClockResync was kept")
	}
	if got.Sub(old) < 2*systemClockResync {
		t.Fatalf("reading %v is not systemClockResync past the old base %v", got, old)
	}
}

// A Transport without WithClock reads the system clock; with WithClock,
// the clock given, and only it.
func TestTransportClock(t *testing.T) {
	tr := New(WithTransport(newBenchOrigin(1, "max-age=60")))
	defer tr.Close()
	if !tr.cfg.systemClock {
		t.Fatal("a Transport without WithClock is not on the system clock")
	}
	if got := tr.cfg.now(); time.Since(got) < 0 || time.Since(got) > time.Minute {
		t.Fatalf("the system clock reads %v", got)
	}
	fixed := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clocked := New(WithTransport(newBenchOrigin(1, "max-age=60")), WithClock(func() time.Time { return fixed }))
	defer clocked.Close()
	if got := clocked.cfg.now(); !got.Equal(fixed) {
		t.Fatalf("WithClock's Transport reads %v, want %v", got, fixed)
	}
}
