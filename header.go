package httpcache

import (
	"net/http"
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

// headerTemplate is a stored header laid out for copying: its fields in a
// slice, so that a copy neither ranges over a map nor counts its values.
type headerTemplate struct {
	fields     []headerField
	valueCount int
}

type headerField struct {
	name   string
	values []string
}

func newHeaderTemplate(h http.Header) headerTemplate {
	t := headerTemplate{fields: make([]headerField, 0, len(h))}
	for name, values := range h {
		t.fields = append(t.fields, headerField{name, values})
		t.valueCount += len(values)
	}
	return t
}

// updated returns the template of h, a header with the template's fields,
// some of their values replaced, when sameNames says that no field came or
// went: the template's fields with h's values, found by name, without
// ranging over h. Otherwise it is made from h.
func (t *headerTemplate) updated(h http.Header, sameNames bool) headerTemplate {
	if !sameNames || len(t.fields) != len(h) {
		return newHeaderTemplate(h)
	}
	u := headerTemplate{fields: make([]headerField, len(t.fields))}
	for i, field := range t.fields {
		values, ok := h[field.name]
		if !ok {
			return newHeaderTemplate(h)
		}
		u.fields[i] = headerField{field.name, values}
		u.valueCount += len(values)
	}
	return u
}

// cloneInto returns a new header with the template's fields, every value
// slice its own, and spare room for extra one-value fields, all in one
// backing array: backing when it is long enough, else a new one. A copy
// costs two allocations whatever the header's size, one when the caller
// has room for its values.
func (t *headerTemplate) cloneInto(backing []string, extra int) (header http.Header, spare []string) {
	if len(backing) < t.valueCount+extra {
		backing = make([]string, t.valueCount+extra)
	}
	header = make(http.Header, len(t.fields)+extra)
	for i := range t.fields {
		field := &t.fields[i]
		n := len(field.values)
		if n == 1 {
			backing[0] = field.values[0] // most fields: no call to copy
		} else {
			copy(backing, field.values)
		}
		header[field.name] = backing[:n:n]
		backing = backing[n:]
	}
	return header, backing
}
