package httpcache

import (
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
)

// Stats is a snapshot of what a Transport did (Transport.Stats). Counters
// only grow; the queue figures are as they are at the snapshot.
type Stats struct {
	// Requests counts what the Transport did for requests, by outcome.
	// Each request counts once, with two exceptions: a stale hit whose
	// background revalidation (stale-while-revalidate) reaches the origin
	// also counts that revalidation's outcome; and callers that share one
	// coalesced revalidation count once (coalesced misses count once per
	// caller; Collapsed counts the callers that shared).
	Requests RequestCounts `json:"requests"`
	// Stored counts responses stored: their bodies arrived whole.
	Stored int64 `json:"stored"`
	// NotStored counts responses not stored, by reason: the Cache-Status
	// detail of those refused at once ("no-store", "private",
	// "set-cookie", ...), and, for those whose body did not arrive whole
	// after all, "body-closed-early" (closed before its end, and the rest
	// not drained), "body-too-large", "body-read-error" or
	// "body-wrong-length" (not the length it declared).
	NotStored map[string]int64 `json:"not_stored"`
	// Collapsed counts callers that shared another's request to the origin.
	Collapsed int64 `json:"collapsed"`
	// Background revalidations (stale-while-revalidate): started, failed,
	// and not started because one ran already or the limit was reached.
	BackgroundStarted int64 `json:"background_started"`
	BackgroundFailed  int64 `json:"background_failed"`
	BackgroundSkipped int64 `json:"background_skipped"`
	// StorageErrors counts failed storage calls by operation ("get",
	// "set", "delete", "delete url", "open body").
	StorageErrors map[string]int64 `json:"storage_errors"`
	// QueuedWrites and QueuedBytes are the entries waiting to be written
	// behind the requests.
	QueuedWrites int64 `json:"queued_writes"`
	QueuedBytes  int64 `json:"queued_bytes"`
	// BytesServed counts body bytes served from storage on hits.
	BytesServed int64 `json:"bytes_served"`
}

// RequestCounts are requests by what the cache did.
type RequestCounts struct {
	// FreshHits and StaleHits were served from storage; stale ones while
	// revalidated in the background (stale-while-revalidate).
	FreshHits int64 `json:"fresh_hits"`
	StaleHits int64 `json:"stale_hits"`
	// Misses found nothing stored; VaryMisses nothing for the request's
	// Vary fields.
	Misses     int64 `json:"misses"`
	VaryMisses int64 `json:"vary_misses"`
	// Revalidated304 were validated by the origin (304).
	Revalidated304 int64 `json:"revalidated_304"`
	// Revalidated were stale, and replaced by the origin's full response
	// (no validators, HEAD, or a changed resource).
	Revalidated int64 `json:"revalidated"`
	// StaleOnError were served stale because the origin failed (RFC 5861 §4).
	StaleOnError int64 `json:"stale_on_error"`
	// Backoff were answered without the origin, which asked to wait
	// (Retry-After), and, with the stored response, the requests whose
	// own answer from the origin started the back-off.
	Backoff int64 `json:"backoff"`
	// Bypassed were not for the cache; OtherMethods were not GET or HEAD.
	Bypassed     int64 `json:"bypassed"`
	OtherMethods int64 `json:"other_methods"`
	// OnlyIfCached504 asked for only-if-cached with nothing usable stored.
	OnlyIfCached504 int64 `json:"only_if_cached_504"`
}

// stats are a Transport's counters.
type stats struct {
	freshHits, staleHits, misses, varyMisses, revalidated304, revalidated     atomic.Int64
	staleOnError, backoff, bypassed, otherMethods, onlyIfCached504, collapsed atomic.Int64
	backgroundStarted, backgroundFailed, backgroundSkipped, bytesServed       atomic.Int64
	stored                                                                    atomic.Int64

	mu            sync.Mutex
	notStored     map[string]int64
	storageErrors map[string]int64
}

func countInto(m *map[string]int64, mu *sync.Mutex, name string) {
	mu.Lock()
	if *m == nil {
		*m = make(map[string]int64)
	}
	(*m)[name]++
	mu.Unlock()
}

func (s *stats) countNotStored(reason string) { countInto(&s.notStored, &s.mu, reason) }

func (s *stats) countStorageError(op string) { countInto(&s.storageErrors, &s.mu, op) }

// countHit counts a response served from storage without the origin.
func (s *stats) countHit(status CacheStatus, resp *http.Response) {
	if status.TTL < 0 { // served stale (RFC 9211 §2.3: a negative ttl)
		s.staleHits.Add(1)
	} else {
		s.freshHits.Add(1)
	}
	if resp != nil && resp.ContentLength > 0 && resp.Body != http.NoBody {
		s.bytesServed.Add(resp.ContentLength)
	}
}

// countForward counts a request going to the origin by why it goes.
func (s *stats) countForward(forward string) {
	switch forward {
	case ForwardURIMiss, ForwardMiss:
		s.misses.Add(1)
	case ForwardVaryMiss:
		s.varyMisses.Add(1)
	}
}

// countPassed counts a request sent on as it is (Transport.forward): a
// bypass, another method, or a range the cache cannot answer.
func (s *stats) countPassed(forward string) {
	switch forward {
	case ForwardBypass:
		s.bypassed.Add(1)
	case ForwardMethod:
		s.otherMethods.Add(1)
	default:
		s.countForward(forward)
	}
}

func (s *stats) snapshot() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Requests: RequestCounts{
			FreshHits: s.freshHits.Load(), StaleHits: s.staleHits.Load(),
			Misses: s.misses.Load(), VaryMisses: s.varyMisses.Load(),
			Revalidated304: s.revalidated304.Load(), Revalidated: s.revalidated.Load(),
			StaleOnError: s.staleOnError.Load(), Backoff: s.backoff.Load(),
			Bypassed: s.bypassed.Load(), OtherMethods: s.otherMethods.Load(), OnlyIfCached504: s.onlyIfCached504.Load(),
		},
		Stored:            s.stored.Load(),
		NotStored:         maps.Clone(s.notStored),
		Collapsed:         s.collapsed.Load(),
		BackgroundStarted: s.backgroundStarted.Load(),
		BackgroundFailed:  s.backgroundFailed.Load(),
		BackgroundSkipped: s.backgroundSkipped.Load(),
		StorageErrors:     maps.Clone(s.storageErrors),
		BytesServed:       s.bytesServed.Load(),
	}
}

// Stats returns a snapshot of the Transport's counters.
func (t *Transport) Stats() Stats {
	if t.check() != nil {
		return Stats{}
	}
	s := t.stats.snapshot()
	if t.writes != nil {
		s.QueuedWrites, s.QueuedBytes = t.writes.queued()
	}
	return s
}
