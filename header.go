package httpcache

import (
	"net/http"
	"time"
)

// Header field access and copying on the hit path.

// fieldValue returns the first value of a field by its canonical name,
// without the canonicalisation http.Header.Get does on every call.
func fieldValue(h http.Header, canonicalName string) string {
	if values := h[canonicalName]; len(values) > 0 {
		return values[0]
	}
	return ""
}

// headerTemplate is a stored header laid out for copying: its names and
// values in slices, so that a copy neither ranges over a map nor counts.
type headerTemplate struct {
	names      []string
	values     [][]string
	valueCount int
}

func newHeaderTemplate(h http.Header) headerTemplate {
	t := headerTemplate{names: make([]string, 0, len(h)), values: make([][]string, 0, len(h))}
	for name, values := range h {
		t.names = append(t.names, name)
		t.values = append(t.values, values)
		t.valueCount += len(values)
	}
	return t
}

// clone returns a new header with the template's fields, every value slice
// its own, and spare room for extra one-value fields, all in one backing
// array: a copy costs two allocations whatever the header's size.
func (t *headerTemplate) clone(extra int) (header http.Header, spare []string) {
	backing := make([]string, t.valueCount+extra)
	header = make(http.Header, len(t.names)+extra)
	for i, name := range t.names {
		n := copy(backing, t.values[i])
		header[name] = backing[:n:n]
		backing = backing[n:]
	}
	return header, backing
}

// hitFields are the Age and Cache-Status values of a plain hit on an entry,
// kept for the second they are valid in: every hit in that second shares
// the strings (strings are immutable) instead of formatting its own.
type hitFields struct {
	name        string
	age, ttl    time.Duration // whole seconds
	ageValue    string
	cacheStatus string
}
