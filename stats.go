package httpcache

import (
	"maps"
	"sync"
	"sync/atomic"
)

// Stats is a snapshot of what a Transport did with the responses it saw
// (Transport.Stats). Counters only grow.
type Stats struct {
	// Stored counts responses stored: their bodies arrived whole.
	Stored int64
	// NotStored counts responses not stored, by reason: the Cache-Status
	// detail of those refused at once ("no-store", "private",
	// "set-cookie", ...), and, for those whose body did not arrive whole
	// after all, "body-closed-early", "body-too-large" or
	// "body-read-error".
	NotStored map[string]int64
}

// stats are a Transport's counters.
type stats struct {
	stored atomic.Int64

	mu        sync.Mutex
	notStored map[string]int64
}

func (s *stats) countNotStored(reason string) {
	s.mu.Lock()
	if s.notStored == nil {
		s.notStored = make(map[string]int64)
	}
	s.notStored[reason]++
	s.mu.Unlock()
}

func (s *stats) snapshot() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Stored: s.stored.Load(), NotStored: maps.Clone(s.notStored)}
}

// Stats returns a snapshot of the Transport's counters.
func (t *Transport) Stats() Stats {
	if t.check() != nil {
		return Stats{}
	}
	return t.stats.snapshot()
}
