package httpcache

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Deletes the Storage did not confirm: an invalidation that failed (a
// Redis outage, a read-only disk) is not forgotten. Until a retry
// succeeds, the Transport serves nothing stored before the delete for
// that key or URL, and retries it in the background every retryInterval.

// failedDeleteRetry is how often failed deletes are retried.
const failedDeleteRetry = time.Second

// maxFailedDeletes bounds the deletes remembered; past it, the oldest is
// dropped (and logged): its entries may then be served again until they
// expire.
const maxFailedDeletes = 1 << 16

// failedDeletes remembers deletes to retry, by key and by URL.
type failedDeletes struct {
	count atomic.Int64 // len(keys) + len(urls), read without the lock on every hit

	mu      sync.Mutex
	keys    map[string]time.Time // key → when its delete failed
	urls    map[string]time.Time // URL → when its DeleteURL failed
	running bool
	closed  bool
	stop    chan struct{} // closed by close
	done    chan struct{} // closed when the retry goroutine ends
}

func newFailedDeletes() *failedDeletes {
	return &failedDeletes{keys: make(map[string]time.Time), urls: make(map[string]time.Time), stop: make(chan struct{})}
}

// filter drops the entries stored under key before a delete of the key, or
// of its URL, that has not been confirmed. It returns entries itself, not
// a copy, when nothing is remembered for them.
func (f *failedDeletes) filter(key []byte, entries []*Entry) []*Entry {
	if f.count.Load() == 0 || len(entries) == 0 {
		return entries
	}
	f.mu.Lock()
	at, ok := f.keys[string(key)]
	if urlAt, urlOK := f.urls[KeyURL(string(key))]; urlOK && (!ok || urlAt.After(at)) {
		at, ok = urlAt, true
	}
	f.mu.Unlock()
	if !ok {
		return entries
	}
	var kept []*Entry
	for _, e := range entries {
		if e.ResponseTime.After(at) {
			kept = append(kept, e) // stored after the delete: not what it removes
		}
	}
	return kept
}

// remember records a failed delete of a key (url false) or of every key of
// a URL, and starts the retries.
func (f *failedDeletes) remember(t *Transport, name string, url bool, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	set := f.keys
	if url {
		set = f.urls
	}
	if _, ok := set[name]; !ok && len(f.keys)+len(f.urls) >= maxFailedDeletes {
		f.dropOldestLocked()
	}
	set[name] = at
	f.count.Store(int64(len(f.keys) + len(f.urls)))
	if !f.running && !f.closed {
		f.running = true
		f.done = make(chan struct{})
		go f.retry(t)
	}
}

// confirm forgets a delete that has now succeeded.
func (f *failedDeletes) confirm(name string, url bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if url {
		delete(f.urls, name)
	} else {
		delete(f.keys, name)
	}
	f.count.Store(int64(len(f.keys) + len(f.urls)))
}

func (f *failedDeletes) dropOldestLocked() {
	var oldest string
	var oldestAt time.Time
	var isURL bool
	for k, at := range f.keys {
		if oldest == "" || at.Before(oldestAt) {
			oldest, oldestAt, isURL = k, at, false
		}
	}
	for u, at := range f.urls {
		if oldest == "" || at.Before(oldestAt) {
			oldest, oldestAt, isURL = u, at, true
		}
	}
	if isURL {
		delete(f.urls, oldest)
	} else {
		delete(f.keys, oldest)
	}
}

// retry retries the remembered deletes until none is left or close.
func (f *failedDeletes) retry(t *Transport) {
	ticker := time.NewTicker(failedDeleteRetry)
	defer ticker.Stop()
	// close ends a pass at once, and the storage call under way.
	ctx, cancel := context.WithCancel(context.Background())
	watcher := make(chan struct{})
	go func() {
		defer close(watcher)
		select {
		case <-f.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	// Deferred first, run last: done is closed only once the watcher has
	// ended too, so that no goroutine outlives close.
	defer close(f.done)
	defer func() { cancel(); <-watcher }()
	for {
		select {
		case <-ticker.C:
		case <-f.stop:
			return
		}
		f.mu.Lock()
		if f.closed || len(f.keys)+len(f.urls) == 0 {
			f.running = false
			f.mu.Unlock()
			return
		}
		keys, urls := mapKeys(f.keys), mapKeys(f.urls)
		f.mu.Unlock()
		for _, key := range keys {
			if ctx.Err() != nil {
				return
			}
			if t.deleteAt(ctx, key) == nil {
				f.confirm(key, false)
			}
		}
		for _, url := range urls {
			if ctx.Err() != nil {
				return
			}
			if t.deleteURLAt(ctx, url) == nil {
				f.confirm(url, true)
			}
		}
	}
}

// close stops the retries and waits for them to end. What is still
// remembered stays filtered out of reads.
func (f *failedDeletes) close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	close(f.stop)
	running, done := f.running, f.done
	f.mu.Unlock()
	if running {
		<-done
	}
}

func mapKeys(m map[string]time.Time) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}
