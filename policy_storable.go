package httpcache

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// Storing responses (RFC 9111 §3): whether a response may be stored, and
// the header stored (§3.1).

// understoodStatus reports whether this cache implements the caching
// requirements of a status code, for must-understand (§5.2.2.3).
func understoodStatus(status int) bool {
	switch status {
	case 200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// Reasons a response is not stored, reported in Cache-Status detail.
const (
	detailMethod         = "method"
	detailStatus         = "status"
	detailRequestNoStore = "request-no-store"
	detailNoStore        = "no-store"
	detailMustUnderstand = "must-understand"
	detailPrivate        = "private"
	detailAuthorization  = "authorization"
	detailVaryStar       = "vary-star"
	detailNotReusable    = "not-reusable"
	detailTooLarge       = "too-large"
	detailRule           = "rule" // a configured Rule forbids storing it
	detailSetCookie      = "set-cookie"
	// detailLostField: a field the cache needs to serve the response
	// would not be stored with it (policy.neededToServe).
	detailLostField = "lost-field"
	// detailKeptStored: a transient failure, storable itself, does not
	// replace the stored response it would outdate (transientFailure).
	detailKeptStored = "kept-stored"
)

// storable decides whether a response to a request with method, read as r,
// may be stored (RFC 9111 §3). When it may not, it returns the reason.
func (p *policy) storable(method string, r *cacheRequest, status int, f *responseFacts) (ok bool, reason string) {
	switch {
	case method != http.MethodGet:
		// HEAD responses freshen stored GETs (§4.3.5) but are not stored.
		return false, detailMethod
	case r.directives.noStore: // §5.2.1.5
		return false, detailRequestNoStore
	case status < 200 || status == http.StatusPartialContent || status == http.StatusNotModified:
		// §3: a final status; 206 and 304 are not stored as responses.
		return false, detailStatus
	case f.cc.mustUnderstand && !understoodStatus(status): // §5.2.2.3
		return false, detailMustUnderstand
	case f.cc.noStore && !(f.cc.mustUnderstand && understoodStatus(status)):
		// §5.2.2.5; must-understand with a known status overrides it (§5.2.2.3).
		return false, detailNoStore
	case p.shared && (f.cc.privateUnqualified || p.anyNeededToServe(f.cc.privateFields)): // §5.2.2.7
		return false, detailPrivate
	case f.lostNeededField:
		return false, detailLostField
	case p.shared && f.setsCookie:
		// A shared cache would replay one client's cookie to every other
		// (RFC 9111 §3 permits storing it; nginx and Varnish do not, and
		// neither does this cache unless told to store it stripped).
		return false, detailSetCookie
	case p.shared && (r.hasCredentials || r.hasAuthorization) &&
		!(f.cc.public || f.cc.sMaxAge.present || f.cc.mustRevalidate):
		// §3.5, for Authorization whatever the configuration, and for every
		// other field that carries credentials (partition.go).
		return false, detailAuthorization
	case f.varyStar: // §4.1: it could never be selected
		return false, detailVaryStar
	case f.rule != nil && f.rule.Bypass:
		return false, detailRule
	case f.rule != nil && !f.rule.cacheable(status):
		// The status is kept out, by the rule's CacheableStatuses.
		return false, detailStatus
	}
	// §3: the response must say it may be cached, or have a status that is
	// heuristically cacheable.
	explicit := f.cc.public || (!p.shared && f.cc.private) || f.expiresFound ||
		f.cc.maxAge.present || (p.shared && f.cc.sMaxAge.present) || f.hasLifetimeOverride
	if !explicit && !heuristicallyCacheable(status) {
		return false, detailStatus
	}
	return true, ""
}

// outdatesStored reports whether a response to a GET, one that is not
// stored itself (for reason), says the stored response of its key is no
// longer right, which must then not stay (RFC 9111 §4.3.3): a 200 that may
// not be stored, a 404 or a 410. Anything else leaves it: a 429, 408, 425
// or 5xx, a redirect, a response a configured rule keeps out of storage.
// A rate-limited or failing origin must not wipe the cache that protects
// it. ruled says a configured rule applies to the response: a status it
// keeps out of storage leaves the stored response too.
func outdatesStored(status int, reason string, ruled bool) bool {
	if reason == detailRule || ruled && reason == detailStatus {
		return false
	}
	switch status {
	case http.StatusOK, http.StatusNotFound, http.StatusGone:
		return true
	}
	return false
}

// transientFailure reports the statuses of an origin that fails for now:
// 408, 425, 429 and 5xx. Such a response, even one an origin marks
// storable (a site-wide Cache-Control on error pages is common), never
// replaces a stored response: a failing origin must not wipe the cache
// that protects it (promise 4).
func transientFailure(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	}
	return status >= 500 && status <= 599
}

// reusable reports whether a stored response could ever answer a request
// without a full request: it is fresh for a while, may be served stale, or
// can be revalidated. Storing anything else only fills the store.
func (p *policy) reusable(lifetime time.Duration, f *responseFacts) bool {
	return lifetime > 0 || f.etag != "" || !f.lastModified.IsZero() ||
		f.staleWhileRevalidate > 0 || f.staleIfError > 0
}

// hopByHopFields are never stored (RFC 9111 §3.1, RFC 9110 §7.6.1).
var hopByHopFields = canonicalNames(
	"Connection", "Proxy-Connection", "Keep-Alive", "TE", "Transfer-Encoding",
	"Upgrade", "Proxy-Authenticate", "Proxy-Authentication-Info", "Trailer",
)

// storedHeader returns the header to store for a response, without
// hop-by-hop fields and the fields Connection lists (§3.1), and sets facts
// to the facts parsed from it. The policy reads none of the fields
// removed, so the facts also serve to decide whether to store it.
func storedHeader(h http.Header, facts *responseFacts) http.Header {
	out := h.Clone()
	removeHopByHop(out)
	facts.parse(out)
	return out
}

// withoutCookies removes Set-Cookie and Set-Cookie2 from a header about
// to be stored, and updates its facts, where they must not be stored with
// it: in a private cache, whose hits never set a cookie again (a session
// cookie would be at rest in a disk file or Redis, and a hit would set
// back a cookie the origin has changed since; browsers' caches do not
// replay them either); under an Override rule, which stores what the
// origin did not mean to be shared; and in a shared cache told to store
// such responses stripped (WithStripSetCookie). A shared cache otherwise
// does not store them at all (storable). The response that carried them
// still reaches its caller whole.
func (p *policy) withoutCookies(h http.Header, f *responseFacts, rule *compiledRule) {
	if !f.setsCookie || !(!p.shared || p.stripSetCookie || rule != nil && rule.Override) {
		return
	}
	for _, name := range cookieFields {
		delete(h, name)
	}
	f.setsCookie = false
	f.template = newHeaderTemplate(h)
}

// withoutPrivateFields removes from a stored header, in a shared cache, the
// fields a qualified private names (§5.2.2.7), and the facts read from
// them, so that what the cache decides from the facts (a validator to
// send, a stored 304 to match, a cookie to refuse) agrees with the header
// it stores and reads back after a restart. A field the cache needs to
// serve the response (neededToServe) stays: storable refuses the response
// instead.
func (p *policy) withoutPrivateFields(h http.Header, f *responseFacts) {
	if !p.shared || len(f.cc.privateFields) == 0 {
		return
	}
	for _, name := range f.cc.privateFields {
		if !p.neededToServe(name) {
			delete(h, name)
		}
	}
	f.parseRemovableFields(h)
	f.template = newHeaderTemplate(h)
}

// servingFields are the fields without which a stored response could not
// be served as the origin meant it: its freshness (RFC 9111 §4.2), the
// requests it answers (§4.1), its bytes (RFC 9110 §8.4, §14.4).
var servingFields = []string{"Age", "Cache-Control", "Content-Encoding", "Content-Range", "Date", "Expires", "Vary"}

// neededToServe reports a canonical field name without which a stored
// response could not be served as the origin meant it: one of
// servingFields, or, in a shared cache, a targeted cache-control field it
// obeys (RFC 9213). A response that would be stored without one is not
// stored: one whose qualified private names it (§5.2.2.7 permits storing
// the rest, and requires nothing), whose Connection lists it (§3.1), or a
// 304 or HEAD update that withholds it (§3.2). Without Vary a stored
// response would answer every request, without Content-Encoding its
// bytes would be served as others, and without its directives its
// freshness would change once read back from a disk.
func (p *policy) neededToServe(name string) bool {
	return slices.Contains(servingFields, name) || p.shared && slices.Contains(p.targeted, name)
}

// anyNeededToServe reports whether names holds a field neededToServe.
func (p *policy) anyNeededToServe(names []string) bool {
	return slices.ContainsFunc(names, p.neededToServe)
}

// connectionListsNeeded reports whether a response's Connection lines
// list a field neededToServe, which storedHeader removes (§3.1).
func (p *policy) connectionListsNeeded(connection []string) bool {
	for _, line := range connection {
		for name := range strings.SplitSeq(line, ",") {
			if p.neededToServe(http.CanonicalHeaderKey(trimOWS(name))) {
				return true
			}
		}
	}
	return false
}

// removeHopByHop deletes the fields a cache never stores (§3.1).
func removeHopByHop(h http.Header) {
	connection := h["Connection"]
	for name := range h {
		if isHopByHop(name, connection) {
			delete(h, name)
		}
	}
}

// isHopByHop reports a field that is not stored (RFC 9111 §3.1): a
// hop-by-hop field, or one the message's Connection field lists.
func isHopByHop(canonicalName string, connection []string) bool {
	for _, name := range hopByHopFields {
		if name == canonicalName {
			return true
		}
	}
	return listedIn(connection, canonicalName)
}

// listedIn reports whether a Connection field's lines name a field.
func listedIn(connection []string, canonicalName string) bool {
	for _, line := range connection {
		for _, name := range strings.Split(line, ",") {
			if equalFoldASCII(trimOWS(name), canonicalName) {
				return true
			}
		}
	}
	return false
}

// canonicalNames returns field names in the form http.Header keys them by
// ("ETag" is keyed "Etag"), for lists used as map keys.
func canonicalNames(names ...string) []string {
	for i, name := range names {
		names[i] = http.CanonicalHeaderKey(name)
	}
	return names
}
