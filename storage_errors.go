package httpcache

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// storageErrorInterval is how often a failing Storage is reported: during an
// outage every request fails to read or write, and one warning a second,
// with a count of the others, says as much as thousands.
const storageErrorInterval = time.Second

// storageErrorLog logs storage errors, at most one per operation per
// interval.
type storageErrorLog struct {
	logger *slog.Logger
	redact redactor
	count  func(op string) // counts every error, reported or not

	mu         sync.Mutex
	last       map[string]time.Time // by operation
	suppressed map[string]int
}

func newStorageErrorLog(logger *slog.Logger, redact redactor, count func(op string)) *storageErrorLog {
	return &storageErrorLog{logger: logger, redact: redact, count: count, last: make(map[string]time.Time), suppressed: make(map[string]int)}
}

// log reports that op failed for a cache key, unless op was reported less
// than an interval ago; then it is counted, and the count goes with the
// next report.
func (l *storageErrorLog) log(ctx context.Context, op, key string, err error) {
	l.count(op)
	now := time.Now()
	l.mu.Lock()
	if now.Sub(l.last[op]) < storageErrorInterval {
		l.suppressed[op]++
		l.mu.Unlock()
		return
	}
	l.last[op] = now
	suppressed := l.suppressed[op]
	l.suppressed[op] = 0
	l.mu.Unlock()
	l.logger.LogAttrs(ctx, slog.LevelWarn, "httpcache: storage "+op+" failed; the request goes on without the cache",
		slog.String("key", l.redact.key(key)), slog.Any("error", l.redact.err(err)), slog.Int("suppressed_since_last", suppressed))
}
