package httpcache

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Targeted cache control (RFC 9213): a shared cache deployed as a gateway
// in front of its own origins may obey fields meant for it, such as
// CDN-Cache-Control, before Cache-Control. Off by default: a shared cache
// in front of third-party APIs is not their CDN.

// WithTargetedCacheControl makes a shared cache (WithShared) obey targeted
// cache-control fields (RFC 9213), in the order given, for example
// "CDN-Cache-Control", or a field named after this cache: the first that
// a response has and that is a valid Structured Fields dictionary (RFC
// 8941) takes precedence over its Cache-Control and Expires, for this
// cache's decisions; an invalid one is ignored. Turn it on for a gateway in
// front of one's own origins, which send such fields for it. A private
// cache ignores targeted fields.
func WithTargetedCacheControl(fields ...string) Option {
	return func(c *config) error {
		names, err := canonicalFieldNames("WithTargetedCacheControl", fields)
		if err != nil {
			return err
		}
		c.policy.targeted = names
		return nil
	}
}

// targetedFacts returns f with the directives of the first valid targeted
// field of the response (header h) in place of its Cache-Control and
// Expires; f itself when none applies.
func (p *policy) targetedFacts(f *responseFacts, h http.Header) *responseFacts {
	if !p.shared || len(p.targeted) == 0 {
		return f
	}
	for _, name := range p.targeted {
		lines, ok := h[name]
		if !ok {
			continue
		}
		cc, err := parseTargetedField(lines)
		if err != nil {
			continue // an invalid field is ignored (RFC 9213 §2.1)
		}
		g := *f
		g.cc = cc
		g.expiresFound, g.expires = false, time.Time{}
		g.setStaleWindows()
		return &g
	}
	return f
}

var errInvalidTargeted = errors.New("not a valid targeted cache-control field")

// parseTargetedField parses a targeted field's lines as a Structured
// Fields dictionary (RFC 8941 §4.2.2) of cache directives (RFC 9213
// §2.1): integers for the delta-seconds directives, booleans for the
// others. A directive the cache does not know is ignored; a field that is
// not a valid dictionary is an error.
func parseTargetedField(lines []string) (cacheControl, error) {
	members, ok := parseSFDictionary(lines)
	if !ok {
		return cacheControl{}, errInvalidTargeted
	}
	cc := cacheControl{present: true}
	for _, m := range members {
		if err := applyTargeted(&cc, m.key, m.item); err != nil {
			return cacheControl{}, err
		}
	}
	return cc, nil
}

// applyTargeted sets a directive; a known one with a value of the wrong
// type makes the field invalid.
func applyTargeted(cc *cacheControl, key string, v sfItem) error {
	delta := func(d *deltaSeconds) error {
		seconds, err := strconv.ParseInt(v.value, 10, 64)
		if v.kind != 'i' || err != nil || seconds < 0 {
			return fmt.Errorf("%w: %s is not a non-negative integer", errInvalidTargeted, key)
		}
		*d = deltaSeconds{present: true, seconds: min(seconds, maxDeltaSeconds)}
		return nil
	}
	flag := func(b *bool) error {
		if v.kind != 'b' {
			return fmt.Errorf("%w: %s is not a boolean", errInvalidTargeted, key)
		}
		*b = v.value == "?1"
		return nil
	}
	switch key {
	case "max-age":
		return delta(&cc.maxAge)
	case "s-maxage":
		return delta(&cc.sMaxAge)
	case "stale-while-revalidate":
		return delta(&cc.staleWhileRevalidate)
	case "stale-if-error":
		return delta(&cc.staleIfError)
	case "no-store":
		return flag(&cc.noStore)
	case "no-cache":
		err := flag(&cc.noCache)
		cc.noCacheUnqualified = cc.noCache
		return err
	case "private":
		err := flag(&cc.private)
		cc.privateUnqualified = cc.private
		return err
	case "public":
		return flag(&cc.public)
	case "must-revalidate":
		return flag(&cc.mustRevalidate)
	case "proxy-revalidate":
		return flag(&cc.proxyRevalidate)
	case "immutable":
		return flag(&cc.immutable)
	}
	return nil // unknown directives are ignored
}
