package httpcache

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
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
func (p policy) targetedFacts(f *responseFacts, h http.Header) *responseFacts {
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
	cc := cacheControl{present: true}
	s := strings.Join(lines, ",")
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return cc, nil
		}
		key, rest, err := sfKey(s)
		if err != nil {
			return cacheControl{}, err
		}
		value := sfItem{boolean: true, isBool: true}
		if strings.HasPrefix(rest, "=") {
			if value, rest, err = sfBareItem(rest[1:]); err != nil {
				return cacheControl{}, err
			}
		}
		if rest, err = sfSkipParams(rest); err != nil {
			return cacheControl{}, err
		}
		if err := applyTargeted(&cc, key, value); err != nil {
			return cacheControl{}, err
		}
		rest = strings.TrimLeft(rest, " \t")
		if rest == "" {
			return cc, nil
		}
		if rest[0] != ',' {
			return cacheControl{}, errInvalidTargeted
		}
		if s = strings.TrimLeft(rest[1:], " \t"); s == "" {
			return cacheControl{}, errInvalidTargeted // a trailing comma
		}
	}
}

// sfItem is a Structured Fields bare item of the kinds directives use.
type sfItem struct {
	isBool, boolean bool
	isInt           bool
	integer         int64
}

func sfKey(s string) (key, rest string, err error) {
	if s == "" || !(s[0] == '*' || 'a' <= s[0] && s[0] <= 'z') {
		return "", "", errInvalidTargeted
	}
	i := 1
	for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= '0' && s[i] <= '9' || strings.IndexByte("_-.*", s[i]) >= 0) {
		i++
	}
	return s[:i], s[i:], nil
}

// sfBareItem parses an integer, a boolean, a string or a token; the last
// two are read and kept as neither (directives do not take them).
func sfBareItem(s string) (sfItem, string, error) {
	switch {
	case strings.HasPrefix(s, "?0"), strings.HasPrefix(s, "?1"):
		return sfItem{isBool: true, boolean: s[1] == '1'}, s[2:], nil
	case s != "" && (s[0] == '-' || '0' <= s[0] && s[0] <= '9'):
		i := 0
		if s[0] == '-' {
			i++
		}
		start := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == start || i-start > 15 || i < len(s) && s[i] == '.' {
			return sfItem{}, "", errInvalidTargeted // decimals are not delta-seconds
		}
		n, _ := strconv.ParseInt(s[:i], 10, 64)
		return sfItem{isInt: true, integer: n}, s[i:], nil
	case strings.HasPrefix(s, `"`):
		for i := 1; i < len(s); i++ {
			switch c := s[i]; {
			case c == '\\':
				if i+1 >= len(s) || s[i+1] != '"' && s[i+1] != '\\' {
					return sfItem{}, "", errInvalidTargeted
				}
				i++
			case c == '"':
				return sfItem{}, s[i+1:], nil
			case c < 0x20 || c > 0x7e:
				return sfItem{}, "", errInvalidTargeted
			}
		}
		return sfItem{}, "", errInvalidTargeted
	case s != "" && (s[0] == '*' || 'a' <= s[0]|0x20 && s[0]|0x20 <= 'z'):
		i := 1
		for i < len(s) && isToken(s[i:i+1]) || i < len(s) && (s[i] == ':' || s[i] == '/') {
			i++
		}
		return sfItem{}, s[i:], nil
	}
	return sfItem{}, "", errInvalidTargeted
}

// sfSkipParams reads and drops parameters (";key[=value]").
func sfSkipParams(s string) (string, error) {
	for strings.HasPrefix(s, ";") {
		key, rest, err := sfKey(strings.TrimLeft(s[1:], " "))
		if err != nil || key == "" {
			return "", errInvalidTargeted
		}
		if strings.HasPrefix(rest, "=") {
			if _, rest, err = sfBareItem(rest[1:]); err != nil {
				return "", err
			}
		}
		s = rest
	}
	return s, nil
}

// applyTargeted sets a directive; a known one with a value of the wrong
// type makes the field invalid.
func applyTargeted(cc *cacheControl, key string, v sfItem) error {
	delta := func(d *deltaSeconds) error {
		if !v.isInt || v.integer < 0 {
			return fmt.Errorf("%w: %s is not a non-negative integer", errInvalidTargeted, key)
		}
		*d = deltaSeconds{present: true, seconds: min(v.integer, maxDeltaSeconds)}
		return nil
	}
	flag := func(b *bool) error {
		if !v.isBool {
			return fmt.Errorf("%w: %s is not a boolean", errInvalidTargeted, key)
		}
		*b = v.boolean
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
