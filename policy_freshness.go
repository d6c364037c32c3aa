package httpcache

import (
	"time"
)

// Freshness and age (RFC 9111 §4.2), the decision whether a stored
// response may answer a request (§4, §4.2.4, §5.2.1), and serving stale
// responses (RFC 5861).

// heuristicallyCacheable lists the status codes RFC 9110 §15.1 defines as
// heuristically cacheable.
func heuristicallyCacheable(status int) bool {
	switch status {
	case 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// freshnessLifetime computes how long a response is fresh (RFC 9111 §4.2.1),
// falling back to a heuristic (§4.2.2).
func (p *policy) freshnessLifetime(e *Entry, f *responseFacts) time.Duration {
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
func (p *policy) heuristicLifetime(e *Entry, f *responseFacts) time.Duration {
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
	correctedAgeValue := addDurations(f.age, responseDelay)
	correctedInitialAge := max(apparentAge, correctedAgeValue)
	residentTime := max(0, now.Sub(e.ResponseTime))
	return addDurations(correctedInitialAge, residentTime)
}

// action is what the cache does with a stored response.
type action uint8

const (
	actionServe      action = iota // serve it as it is: fresh, or stale where allowed
	actionRevalidate               // validate it with the origin first
	actionServeStale               // serve it stale and revalidate it in the background (RFC 5861 §3)
)

// decision is the outcome of evaluating a request against a stored response.
type decision struct {
	age      time.Duration
	lifetime time.Duration
	// forward is the Cache-Status fwd reason when the response does not
	// answer as it is: ForwardStale or ForwardRequest when action is
	// actionRevalidate, ForwardStale when it is actionServeStale; empty
	// for actionServe.
	forward string
	action  action
	// byRequest: the request's directives ask for validation (§5.2.1),
	// which no stale-if-error answers instead.
	byRequest bool
}

// ttl is the remaining freshness, negative when stale (RFC 9211 §2.4).
func (d decision) ttl() time.Duration { return d.lifetime - d.age }

// evaluate decides whether a stored response may answer a request now
// (RFC 9111 §4), taking the request's directives (§5.2.1) into account. f
// is the entry's facts, as a rule may have amended them.
func (p *policy) evaluate(reqCC *cacheControl, e *Entry, f *responseFacts, now time.Time) decision {
	d := decision{action: actionServe, age: currentAge(e, f, now), lifetime: p.freshnessLifetime(e, f)}
	fresh := d.age < d.lifetime
	revalidate := func(reason string) decision {
		d.action, d.forward = actionRevalidate, reason
		return d
	}
	// The client asks for validation. RFC 9211 §2.2: fwd=request says the
	// response was fresh; a stale one goes forward as stale.
	requested := func() decision {
		d.byRequest = true
		if fresh {
			return revalidate(ForwardRequest)
		}
		return revalidate(ForwardStale)
	}
	// §5.2.2.4: unqualified no-cache requires validation on every use.
	if f.cc.noCacheUnqualified {
		return revalidate(ForwardStale)
	}
	// §5.2.1.4 (and §5.4 for Pragma): the client asks for validation.
	if reqCC.noCache {
		return requested()
	}
	// §5.2.1.1: max-age bounds the age the client accepts. RFC 8246: an
	// immutable response is not revalidated while fresh (a reload's max-age=0).
	if reqCC.maxAge.present && d.age > deltaDuration(reqCC.maxAge) && !(fresh && f.cc.immutable) {
		return requested()
	}
	// §5.2.1.3: min-fresh asks for a response that stays fresh a while longer.
	if reqCC.minFresh.present && !reqCC.minFresh.invalid && d.lifetime-d.age < deltaDuration(reqCC.minFresh) {
		return requested()
	}
	if fresh {
		return d
	}
	// §4.2.4: a stale response is served only where nothing forbids it and
	// the client accepts it (max-stale, §5.2.1.2).
	if p.mustRevalidateWhenStale(f) {
		return revalidate(ForwardStale)
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
	return revalidate(ForwardStale)
}

// mayServeStaleOnError reports whether a stored response that was to be
// revalidated may answer instead when the origin fails (RFC 5861 §4): within
// the stale-if-error window of the response (or rule) or of the request,
// and only when it went to the origin because it was stale: not because
// the client asked for a new response, and not where a directive forbids
// serving it stale (RFC 9111 §4.2.4: no-cache, must-revalidate, and in a
// shared cache proxy-revalidate and s-maxage).
func (p *policy) mayServeStaleOnError(reqCC *cacheControl, e *Entry, f *responseFacts, now time.Time) (decision, bool) {
	d := decision{action: actionServe, age: currentAge(e, f, now), lifetime: p.freshnessLifetime(e, f), forward: ForwardStale}
	if p.forbidsStale(reqCC, f) {
		return d, false
	}
	window := f.staleIfError
	if reqCC.staleIfError.present && !reqCC.staleIfError.invalid {
		window = max(window, deltaDuration(reqCC.staleIfError))
	}
	return d, window > 0 && d.age-d.lifetime <= window
}

// forbidsStale reports whether a directive forbids serving the response
// without validation once it is stale, or at all (RFC 9111 §4.2.4): the
// request's no-cache, the response's unqualified no-cache, or
// mustRevalidateWhenStale.
func (p *policy) forbidsStale(reqCC *cacheControl, f *responseFacts) bool {
	return reqCC.noCache || f.cc.noCacheUnqualified || p.mustRevalidateWhenStale(f)
}

// mustRevalidateWhenStale reports whether the response forbids serving it
// stale (§5.2.2.2 must-revalidate, §5.2.2.8 proxy-revalidate and §5.2.2.10
// s-maxage in a shared cache).
func (p *policy) mustRevalidateWhenStale(f *responseFacts) bool {
	return f.cc.mustRevalidate || (p.shared && (f.cc.proxyRevalidate || f.cc.sMaxAge.present))
}

// storageTTL is how long a stored response stays useful: its remaining
// freshness, its stale windows (RFC 5861), and with validators a while
// longer, since a conditional request can still save the body.
func (p *policy) storageTTL(d decision, f *responseFacts) time.Duration {
	ttl := max(0, d.ttl())
	ttl = addDurations(ttl, max(f.staleWhileRevalidate, f.staleIfError))
	if f.etag != "" || !f.lastModified.IsZero() {
		ttl = addDurations(ttl, p.keepForRevalidation)
	} else {
		ttl = addDurations(ttl, p.keepStale)
	}
	return max(ttl, time.Second)
}
