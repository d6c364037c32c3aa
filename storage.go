package httpcache

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"time"
	"unsafe"
)

// Storage keeps cached responses for a Transport. Implementations must be
// safe for concurrent use.
//
// A key names one resource as one partition sees it: the resource's URL as
// net/http sends the request (scheme, Host, request target; GET and HEAD
// share it) and, for a request with credentials, a NUL byte and a keyed
// fingerprint naming its partition (KeyURL and KeyPartition split it). A
// response to one partition's request is stored under that partition's
// key only. Under one key a store keeps one or more variants (RFC 9111
// §4.1), told apart by Entry.Variant: Set replaces the variant with the
// same Variant and keeps the others. A store may keep only
// a bounded number of variants per key and may drop any entry at any time;
// a cache that forgets is still correct.
//
// A store may also implement the optional interfaces LocalStorage,
// KeyBytesGetter and MemoryTiered, through which the Transport calls it
// with less overhead.
//
// The Transport never fails a request because of its Storage: an error from
// any method is logged and the request goes to the network.
type Storage interface {
	// Get returns the variants stored under key, or none (nil, nil) when
	// there are none. The returned slice and entries must not be modified.
	Get(ctx context.Context, key string) ([]*Entry, error)

	// Set stores entry under key, replacing a stored variant with the same
	// Variant. ttl is how long the entry is useful to the Transport
	// (freshness plus the windows in which a stale entry may still be served
	// or revalidated); stores with native expiry should use it. A ttl of zero
	// or less means no limit is known. The Storage owns entry after Set: the
	// caller does not modify it.
	Set(ctx context.Context, key string, entry *Entry, ttl time.Duration) error

	// Delete removes every variant stored under key: one partition's
	// response to a URL. Deleting a key that is not there is not an error.
	Delete(ctx context.Context, key string) error

	// DeleteURL removes every variant stored under every key whose URL
	// part (KeyURL) is url, in every partition, as an invalidation must
	// (RFC 9111 §4.4). A store that keeps keys with a partition apart from
	// the URL's (a file or a Redis key each) indexes them by URL.
	// Deleting a URL with nothing stored is not an error.
	DeleteURL(ctx context.Context, url string) error
}

// maxVariantsPerKey bounds how many variants the built-in stores
// (MemoryStorage, DiskStorage) keep for one key; the oldest stored goes
// first.
const maxVariantsPerKey = 32

// Entry is one stored response: its status, header, body and the times the
// Transport needs to compute its age (RFC 9111 §4.2.3).
type Entry struct {
	// Variant identifies this response among those stored under one key: the
	// normalised values, in the request that produced it, of the fields its
	// Vary header names. It is empty for a response without Vary.
	Variant string

	// StatusCode is the response's status code, such as 200.
	StatusCode int

	// Header is the stored response header, without hop-by-hop fields.
	Header http.Header

	// RequestTime is when the request that produced the response was sent,
	// ResponseTime when the response was received (RFC 9111 §4.2.3).
	RequestTime  time.Time
	ResponseTime time.Time

	// Body is the response body.
	Body Body

	// Tags are the response's cache tags (WithTagFields), set by the
	// Transport when it stores the entry, for a store that indexes them
	// (TagIndexer). They are not part of the encoded entry: an entry a
	// store decodes has none, and the Transport reads tags from Header.
	Tags []string

	// facts caches what the policy parses out of Header. Stores that keep
	// decoded entries (MemoryStorage) thereby parse a header once, not on
	// every hit. Entries are immutable once stored, so it never goes stale.
	facts atomic.Pointer[responseFacts]
	// ownFacts holds the facts facts points to, so that parsing them costs
	// no allocation of its own: written once, by the Transport before
	// anyone else sees an entry it made, or on first use by the caller
	// that claims it (ownFactsClaimed); a concurrent first use parses into
	// facts of its own.
	ownFacts        responseFacts
	ownFactsClaimed atomic.Bool
	// hit caches the Age and Cache-Status of plain hits for one second.
	hit atomic.Pointer[hitFields]
	// ruled caches the facts as the configured rule that applies to the
	// entry amends them (Transport.factsFor).
	ruled atomic.Pointer[responseFacts]
}

// Body is a stored response body that can be read any number of times.
// Stores that hold bodies in memory use BytesBody; a store that streams from
// files implements Body itself.
type Body interface {
	// Size is the body's length in bytes.
	Size() int64
	// Open returns a reader of the whole body from its start. Each call
	// returns a new, independent reader; the caller closes it.
	Open() (io.ReadCloser, error)
}

// BytesBody is a Body held in memory. Open does not copy it.
type BytesBody []byte

// Size returns len(b).
func (b BytesBody) Size() int64 { return int64(len(b)) }

// Open returns a reader over b that shares its bytes.
func (b BytesBody) Open() (io.ReadCloser, error) {
	r := &bytesBodyReader{}
	r.Reset(b)
	return r, nil
}

// bytesBodyReader is a bytes.Reader with a Close method, allocated once.
type bytesBodyReader struct{ bytes.Reader }

func (*bytesBodyReader) Close() error { return nil }

// bodyBytes returns a body's bytes without copying when it is a BytesBody,
// and by reading it otherwise.
func bodyBytes(b Body) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	if bb, ok := b.(BytesBody); ok {
		return bb, nil
	}
	r, err := b.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	buf := make([]byte, 0, b.Size())
	w := bytes.NewBuffer(buf)
	_, err = io.Copy(w, r)
	return w.Bytes(), err
}

// entrySize is what an entry costs in memory, for stores and queues
// bounded by bytes: the Entry, the facts the Transport keeps with it (its
// parsed header and the layout a hit copies from), the header map's slots
// and value slices, every string's bytes, and the body's capacity. The
// constants were measured (TestMemoryStorageHoldsItsBound), and include
// the allocator's size classes and a map's spare slots.
func entrySize(e *Entry) int64 {
	size := entryFixedCost + int64(len(e.Variant)) + headerSize(e.Header)
	// A hit keeps its Cache-Status on the entry (hitFields), and that
	// repeats the stored one, which the origin writes: count it again.
	for _, value := range e.Header["Cache-Status"] {
		size += int64(len(value)) + 2
	}
	// Tags share the header's bytes: their slice is the cost.
	size += int64(cap(e.Tags)) * stringHeaderSize
	if f := e.facts.Load(); f != nil {
		// Field names parsed out of the header, each a string of its own
		// (canonicalised or lowercased): at most maxFieldNames a list.
		names := len(f.cc.noCacheFields) + len(f.cc.privateFields) + len(f.varyNames)
		size += int64(names) * parsedNameCost
	}
	switch body := e.Body.(type) {
	case nil:
	case BytesBody:
		size += int64(cap(body))
	default:
		size += body.Size()
	}
	return size
}

// headerSize is what a header holds in memory: its fields, names, value
// slices and values.
func headerSize(h http.Header) int64 {
	size := int64(len(h)) * headerFieldCost
	for name, values := range h {
		size += int64(len(name)) + int64(cap(values))*stringHeaderSize
		for _, v := range values {
			size += int64(len(v))
		}
	}
	return size
}

const (
	stringHeaderSize = int64(unsafe.Sizeof(""))
	// entryFixedCost: the Entry (its own facts included), facts parsed
	// apart by a concurrent first use, a map's fixed part.
	entryFixedCost = int64(unsafe.Sizeof(Entry{})) + int64(unsafe.Sizeof(responseFacts{})) + 96
	// headerFieldCost: a field's map slot (key, value slice header and
	// control byte, at the map's load), and its entry in the header
	// layout of the facts (name and values again).
	headerFieldCost = 2*(stringHeaderSize+24) + 16
	// parsedNameCost: a field name parsed out of a header list, its string
	// header and its bytes in a small allocation.
	parsedNameCost = stringHeaderSize + 32
)
