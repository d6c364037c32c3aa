package httpcache

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// The policy: pure RFC 9111 and RFC 5861 decisions. Nothing here or in the
// policy_*.go files does I/O or reads the clock; every function takes the
// time it needs. This file holds the settings and the facts the policy
// reads from a response header; the rules are by RFC 9111 section:
// policy_storable.go (§3), policy_freshness.go (§4.2, with RFC 5861's stale
// windows), policy_validation.go (§4.3) and policy_invalidation.go (§4.4).

// policy holds the settings the rules depend on.
type policy struct {
	shared            bool
	heuristicFraction float64       // of the time since Last-Modified (§4.2.2)
	heuristicMax      time.Duration // cap on a heuristic lifetime
	// keepForRevalidation is how long past its freshness an entry with
	// validators stays useful: a conditional request can still save a body.
	keepForRevalidation time.Duration
	// keepStale is how long past its freshness an entry without
	// validators is kept, for max-stale requests, HEAD freshening (§4.3.5)
	// and stale windows (WithStaleRetention).
	keepStale time.Duration
	// stripSetCookie: a shared cache stores responses that set cookies
	// without their cookies (WithStripSetCookie) rather than not at all.
	stripSetCookie bool
	// targeted are the targeted cache-control fields a shared cache obeys
	// (RFC 9213), in order (WithTargetedCacheControl).
	targeted []string
}

// responseFacts is what the policy reads from a response header, parsed once.
type responseFacts struct {
	cc            cacheControl
	date          time.Time // zero when absent or invalid
	expiresFound  bool
	expires       time.Time // zero when invalid: an invalid Expires means stale (§5.3)
	lastModified  time.Time // zero when absent or invalid
	age           time.Duration
	etag          string
	contentLength string
	// contentEncoding is the response's content coding, lower case; empty
	// for none or identity. A response with one varies on Accept-Encoding
	// whatever its Vary says (contentVaryNames).
	contentEncoding string
	// setsCookie: the response has Set-Cookie or Set-Cookie2.
	setsCookie bool
	// lostNeededField: a field the cache needs to serve the response
	// (policy.neededToServe) is not in the header to store, which its
	// Connection listed or a 304 withheld; set by the steps that removed it.
	lostNeededField bool
	varyNames       []string
	varyStar        bool
	template        headerTemplate // for copying the header on a hit

	// The stale windows of RFC 5861: from the response's directives, or
	// from a rule.
	staleWhileRevalidate time.Duration
	staleIfError         time.Duration

	// Set by a rule (withRule): the lifetime it gives, and the rule itself.
	lifetimeOverride    time.Duration
	hasLifetimeOverride bool
	rule                *compiledRule
}

func parseResponseFacts(h http.Header) *responseFacts {
	f := new(responseFacts)
	f.parse(h)
	return f
}

// parse sets f, whatever it held, to the facts of h.
func (f *responseFacts) parse(h http.Header) {
	*f = responseFacts{cc: parseCacheControl(h)}
	f.setStaleWindows()
	f.date = parseHTTPDate(fieldValue(h, "Date"))
	f.expiresFound, f.expires = parseExpires(h)
	f.age = parseAge(h)
	f.contentEncoding = contentCoding(h)
	f.parseRemovableFields(h)
	f.varyNames, f.varyStar = contentVaryNames(h, f.contentEncoding)
	f.template = newHeaderTemplate(h)
}

// parseRemovableFields sets the facts read from fields a shared cache
// removes when a qualified private names them (withoutPrivateFields): the
// validators, Content-Length and the cookies.
func (f *responseFacts) parseRemovableFields(h http.Header) {
	f.lastModified = parseHTTPDate(fieldValue(h, "Last-Modified"))
	f.etag = fieldValue(h, "Etag")
	f.contentLength = fieldValue(h, "Content-Length")
	f.setsCookie = len(h["Set-Cookie"]) > 0 || len(h["Set-Cookie2"]) > 0
}

// contentCoding returns the last content coding of Content-Encoding (the
// outermost, RFC 9110 §8.4), lower case; empty for none or identity.
func contentCoding(h http.Header) string {
	lines := h["Content-Encoding"]
	if len(lines) == 0 {
		return ""
	}
	codings := strings.Split(lines[len(lines)-1], ",")
	coding := lowerASCII(trimOWS(codings[len(codings)-1]))
	if coding == "identity" {
		return ""
	}
	return coding
}

// contentVaryNames returns the Vary field names of a response, with
// accept-encoding added when it has a content coding: an origin that forgot
// Vary: Accept-Encoding must not have its gzip bytes served to a caller
// that relies on net/http's transparent decompression.
func contentVaryNames(h http.Header, coding string) (names []string, star bool) {
	names, star = varyFieldNames(h)
	if coding == "" {
		return names, star
	}
	if i, found := slices.BinarySearch(names, "accept-encoding"); !found {
		names = slices.Insert(names, i, "accept-encoding")
	}
	return names, star
}

// setStaleWindows sets the stale windows from the Cache-Control directives
// (RFC 5861 §3, §4).
func (f *responseFacts) setStaleWindows() {
	f.staleWhileRevalidate = deltaDuration(f.cc.staleWhileRevalidate)
	f.staleIfError = deltaDuration(f.cc.staleIfError)
}

// withRule returns the facts as a configured rule amends them: f itself
// when there is no rule. A rule's TTL gives a lifetime to a response that
// states none; with Override, the rule's lifetime and windows replace the
// response's Cache-Control and Expires, except private, which still keeps
// a response out of a shared cache.
func (p *policy) withRule(f *responseFacts, r *compiledRule) *responseFacts {
	if r == nil {
		return f
	}
	g := *f
	g.rule = r
	if r.Override {
		g.cc = cacheControl{present: true, private: f.cc.private, privateUnqualified: f.cc.privateUnqualified,
			privateFields: f.cc.privateFields, public: f.cc.public}
		g.expiresFound, g.expires = false, time.Time{}
		g.lifetimeOverride, g.hasLifetimeOverride = r.TTL, true
		g.staleWhileRevalidate, g.staleIfError = r.StaleWhileRevalidate, r.StaleIfError
		return &g
	}
	explicit := f.cc.maxAge.present || (p.shared && f.cc.sMaxAge.present) || f.expiresFound
	if r.TTL > 0 && !explicit {
		g.lifetimeOverride, g.hasLifetimeOverride = r.TTL, true
	}
	if !f.cc.staleWhileRevalidate.present {
		g.staleWhileRevalidate = r.StaleWhileRevalidate
	}
	if !f.cc.staleIfError.present {
		g.staleIfError = r.StaleIfError
	}
	return &g
}

// parseExpires reports whether h has Expires, and the time it gives: zero
// when invalid, which means already expired (§5.3). Expires is a single
// date: sent on several field lines, it is invalid.
func parseExpires(h http.Header) (found bool, expires time.Time) {
	values, found := h["Expires"]
	if len(values) == 1 {
		expires = parseHTTPDate(values[0])
	}
	return found, expires
}

// parseAge returns the Age of h: the first value counts, and an invalid one
// is ignored (§5.1).
func parseAge(h http.Header) time.Duration {
	if seconds, ok := parseDeltaSeconds(trimOWS(firstListMember(fieldValue(h, "Age")))); ok {
		return time.Duration(seconds) * time.Second
	}
	return 0
}

// updateInto sets g to the facts of a merged header (policy.mergeHeaders):
// the header f was parsed from, updated by a 304 or HEAD response. A fact
// whose fields the update did not change is carried over, not parsed
// again: an origin's 304 usually repeats Cache-Control, ETag and Vary and
// changes only Date.
func (f *responseFacts) updateInto(g *responseFacts, m *mergedHeader) {
	h, changed := m.header, m.changed
	*g = *f
	if changed&factCacheControl != 0 {
		g.cc = parseCacheControl(h)
		g.setStaleWindows()
	}
	if changed&factDate != 0 {
		g.date = parseHTTPDate(fieldValue(h, "Date"))
	}
	if changed&factExpires != 0 {
		g.expiresFound, g.expires = parseExpires(h)
	}
	if changed&factAge != 0 {
		g.age = parseAge(h)
	}
	if changed&factVary != 0 {
		g.varyNames, g.varyStar = contentVaryNames(h, g.contentEncoding)
	}
	if changed&factRemovable != 0 {
		g.parseRemovableFields(h)
	}
	g.template = m.template
}

// factFields is a set of the fields responseFacts are parsed from, as
// updateInto needs to know which changed.
type factFields uint8

const (
	factCacheControl factFields = 1 << iota
	factDate
	factExpires
	factAge
	factVary
	// factRemovable: the fields parseRemovableFields reads.
	factRemovable
)

// factFieldOf returns the fact a canonical field name is parsed into, if
// any.
func factFieldOf(name string) factFields {
	switch name {
	case "Cache-Control":
		return factCacheControl
	case "Date":
		return factDate
	case "Expires":
		return factExpires
	case "Age":
		return factAge
	case "Vary":
		return factVary
	case "Last-Modified", "Etag", "Content-Length", "Set-Cookie", "Set-Cookie2":
		return factRemovable
	}
	return 0
}

// responseFacts returns the entry's parsed header, parsing it on first use.
func (e *Entry) responseFacts() *responseFacts {
	if f := e.facts.Load(); f != nil {
		return f
	}
	return e.parseFacts()
}

// parseFacts parses the entry's facts on first use. The first to claim the
// entry's own facts parses into them; a concurrent first use parses into
// its own, and the first stored wins.
func (e *Entry) parseFacts() *responseFacts {
	var f *responseFacts
	if e.ownFactsClaimed.CompareAndSwap(false, true) {
		f = &e.ownFacts
		f.parse(e.Header)
	} else {
		f = parseResponseFacts(e.Header)
	}
	if !e.facts.CompareAndSwap(nil, f) {
		return e.facts.Load()
	}
	return f
}

func firstListMember(s string) string {
	if i := strings.IndexByte(s, ','); i >= 0 {
		return s[:i]
	}
	return s
}
