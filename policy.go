package httpcache

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The policy: pure RFC 9111 decisions. Nothing here does I/O or reads the
// clock; every function takes the time it needs.

// policy holds the settings the rules depend on.
type policy struct {
	shared            bool
	heuristicFraction float64       // of the time since Last-Modified (§4.2.2)
	heuristicMax      time.Duration // cap on a heuristic lifetime
	// keepForRevalidation is how long past its freshness an entry with
	// validators stays useful: a conditional request can still save a body.
	keepForRevalidation time.Duration
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
	varyNames     []string
	varyStar      bool
	template      headerTemplate // for copying the header on a hit

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
	f := &responseFacts{cc: parseCacheControl(h)}
	f.setStaleWindows()
	f.date = parseHTTPDate(fieldValue(h, "Date"))
	f.expiresFound, f.expires = parseExpires(h)
	f.lastModified = parseHTTPDate(fieldValue(h, "Last-Modified"))
	f.age = parseAge(h)
	f.etag = fieldValue(h, "Etag")
	f.contentLength = fieldValue(h, "Content-Length")
	f.varyNames, f.varyStar = varyFieldNames(h)
	f.template = newHeaderTemplate(h)
	return f
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
func (f *responseFacts) withRule(r *compiledRule, shared bool) *responseFacts {
	if r == nil {
		return f
	}
	g := *f
	g.rule = r
	if r.Override {
		g.cc = cacheControl{present: true, private: f.cc.private, privateFields: f.cc.privateFields, public: f.cc.public}
		g.expiresFound, g.expires = false, time.Time{}
		g.lifetimeOverride, g.hasLifetimeOverride = r.TTL, true
		g.staleWhileRevalidate, g.staleIfError = r.StaleWhileRevalidate, r.StaleIfError
		return &g
	}
	explicit := f.cc.maxAge.present || (shared && f.cc.sMaxAge.present) || f.expiresFound
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
// when invalid, which means already expired (§5.3).
func parseExpires(h http.Header) (found bool, expires time.Time) {
	values, found := h["Expires"]
	if len(values) > 0 {
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

// updated returns the facts of newHeader, the header f was parsed from
// (oldHeader) updated by a 304 or HEAD response. A fact whose fields have the
// same values in both is carried over, not parsed again: an origin's 304
// usually repeats Cache-Control, ETag and Vary and changes only Date.
func (f *responseFacts) updated(oldHeader, newHeader http.Header) *responseFacts {
	changed := func(name string) bool { return !slices.Equal(oldHeader[name], newHeader[name]) }
	g := *f
	if changed("Cache-Control") {
		g.cc = parseCacheControl(newHeader)
		g.setStaleWindows()
	}
	if changed("Date") {
		g.date = parseHTTPDate(fieldValue(newHeader, "Date"))
	}
	if changed("Expires") {
		g.expiresFound, g.expires = parseExpires(newHeader)
	}
	if changed("Last-Modified") {
		g.lastModified = parseHTTPDate(fieldValue(newHeader, "Last-Modified"))
	}
	if changed("Age") {
		g.age = parseAge(newHeader)
	}
	if changed("Vary") {
		g.varyNames, g.varyStar = varyFieldNames(newHeader)
	}
	g.etag = fieldValue(newHeader, "Etag")
	g.contentLength = fieldValue(newHeader, "Content-Length")
	g.template = newHeaderTemplate(newHeader)
	return &g
}

// responseFacts returns the entry's parsed header, parsing it on first use.
func (e *Entry) responseFacts() *responseFacts {
	if f := e.facts.Load(); f != nil {
		return f
	}
	f := parseResponseFacts(e.Header)
	e.facts.Store(f)
	return f
}

// parseHTTPDate parses an HTTP-date (RFC 9110 §5.6.7), returning the zero
// time for an invalid one. IMF-fixdate, the only form senders may
// generate, is parsed directly; the obsolete forms go to http.ParseTime.
func parseHTTPDate(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	if t, ok := parseIMFFixdate(s); ok {
		return t
	}
	t, err := http.ParseTime(s)
	if err != nil {
		return time.Time{}
	}
	return t
}

var monthNames = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// parseIMFFixdate parses "Sun, 06 Nov 1994 08:49:37 GMT". It reports false
// for anything it does not parse exactly as http.ParseTime would, leaving
// that to http.ParseTime.
func parseIMFFixdate(s string) (time.Time, bool) {
	if len(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
		s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25:] != " GMT" {
		return time.Time{}, false
	}
	day, ok1 := digits(s[5:7])
	year, ok2 := digits(s[12:16])
	hour, ok3 := digits(s[17:19])
	minute, ok4 := digits(s[20:22])
	second, ok5 := digits(s[23:25])
	month := 0
	for i, name := range monthNames {
		if s[8:11] == name {
			month = i + 1
		}
	}
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || month == 0 || day < 1 || hour > 23 || minute > 59 || second > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, 0, time.UTC)
	// time.Date normalises 31 Feb into March; such a date is not valid, and
	// the weekday must be the date's.
	if t.Day() != day || t.Weekday().String()[:3] != s[:3] {
		return time.Time{}, false
	}
	return t, true
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

func firstListMember(s string) string {
	if i := strings.IndexByte(s, ','); i >= 0 {
		return s[:i]
	}
	return s
}

// heuristicallyCacheable lists the status codes RFC 9110 §15.1 defines as
// heuristically cacheable.
func heuristicallyCacheable(status int) bool {
	switch status {
	case 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

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
)

// storable decides whether a response may be stored (RFC 9111 §3). When it
// may not, it returns the reason.
func (p policy) storable(req *http.Request, reqCC cacheControl, status int, f *responseFacts) (ok bool, reason string) {
	switch {
	case req.Method != http.MethodGet:
		// HEAD responses freshen stored GETs (§4.3.5) but are not stored.
		return false, detailMethod
	case reqCC.noStore: // §5.2.1.5
		return false, detailRequestNoStore
	case status < 200 || status == http.StatusPartialContent || status == http.StatusNotModified:
		// §3: a final status; 206 and 304 are not stored as responses.
		return false, detailStatus
	case f.cc.mustUnderstand && !understoodStatus(status): // §5.2.2.3
		return false, detailMustUnderstand
	case f.cc.noStore && !(f.cc.mustUnderstand && understoodStatus(status)):
		// §5.2.2.5; must-understand with a known status overrides it (§5.2.2.3).
		return false, detailNoStore
	case p.shared && f.cc.private && len(f.cc.privateFields) == 0: // §5.2.2.7
		return false, detailPrivate
	case p.shared && fieldValue(req.Header, "Authorization") != "" &&
		!(f.cc.public || f.cc.sMaxAge.present || f.cc.mustRevalidate): // §3.5
		return false, detailAuthorization
	case f.varyStar: // §4.1: it could never be selected
		return false, detailVaryStar
	case f.rule != nil && (f.rule.Bypass || !f.rule.cacheable(status)):
		return false, detailRule
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

// reusable reports whether a stored response could ever answer a request
// without a full request: it is fresh for a while, may be served stale, or
// can be revalidated. Storing anything else only fills the store.
func (p policy) reusable(lifetime time.Duration, f *responseFacts) bool {
	return lifetime > 0 || f.etag != "" || !f.lastModified.IsZero() ||
		f.staleWhileRevalidate > 0 || f.staleIfError > 0
}

// freshnessLifetime computes how long a response is fresh (RFC 9111 §4.2.1),
// falling back to a heuristic (§4.2.2).
func (p policy) freshnessLifetime(e *Entry, f *responseFacts) time.Duration {
	if f.hasLifetimeOverride {
		return f.lifetimeOverride // a configured rule's
	}
	if p.shared && f.cc.sMaxAge.present {
		return deltaDuration(f.cc.sMaxAge)
	}
	if f.cc.maxAge.present {
		return deltaDuration(f.cc.maxAge)
	}
	if f.expiresFound {
		if f.expires.IsZero() {
			return 0 // §5.3: an invalid date means already expired
		}
		base := f.date
		if base.IsZero() {
			base = e.ResponseTime
		}
		return max(0, f.expires.Sub(base))
	}
	return p.heuristicLifetime(e, f)
}

// heuristicLifetime is §4.2.2: a fraction of the time since Last-Modified,
// for responses that allow it, capped.
func (p policy) heuristicLifetime(e *Entry, f *responseFacts) time.Duration {
	if !heuristicallyCacheable(e.StatusCode) && !f.cc.public {
		return 0
	}
	if f.lastModified.IsZero() {
		return 0
	}
	base := f.date
	if base.IsZero() {
		base = e.ResponseTime
	}
	sinceModified := base.Sub(f.lastModified)
	if sinceModified <= 0 {
		return 0
	}
	return min(time.Duration(float64(sinceModified)*p.heuristicFraction), p.heuristicMax)
}

// deltaDuration converts a delta-seconds directive; an invalid value counts
// as zero, so the response is stale (§4.2.1 encourages that).
func deltaDuration(d deltaSeconds) time.Duration {
	if d.invalid {
		return 0
	}
	return time.Duration(d.seconds) * time.Second
}

// currentAge computes the age of a stored response now (RFC 9111 §4.2.3).
func currentAge(e *Entry, f *responseFacts, now time.Time) time.Duration {
	var apparentAge time.Duration
	if !f.date.IsZero() {
		apparentAge = max(0, e.ResponseTime.Sub(f.date))
	}
	responseDelay := max(0, e.ResponseTime.Sub(e.RequestTime))
	correctedAgeValue := f.age + responseDelay
	correctedInitialAge := max(apparentAge, correctedAgeValue)
	residentTime := max(0, now.Sub(e.ResponseTime))
	return correctedInitialAge + residentTime
}

// action is what the cache does with a stored response.
type action int

const (
	actionServe      action = iota // serve it as it is: fresh, or stale where allowed
	actionRevalidate               // validate it with the origin first
	actionServeStale               // serve it stale and revalidate it in the background (RFC 5861 §3)
)

// decision is the outcome of evaluating a request against a stored response.
type decision struct {
	action   action
	age      time.Duration
	lifetime time.Duration
	// forward is the Cache-Status fwd reason when action is revalidate:
	// "stale" or "request".
	forward string
}

// ttl is the remaining freshness, negative when stale (RFC 9211 §2.4).
func (d decision) ttl() time.Duration { return d.lifetime - d.age }

// evaluate decides whether a stored response may answer a request now
// (RFC 9111 §4), taking the request's directives (§5.2.1) into account. f
// is the entry's facts, as a rule may have amended them.
func (p policy) evaluate(reqCC cacheControl, e *Entry, f *responseFacts, now time.Time) decision {
	d := decision{action: actionServe, age: currentAge(e, f, now), lifetime: p.freshnessLifetime(e, f)}
	fresh := d.age < d.lifetime
	revalidate := func(reason string) decision {
		d.action, d.forward = actionRevalidate, reason
		return d
	}
	// §5.2.2.4: unqualified no-cache requires validation on every use.
	if f.cc.noCache && len(f.cc.noCacheFields) == 0 {
		return revalidate("stale")
	}
	// §5.2.1.4 (and §5.4 for Pragma): the client asks for validation.
	if reqCC.noCache {
		return revalidate("request")
	}
	// §5.2.1.1: max-age bounds the age the client accepts. RFC 8246: an
	// immutable response is not revalidated while fresh (a reload's max-age=0).
	if reqCC.maxAge.present && d.age > deltaDuration(reqCC.maxAge) && !(fresh && f.cc.immutable) {
		return revalidate("request")
	}
	// §5.2.1.3: min-fresh asks for a response that stays fresh a while longer.
	if reqCC.minFresh.present && !reqCC.minFresh.invalid && d.lifetime-d.age < deltaDuration(reqCC.minFresh) {
		return revalidate("request")
	}
	if fresh {
		return d
	}
	// §4.2.4: a stale response is served only where nothing forbids it and
	// the client accepts it (max-stale, §5.2.1.2).
	if p.mustRevalidateWhenStale(f) {
		return revalidate("stale")
	}
	if reqCC.maxStale.present && !reqCC.maxStale.invalid && d.age-d.lifetime <= deltaDuration(reqCC.maxStale) {
		return d
	}
	// RFC 5861 §3: within stale-while-revalidate, serve it now and
	// revalidate in the background.
	if f.staleWhileRevalidate > 0 && d.age-d.lifetime <= f.staleWhileRevalidate {
		d.action, d.forward = actionServeStale, ForwardStale
		return d
	}
	return revalidate("stale")
}

// mayServeStaleOnError reports whether a stored response that was to be
// revalidated may answer instead when the origin fails (RFC 5861 §4): within
// the stale-if-error window of the response (or rule) or of the request,
// and only when it went to the origin because it was stale: not because
// the client asked for a new response, and not where a directive forbids
// serving it stale (RFC 9111 §4.2.4: no-cache, must-revalidate, and in a
// shared cache proxy-revalidate and s-maxage).
func (p policy) mayServeStaleOnError(reqCC cacheControl, e *Entry, f *responseFacts, now time.Time) (decision, bool) {
	d := decision{action: actionServe, age: currentAge(e, f, now), lifetime: p.freshnessLifetime(e, f), forward: ForwardStale}
	if reqCC.noCache || (f.cc.noCache && len(f.cc.noCacheFields) == 0) || p.mustRevalidateWhenStale(f) {
		return d, false
	}
	window := f.staleIfError
	if reqCC.staleIfError.present && !reqCC.staleIfError.invalid {
		window = max(window, deltaDuration(reqCC.staleIfError))
	}
	return d, window > 0 && d.age-d.lifetime <= window
}

// mustRevalidateWhenStale reports whether the response forbids serving it
// stale (§5.2.2.2 must-revalidate, §5.2.2.8 proxy-revalidate and §5.2.2.10
// s-maxage in a shared cache).
func (p policy) mustRevalidateWhenStale(f *responseFacts) bool {
	return f.cc.mustRevalidate || (p.shared && (f.cc.proxyRevalidate || f.cc.sMaxAge.present))
}

// storageTTL is how long a stored response stays useful: its remaining
// freshness, its stale windows (RFC 5861), and with validators a while
// longer, since a conditional request can still save the body.
func (p policy) storageTTL(d decision, f *responseFacts) time.Duration {
	ttl := max(0, d.ttl())
	ttl += max(f.staleWhileRevalidate, f.staleIfError)
	if f.etag != "" || !f.lastModified.IsZero() {
		ttl += p.keepForRevalidation
	}
	return max(ttl, time.Second)
}

// hopByHopFields are never stored (RFC 9111 §3.1, RFC 9110 §7.6.1).
var hopByHopFields = canonicalNames(
	"Connection", "Proxy-Connection", "Keep-Alive", "TE", "Transfer-Encoding",
	"Upgrade", "Proxy-Authenticate", "Proxy-Authentication-Info", "Trailer",
)

// storedHeader returns the header to store for a response, without
// hop-by-hop fields and the fields Connection lists (§3.1), and the facts
// parsed from it. The policy reads none of the fields removed, so the facts
// also serve to decide whether to store it.
func storedHeader(h http.Header) (http.Header, *responseFacts) {
	out := h.Clone()
	removeHopByHop(out)
	return out, parseResponseFacts(out)
}

// withoutPrivateFields removes from a stored header, in a shared cache, the
// fields a qualified private names (§5.2.2.7), and updates its facts.
func (p policy) withoutPrivateFields(h http.Header, f *responseFacts) {
	if !p.shared || len(f.cc.privateFields) == 0 {
		return
	}
	for _, name := range f.cc.privateFields {
		delete(h, name)
	}
	f.template = newHeaderTemplate(h)
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

// hasValidators reports whether a stored response can be validated: it has
// an ETag or a valid Last-Modified (RFC 9111 §4.3.1).
func hasValidators(e *Entry) bool {
	f := e.responseFacts()
	return f.etag != "" || !f.lastModified.IsZero()
}

// setValidators sets the validators of a stored response on an outgoing
// request (RFC 9111 §4.3.1): If-None-Match from ETag and If-Modified-Since
// from Last-Modified.
func setValidators(out http.Header, e *Entry) {
	// The stored values are shared, not copied: a RoundTripper does not
	// modify the request it is given.
	f := e.responseFacts()
	if f.etag != "" {
		out["If-None-Match"] = e.Header["Etag"][:1:1]
	}
	if lastModified := e.Header["Last-Modified"]; len(lastModified) > 0 && !f.lastModified.IsZero() {
		out["If-Modified-Since"] = lastModified[:1:1]
	}
}

// notModifiedMatches reports whether a 304 answers the validation of a
// stored response (RFC 9111 §4.3.4): its validators, where it has any, must
// be the stored response's.
func notModifiedMatches(notModified http.Header, e *Entry) bool {
	f := e.responseFacts()
	if etag := fieldValue(notModified, "Etag"); etag != "" {
		return f.etag != "" && strongETagMatch(etag, f.etag)
	}
	if lm := fieldValue(notModified, "Last-Modified"); lm != "" {
		t := parseHTTPDate(lm)
		return !t.IsZero() && t.Equal(f.lastModified)
	}
	return true
}

// headMatches reports whether a HEAD response describes the same
// representation as a stored GET response (RFC 9111 §4.3.5): ETag,
// Last-Modified and Content-Length agree where present.
func headMatches(head http.Header, e *Entry) bool {
	f := e.responseFacts()
	if etag := head.Get("ETag"); etag != f.etag {
		return false
	}
	if lm := head.Get("Last-Modified"); lm != "" && !parseHTTPDate(lm).Equal(f.lastModified) {
		return false
	}
	if cl := head.Get("Content-Length"); cl != "" && f.contentLength != "" && cl != f.contentLength {
		return false
	}
	return true
}

// unmergeableFields are kept from the stored response when a 304 or a HEAD
// response updates it (RFC 9111 §3.2): the stored body determines them.
var unmergeableFields = canonicalNames("Content-Length", "Content-Encoding", "Content-Range")

// mergeHeaders returns the stored header updated with the fields of a 304 or
// HEAD response (RFC 9111 §3.2, §4.3.4): each field present in update
// replaces the stored one, except hop-by-hop fields, those Connection lists,
// and those the stored body depends on.
//
// The result shares its values with both: stored headers are never modified.
func mergeHeaders(stored *Entry, update http.Header) http.Header {
	fields := stored.responseFacts().template.fields
	out := make(http.Header, len(fields))
	for _, field := range fields {
		out[field.name] = field.values
	}
	connection := update["Connection"]
	for name, values := range update {
		if isHopByHop(name, connection) || isUnmergeable(name) {
			continue
		}
		out[name] = values
	}
	return out
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

func isUnmergeable(canonicalName string) bool {
	for _, name := range unmergeableFields {
		if name == canonicalName {
			return true
		}
	}
	return false
}

// listedIn reports whether a Connection field's lines name a field.
func listedIn(connection []string, canonicalName string) bool {
	for _, line := range connection {
		for _, name := range strings.Split(line, ",") {
			if strings.EqualFold(trimOWS(name), canonicalName) {
				return true
			}
		}
	}
	return false
}

// freshened returns a new entry: e updated by a 304 or HEAD response
// received for a request sent at requestTime.
func freshened(e *Entry, update http.Header, requestTime, responseTime time.Time) *Entry {
	merged := &Entry{
		Variant:      e.Variant,
		StatusCode:   e.StatusCode,
		Header:       mergeHeaders(e, update),
		RequestTime:  requestTime,
		ResponseTime: responseTime,
		Body:         e.Body,
	}
	merged.facts.Store(e.responseFacts().updated(e.Header, merged.Header))
	return merged
}

// conditionalNotModified evaluates the caller's own conditional request
// against a response the cache would serve (RFC 9110 §13.2.2): true when a
// 304 is the answer. If-None-Match takes precedence over If-Modified-Since.
func conditionalNotModified(req *http.Request, status int, h http.Header) bool {
	if status != http.StatusOK {
		return false
	}
	if inm := req.Header.Values("If-None-Match"); len(inm) > 0 {
		etag := h.Get("ETag")
		if etag == "" {
			return false
		}
		for _, line := range inm {
			for _, candidate := range strings.Split(line, ",") {
				candidate = trimOWS(candidate)
				if candidate == "*" || weakETagMatch(candidate, etag) {
					return true
				}
			}
		}
		return false
	}
	ims := parseHTTPDate(fieldValue(req.Header, "If-Modified-Since"))
	lastModified := parseHTTPDate(h.Get("Last-Modified"))
	if ims.IsZero() || lastModified.IsZero() {
		return false
	}
	return !lastModified.After(ims)
}

// weakETagMatch is the weak comparison of RFC 9110 §8.8.3.2.
func weakETagMatch(a, b string) bool {
	return strings.TrimPrefix(a, "W/") == strings.TrimPrefix(b, "W/")
}

// strongETagMatch is the strong comparison: neither may be weak.
func strongETagMatch(a, b string) bool {
	return a == b && !strings.HasPrefix(a, "W/")
}

// notModifiedFields are the fields a 304 carries (RFC 9110 §15.4.5), with
// Age and Cache-Status.
var notModifiedFields = canonicalNames(
	"Cache-Control", "Content-Location", "Date", "ETag", "Expires", "Vary", "Last-Modified", "Age", "Cache-Status",
)

// canonicalNames returns field names in the form http.Header keys them by
// ("ETag" is keyed "Etag"), for lists used as map keys.
func canonicalNames(names ...string) []string {
	for i, name := range names {
		names[i] = http.CanonicalHeaderKey(name)
	}
	return names
}

// isUnsafe reports methods that are not safe (RFC 9110 §9.2.1), whose
// success invalidates stored responses (RFC 9111 §4.4).
func isUnsafe(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// invalidatedURLs returns the URIs a non-error response to an unsafe request
// invalidates (RFC 9111 §4.4): the target URI, and the URIs in Location and
// Content-Location when they have the target's origin.
func invalidatedURLs(req *http.Request, h http.Header) []*url.URL {
	urls := []*url.URL{req.URL}
	for _, field := range []string{"Location", "Content-Location"} {
		value := h.Get(field)
		if value == "" {
			continue
		}
		ref, err := url.Parse(value)
		if err != nil {
			continue
		}
		target := req.URL.ResolveReference(ref)
		if sameOrigin(target, req.URL) {
			urls = append(urls, target)
		}
	}
	return urls
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}
