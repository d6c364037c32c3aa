package httpcache

import (
	"net/http"
	"strconv"
	"time"
)

// Forward reasons of the Cache-Status fwd parameter (RFC 9211 §2.2).
const (
	ForwardBypass   = "bypass"    // the cache was configured or asked not to handle the request
	ForwardMethod   = "method"    // the request method is not cacheable
	ForwardURIMiss  = "uri-miss"  // nothing was stored for the URL
	ForwardVaryMiss = "vary-miss" // responses were stored, but none matched the request's Vary fields
	ForwardRequest  = "request"   // a stored response was usable, but the request asked for a new one
	ForwardStale    = "stale"     // the stored response was stale and was validated
	ForwardMiss     = "miss"      // a stored response was found but cannot answer the request (a range of a body streamed from a file)
)

// CacheStatus is what the cache did with one response: the parameters of its
// member of the Cache-Status header (RFC 9211). Read it with StatusOf.
type CacheStatus struct {
	// Hit reports that the response came from the cache without a request
	// to the origin.
	Hit bool
	// Forward is why the request went to the origin (one of the Forward
	// constants), empty on a hit.
	Forward string
	// ForwardStatus is the status code the origin answered when the request
	// was forwarded, such as 304 on a successful revalidation.
	ForwardStatus int
	// TTL is the response's remaining freshness: above zero while fresh,
	// zero or negative when stale; valid when HasTTL is set.
	TTL    time.Duration
	HasTTL bool
	// Stored reports that the response may be stored, and will be once
	// its body has arrived whole: the header is sent before the body is
	// read, so it is a promise on the body's arrival. The body is stored
	// when the caller reads it to its end, or closes it with no more left
	// than WithBodyDrain reads for it, and when it is no larger than
	// WithMaxBodyBytes (a body of unknown length can only be measured as
	// it is read). A body that is not stored after all is logged at debug
	// level ("body not stored").
	Stored bool
	// Collapsed reports that the request shared another request's response.
	Collapsed bool
	// Detail says what the other members do not: why a response was not
	// stored ("no-store"), or why it was served as it was
	// ("stale-if-error", "retry-after", "kept-stored").
	Detail string
}

// Stale reports whether the response served was stale (RFC 9111 §4.2.4):
// a stale hit (stale-while-revalidate, a request's max-stale, a stored
// response during back-off) or a stale response served because the origin
// failed (stale-if-error). A response revalidated with the origin is not.
func (s CacheStatus) Stale() bool {
	// A response is fresh while its TTL is above zero (RFC 9111 §4.2:
	// lifetime > age), and the header rounds a fresh TTL up: ttl=0 is
	// stale.
	return s.HasTTL && s.TTL <= 0 && (s.Hit || s.Detail == detailStaleIfError)
}

// StatusOf returns the status the cache recorded in a response's
// Cache-Status header: its last member, which is this cache's, since a cache
// appends its member after those of the caches before it. ok is false when
// the response has no Cache-Status.
func StatusOf(resp *http.Response) (status CacheStatus, ok bool) {
	values := resp.Header.Values("Cache-Status")
	if len(values) == 0 {
		return CacheStatus{}, false
	}
	members, valid := parseSFList(values)
	if !valid || len(members) == 0 {
		return CacheStatus{}, false // RFC 8941 §4.2: an invalid field is ignored
	}
	return statusOfMember(members[len(members)-1]), true
}

// appendTo writes the status as a Cache-Status member named name.
func (s CacheStatus) appendTo(b []byte, name string) []byte {
	b = append(b, name...)
	if s.Hit {
		b = append(b, "; hit"...)
	}
	if s.Forward != "" {
		b = append(b, "; fwd="...)
		b = append(b, s.Forward...)
	}
	if s.ForwardStatus != 0 {
		b = append(b, "; fwd-status="...)
		b = strconv.AppendInt(b, int64(s.ForwardStatus), 10)
	}
	if s.HasTTL {
		b = append(b, "; ttl="...)
		b = strconv.AppendInt(b, ttlSeconds(s.TTL), 10)
	}
	if s.Stored {
		b = append(b, "; stored"...)
	}
	if s.Collapsed {
		b = append(b, "; collapsed"...)
	}
	if s.Detail != "" {
		b = append(b, `; detail="`...)
		b = append(b, s.Detail...)
		b = append(b, '"')
	}
	return b
}

// setCacheStatus appends this cache's member to the Cache-Status field of h,
// after any members from caches before it (RFC 9211 §2), as one field line.
func setCacheStatus(h http.Header, name string, s CacheStatus) {
	h["Cache-Status"] = []string{cacheStatusValue(h["Cache-Status"], name, s)}
}

// cacheStatusValue joins the members of earlier caches and this cache's.
// Earlier members that are not a valid Structured Fields list are dropped:
// joined, they would make the whole field invalid (RFC 8941 §4.2), this
// cache's member included.
func cacheStatusValue(existing []string, name string, s CacheStatus) string {
	if len(existing) > 0 {
		if members, valid := parseSFList(existing); !valid || len(members) == 0 {
			existing = nil
		}
	}
	var buf [128]byte
	b := buf[:0]
	for _, v := range existing {
		b = append(b, v...)
		b = append(b, ", "...)
	}
	return string(s.appendTo(b, name))
}

// durationSeconds formats a duration as whole non-negative seconds, for Age.
func durationSeconds(d time.Duration) string {
	return strconv.FormatInt(int64(max(0, d)/time.Second), 10)
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

// ttlSeconds is a TTL in whole seconds for the header, rounded up: a fresh
// response (TTL above zero) says at least ttl=1, one at or past the end of
// its freshness at most ttl=0, and one stale by half a second ttl=0, never
// a positive TTL.
func ttlSeconds(ttl time.Duration) int64 {
	seconds := int64(ttl / time.Second)
	if ttl > 0 && ttl%time.Second != 0 {
		seconds++
	}
	return seconds
}
