package httpcache

import (
	"io"
	"sync"
	"testing"
	"time"
)

// chunkBody hands out chunks in the order its lock is taken (like net/http's
// body, whose reads are serialized), but returns from Read only after delay[i]:
// the time a goroutine may take between the inner read and capturingBody's
// lock. Chunk 2 only "arrives" after 60 ms.
type chunkBody struct {
	mu     sync.Mutex
	chunks []string
	next   int
	delays map[int]time.Duration
	wait   map[int]time.Duration
}

func (b *chunkBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	i := b.next
	if i >= len(b.chunks) {
		b.mu.Unlock()
		return 0, io.EOF
	}
	time.Sleep(b.wait[i])
	b.next++
	n := copy(p, b.chunks[i])
	b.mu.Unlock()
	time.Sleep(b.delays[i])
	return n, nil
}

func (b *chunkBody) Close() error { return nil }

// A caller's Read racing its own Close (whose drain reads the rest) could
// append chunks in lock order, not stream order, and store "BBBBAAAACCCC"
// for a stream "AAAABBBBCCCC", of the right length. Overlapping reads must
// store nothing rather than bytes out of order. (Found by review.)
func TestCaptureOverlappingReadsStoreNothingOutOfOrder(t *testing.T) {
	body := &chunkBody{
		chunks: []string{"AAAA", "BBBB", "CCCC"},
		delays: map[int]time.Duration{0: 30 * time.Millisecond},
		wait:   map[int]time.Duration{2: 60 * time.Millisecond},
	}
	var stored []byte
	c := newCapturingBody(body, 12, 1<<20, bodyDrain{maxBytes: 64 << 10, timeout: time.Second},
		func(b []byte) { stored = append([]byte(nil), b...) }, nil)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		c.Read(make([]byte, 4)) // gets AAAA, appends it 30 ms later
	}()
	time.Sleep(5 * time.Millisecond)
	c.Close() // drains BBBB, CCCC
	<-readDone
	if stored != nil && string(stored) != "AAAABBBBCCCC" {
		t.Fatalf("stored body %q, the stream was %q", stored, "AAAABBBBCCCC")
	}
}
