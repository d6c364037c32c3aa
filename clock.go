package httpcache

import (
	"sync/atomic"
	"time"
)

// systemClock is the clock of a Transport without WithClock: time.Now, read
// for less. time.Now reads two clocks, the wall clock and the monotonic
// one; most readings here read only the monotonic clock and add what it
// has moved to the last time.Now, which is taken again once it is
// systemClockResync old. So a reading carries the monotonic clock exactly
// as time.Now's does (the memory store and the ages of this process's own
// entries use only that). Its wall time can miss a step of the wall clock,
// or a suspend, which the monotonic clock does not count, made within the
// last systemClockResync: for that long after an 8-hour suspend, the wall
// time is 8 hours behind, and an entry with only a wall time (from disk or
// Redis) looks that much younger. Every request reads the clock at least
// once; this halves what that costs (about 40 ns on a VM).
//
// A systemClock is safe for concurrent use.
type systemClock struct {
	base atomic.Pointer[time.Time]
}

// systemClockResync is how long a systemClock adds monotonic time to one
// reading of time.Now before it takes another.
const systemClockResync = 10 * time.Millisecond

// now returns the current time.
func (c *systemClock) now() time.Time {
	if base := c.base.Load(); base != nil {
		// time.Since of a reading with a monotonic clock reads only the
		// monotonic clock.
		if elapsed := time.Since(*base); elapsed >= 0 && elapsed < systemClockResync {
			return base.Add(elapsed)
		}
	}
	now := time.Now()
	c.base.Store(&now)
	return now
}
