package httpcache

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validation (RFC 9111 §4.3): conditional requests (§4.3.1), a caller's
// own conditional request (§4.3.2, RFC 9110 §13.2.2), and updating a stored
// response from a 304 (§4.3.4) or a HEAD response (§4.3.5).

// hasValidators reports whether a stored response can be validated: it has
// an ETag or a valid Last-Modified (RFC 9111 §4.3.1).
func hasValidators(e *Entry) bool {
	f := e.responseFacts()
	return f.etag != "" || !f.lastModified.IsZero()
}

// setValidators sets the validators of a stored response on an outgoing
// request (RFC 9111 §4.3.1): If-None-Match from ETag and If-Modified-Since
// from Last-Modified. The stored values are shared, not copied: a
// RoundTripper does not modify the request it is given. Each is read from
// the header, as well as checked in the facts, so that facts that outlived
// a removed field (a custom store's entry) never index an empty one.
func setValidators(out http.Header, e *Entry) {
	f := e.responseFacts()
	if etag := e.Header["Etag"]; f.etag != "" && len(etag) > 0 {
		out["If-None-Match"] = etag[:1:1]
	}
	if lastModified := e.Header["Last-Modified"]; len(lastModified) > 0 && !f.lastModified.IsZero() {
		out["If-Modified-Since"] = lastModified[:1:1]
	}
}

// conditionalRequest returns a copy of req that validates a stored entry
// (RFC 9111 §4.3.1): the caller's own validators, answered from the result,
// give way to the entry's. The copy has its own header map; its values are
// shared with req, which a RoundTripper does not modify.
func conditionalRequest(req *http.Request, e *Entry) *http.Request {
	out := new(http.Request)
	*out = *req
	out.Header = make(http.Header, len(req.Header)+2)
	for name, values := range req.Header {
		if name != "If-None-Match" && name != "If-Modified-Since" {
			out.Header[name] = values
		}
	}
	setValidators(out.Header, e)
	return out
}

// notModifiedMatches reports whether a 304 selects the stored response for
// update (RFC 9111 §4.3.4):
//   - a strong entity tag in the 304 selects a stored response with that
//     same strong tag only (a weak W/"x" is not the strong "x");
//   - a weak one selects a stored response whose tag matches it weakly;
//   - Last-Modified, without a tag, one with that same date;
//   - a 304 with no validator, a stored response without one either.
//
// A 304 that selects nothing must not update anything: the caller makes a
// full request.
func notModifiedMatches(notModified http.Header, e *Entry) bool {
	f := e.responseFacts()
	if etag := fieldValue(notModified, "Etag"); etag != "" {
		if f.etag == "" {
			return false
		}
		if strings.HasPrefix(etag, "W/") {
			return weakETagMatch(etag, f.etag)
		}
		return etag == f.etag
	}
	if lm := fieldValue(notModified, "Last-Modified"); lm != "" {
		t := parseHTTPDate(lm)
		return !t.IsZero() && t.Equal(f.lastModified)
	}
	return f.etag == "" && f.lastModified.IsZero()
}

// updatesStored reports whether a 304 the origin sent to a request made
// conditional by its caller, not by the cache, selects the stored response
// for update (§4.3.4): as notModifiedMatches says, and, for a 304 without
// a validator, only when the stored response, without one too, is alone
// under its key ("there is only one stored response in the initial set").
func updatesStored(notModified http.Header, e *Entry, alone bool) bool {
	validated := fieldValue(notModified, "Etag") != "" || fieldValue(notModified, "Last-Modified") != ""
	return (validated || alone) && notModifiedMatches(notModified, e)
}

// headMatches reports whether a HEAD response describes the same
// representation as a stored GET response (RFC 9111 §4.3.5: "matching
// values for any received validator fields (ETag and Last-Modified)" and
// Content-Length where the HEAD response has one): the validators the
// HEAD response carries agree with the stored ones, and it carries one at
// least when the stored response has one. A stored response without a
// validator, which HEAD is the way to freshen (§4.3.5: "no validators
// being present in the stored response"), is matched by Content-Length.
func headMatches(head http.Header, e *Entry) bool {
	f := e.responseFacts()
	received := false
	if etag := head.Get("ETag"); etag != "" {
		if etag != f.etag {
			return false
		}
		received = true
	}
	if lm := head.Get("Last-Modified"); lm != "" {
		if modified := parseHTTPDate(lm); modified.IsZero() || !modified.Equal(f.lastModified) {
			return false
		}
		received = true
	}
	if cl := head.Get("Content-Length"); cl != "" && cl != storedContentLength(e, f) {
		return false
	}
	return received || (f.etag == "" && f.lastModified.IsZero())
}

// headSaysNothing reports a HEAD response that carries none of the
// validators a stored GET response has, and no Content-Length that
// differs: it neither matches nor contradicts it (origins that compute an
// ETag from the body leave it off HEAD responses). It updates nothing, and
// the stored response stays as it was, its stale-if-error fallback with
// it.
func headSaysNothing(head http.Header, e *Entry) bool {
	f := e.responseFacts()
	if head.Get("ETag") != "" || head.Get("Last-Modified") != "" || f.etag == "" && f.lastModified.IsZero() {
		return false
	}
	cl := head.Get("Content-Length")
	return cl == "" || cl == storedContentLength(e, f)
}

// storedContentLength is the Content-Length of a stored response: its
// field, or, for one that had none (chunked), the length of its body,
// which is what a HEAD's Content-Length describes (RFC 9110 §8.6).
func storedContentLength(e *Entry, f *responseFacts) string {
	if f.contentLength != "" || e.Body == nil {
		return f.contentLength
	}
	return strconv.FormatInt(e.Body.Size(), 10)
}

// unmergeableFields are kept from the stored response when a 304 or a HEAD
// response updates it (RFC 9111 §3.2): the stored body determines them.
var unmergeableFields = canonicalNames("Content-Length", "Content-Encoding", "Content-Range")

// cookieFields set cookies: they belong to the response that carries them,
// for the one client it answers.
var cookieFields = canonicalNames("Set-Cookie", "Set-Cookie2")

// withheldFields are the fields of a 304 or HEAD response that must not
// update a stored entry, however it is stored: those that set cookies,
// and those a qualified private or no-cache names, in the stored response
// or in the update (§5.2.2.4, §5.2.2.7). They may answer the request that
// brought them, never a later one from storage. Reading them allocates
// nothing: a 304 asks twice, to merge and to serve.
type withheldFields struct {
	stored *cacheControl // the stored entry's directives
	update cacheControl  // the update's, when they differ
}

// withheldFrom returns the withheld fields of update for stored.
func withheldFrom(stored *Entry, update http.Header) withheldFields {
	w := withheldFields{stored: &stored.responseFacts().cc}
	switch lines := update["Cache-Control"]; {
	case len(lines) == 0:
	case slices.Equal(lines, stored.Header["Cache-Control"]):
		// An origin's 304 usually repeats the directives: they name
		// what the stored ones name.
	default:
		w.update = parseCacheControl(update)
	}
	return w
}

// has reports whether a canonical field name is withheld.
func (w *withheldFields) has(name string) bool {
	return slices.Contains(cookieFields, name) || w.stored.names(name) || w.update.names(name)
}

// mergedHeader is a stored header updated by a 304 or HEAD response
// (policy.mergeHeaders), with what the merge found out on the way.
type mergedHeader struct {
	header http.Header
	// template is header laid out for copying (headerTemplate).
	template headerTemplate
	// changed are the facts whose fields the update replaced, added or
	// removed: the rest carry over from the stored facts unparsed.
	changed factFields
	// lost reports that a withheld field is one the cache needs to serve
	// the merged response (policy.neededToServe), which is then not stored.
	lost bool
}

// mergeHeaders returns the stored header updated with the fields of a 304 or
// HEAD response (RFC 9111 §3.2, §4.3.4): each field present in update
// replaces the stored one, except hop-by-hop fields, those Connection lists,
// those the stored body depends on, and those withheld. The stored Age goes
// whether or not update has one: the response has just been validated at
// the origin, which is what an Age counts from (§5.1), and update's own
// Age, from a cache on the way, is the one that holds now.
//
// The result shares its values with both: stored headers are never
// modified. It is a copy of the stored map with the update's differences
// written over it, and its template the stored one with the new values
// where no field came or went: an origin's 304 usually repeats the stored
// fields and changes only Date.
func (p *policy) mergeHeaders(stored *Entry, update http.Header, withheld *withheldFields) mergedHeader {
	m := mergedHeader{header: maps.Clone(stored.Header)}
	if m.header == nil {
		m.header = make(http.Header, len(update))
	}
	sameNames := true // no field came or went: the template's layout holds
	replaced := false // a value changed
	if _, ok := m.header["Age"]; ok {
		delete(m.header, "Age")
		m.changed |= factAge
		sameNames = false
	}
	connection := update["Connection"]
	for name, values := range update {
		if isHopByHop(name, connection) || isUnmergeable(name) {
			continue
		}
		old, had := m.header[name]
		if withheld.has(name) {
			// The update's value answers only the request that brought it;
			// the stored one, which it replaces (§3.2: "all instances"),
			// is outdated: served again, a stored cookie would set back
			// the one the update set.
			if had {
				delete(m.header, name)
				m.changed |= factFieldOf(name)
				sameNames = false
			}
			m.lost = m.lost || p.neededToServe(name)
			continue
		}
		if had && slices.Equal(old, values) {
			continue
		}
		m.header[name] = values
		m.changed |= factFieldOf(name)
		sameNames = sameNames && had
		replaced = true
	}
	template := &stored.responseFacts().template
	if sameNames && !replaced {
		m.template = *template // read only: shared
		return m
	}
	m.template = template.updated(m.header, sameNames)
	return m
}

func isUnmergeable(canonicalName string) bool {
	for _, name := range unmergeableFields {
		if name == canonicalName {
			return true
		}
	}
	return false
}

// freshened returns a new entry: e updated by a 304 or HEAD response
// received for a request sent at requestTime, without its withheld fields,
// and, in a shared cache, without the fields a qualified private in the
// updated directives names (§5.2.2.7), which the stored response may have
// (stored when they were not private).
func (p *policy) freshened(e *Entry, update http.Header, requestTime, responseTime time.Time) *Entry {
	withheld := withheldFrom(e, update)
	m := p.mergeHeaders(e, update, &withheld)
	merged := &Entry{
		Variant:      e.Variant,
		StatusCode:   e.StatusCode,
		Header:       m.header,
		RequestTime:  requestTime,
		ResponseTime: responseTime,
		Body:         e.Body,
	}
	merged.ownFactsClaimed.Store(true)
	e.responseFacts().updateInto(&merged.ownFacts, &m)
	merged.ownFacts.lostNeededField = m.lost
	p.withoutPrivateFields(merged.Header, &merged.ownFacts)
	merged.facts.Store(&merged.ownFacts)
	return merged
}

// conditionalNotModified evaluates the caller's own conditional request
// against a response from the origin (RFC 9110 §13.2.2): true when a 304
// is the answer. If-None-Match takes precedence over If-Modified-Since.
func conditionalNotModified(req *http.Request, status int, h http.Header) bool {
	return notModified(req, status, h, parseHTTPDate(h.Get("Last-Modified")))
}

// storedNotModified is conditionalNotModified for a stored response: one
// without Last-Modified is compared by its Date (RFC 9111 §4.3.2).
func storedNotModified(req *http.Request, status int, h http.Header) bool {
	modified := parseHTTPDate(h.Get("Last-Modified"))
	if modified.IsZero() {
		modified = parseHTTPDate(h.Get("Date"))
	}
	return notModified(req, status, h, modified)
}

// notModified evaluates a conditional request against a response whose
// last modification is modified (zero when unknown).
func notModified(req *http.Request, status int, h http.Header, modified time.Time) bool {
	if status != http.StatusOK {
		return false
	}
	if inm := req.Header.Values("If-None-Match"); len(inm) > 0 {
		etag := h.Get("ETag")
		if etag == "" {
			return false
		}
		for _, line := range inm {
			for line != "" {
				// A comma inside quotes is a part of an entity tag: "a,b"
				// is one tag (RFC 9110 §8.8.3).
				var candidate string
				candidate, line, _ = nextListMember(line)
				candidate = trimOWS(candidate)
				if candidate == "*" || weakETagMatch(candidate, etag) {
					return true
				}
			}
		}
		return false
	}
	ims := parseHTTPDate(fieldValue(req.Header, "If-Modified-Since"))
	if ims.IsZero() || modified.IsZero() {
		return false
	}
	return !modified.After(ims)
}

// weakETagMatch is the weak comparison of RFC 9110 §8.8.3.2.
func weakETagMatch(a, b string) bool {
	return strings.TrimPrefix(a, "W/") == strings.TrimPrefix(b, "W/")
}

// notModifiedFields are the fields a 304 carries (RFC 9110 §15.4.5), with
// Age and Cache-Status.
var notModifiedFields = canonicalNames(
	"Cache-Control", "Content-Location", "Date", "ETag", "Expires", "Vary", "Last-Modified", "Age", "Cache-Status",
)
