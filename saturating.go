package httpcache

import (
	"math"
	"time"
)

// Saturating arithmetic for the durations and sizes the cache adds up: an
// origin's far-off Date, a huge Age or a rule's TTL of math.MaxInt64 must
// give the largest value, never wrap around to a negative one (which would
// make a response fresh, or an entry expire at once).

// addDurations returns a+b, held at the bounds of time.Duration.
func addDurations(a, b time.Duration) time.Duration {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	if b < 0 && a < math.MinInt64-b {
		return math.MinInt64
	}
	return a + b
}

// addSizes returns a+b for non-negative sizes, held at math.MaxInt64.
func addSizes(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
