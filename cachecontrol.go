package httpcache

import (
	"net/http"
	"slices"
	"strings"
)

// maxDeltaSeconds is the value a delta-seconds that overflows is taken to be
// (RFC 9111 §1.2.2: "the cache MUST consider the value to be 2147483648").
const maxDeltaSeconds = 2147483648

// deltaSeconds is the value of a directive such as max-age. A directive that
// is present with an invalid value is recorded with invalid set, so that each
// rule can decide what an invalid value means for it.
type deltaSeconds struct {
	present bool
	invalid bool
	seconds int64
}

// cacheControl holds the directives of one Cache-Control field (all its field
// lines combined). Unknown directives are ignored (RFC 9111 §5.2.3).
type cacheControl struct {
	maxAge               deltaSeconds
	sMaxAge              deltaSeconds
	maxStale             deltaSeconds // present without a value: any staleness (§5.2.1.2)
	minFresh             deltaSeconds
	staleWhileRevalidate deltaSeconds // RFC 5861 §3
	staleIfError         deltaSeconds // RFC 5861 §4

	// noCache and private are set by either form of the directive. Their
	// unqualified forms win over the qualified ones, whatever the order
	// (§5.2.2.4, §5.2.2.7: a qualified form restricts only the fields it
	// names, and the unqualified form restricts the whole response); a
	// qualified form that names no field counts as unqualified.
	noCacheFields      []string // qualified no-cache (§5.2.2.4), canonical field names
	privateFields      []string // qualified private (§5.2.2.7), canonical field names
	noCache            bool
	noCacheUnqualified bool
	private            bool
	privateUnqualified bool

	// The flags last, together: the struct is in every request's exchange
	// (and a flight's copy of it), where padding between them would cost.
	present         bool // the message has a Cache-Control field at all
	noStore         bool
	public          bool
	mustRevalidate  bool
	proxyRevalidate bool
	mustUnderstand  bool
	immutable       bool // RFC 8246
	onlyIfCached    bool
	noTransform     bool
}

// names reports whether a qualified no-cache or private names a canonical
// field name: storage must withhold that field (§5.2.2.4, §5.2.2.7).
func (cc *cacheControl) names(field string) bool {
	return slices.Contains(cc.noCacheFields, field) || slices.Contains(cc.privateFields, field)
}

// parseCacheControl parses every Cache-Control field line in h. It never
// fails: RFC 9111 §5.2 asks recipients to ignore what they do not
// understand, and an invalid argument affects only its own directive.
// When a directive appears more than once, its first occurrence counts
// (§4.2.1: "either the first occurrence should be used or the response
// should be considered stale"); qualified no-cache and private accumulate
// their field names.
func parseCacheControl(h http.Header) cacheControl {
	lines, present := h["Cache-Control"]
	cc := cacheControl{present: present}
	for _, line := range lines {
		parseCacheControlLine(&cc, line)
	}
	return cc
}

func parseCacheControlLine(cc *cacheControl, line string) {
	for len(line) > 0 {
		var name, value string
		var hasValue bool
		name, value, hasValue, line = nextDirective(line)
		if name == "" {
			continue
		}
		applyDirective(cc, lowerASCII(name), value, hasValue)
	}
}

// nextDirective splits the first directive off s. It accepts the token and
// the quoted-string forms of an argument (§5.2: recipients accept both).
func nextDirective(s string) (name, value string, hasValue bool, rest string) {
	s = trimOWS(s)
	i := 0
	for i < len(s) && s[i] != '=' && s[i] != ',' {
		i++
	}
	name = trimOWS(s[:i])
	if i == len(s) {
		return name, "", false, ""
	}
	if s[i] == ',' {
		return name, "", false, s[i+1:]
	}
	s = trimOWS(s[i+1:])
	if len(s) > 0 && s[0] == '"' {
		value, rest = unquote(s)
		if j := strings.IndexByte(rest, ','); j >= 0 {
			rest = rest[j+1:]
		} else {
			rest = ""
		}
		return name, value, true, rest
	}
	j := strings.IndexByte(s, ',')
	if j < 0 {
		return name, trimOWS(s), true, ""
	}
	return name, trimOWS(s[:j]), true, s[j+1:]
}

// unquote reads a quoted-string at the start of s (RFC 9110 §5.6.4) and
// returns its content and what follows it. An unterminated string runs to
// the end of s.
func unquote(s string) (value, rest string) {
	var b strings.Builder
	escaped := false
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			b.WriteByte(c)
			escaped = false
		case c == '\\':
			escaped = true
		case c == '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), ""
}

func applyDirective(cc *cacheControl, name, value string, hasValue bool) {
	switch name {
	case "max-age":
		setDelta(&cc.maxAge, value, hasValue)
	case "s-maxage":
		setDelta(&cc.sMaxAge, value, hasValue)
	case "max-stale":
		if !cc.maxStale.present && !hasValue {
			cc.maxStale = deltaSeconds{present: true, seconds: maxDeltaSeconds}
			return
		}
		setDelta(&cc.maxStale, value, hasValue)
	case "min-fresh":
		setDelta(&cc.minFresh, value, hasValue)
	case "stale-while-revalidate":
		setDelta(&cc.staleWhileRevalidate, value, hasValue)
	case "stale-if-error":
		setDelta(&cc.staleIfError, value, hasValue)
	case "no-cache":
		cc.noCache = true
		var named bool
		cc.noCacheFields, named = appendFieldNames(cc.noCacheFields, value)
		cc.noCacheUnqualified = cc.noCacheUnqualified || !hasValue || !named
	case "private":
		cc.private = true
		var named bool
		cc.privateFields, named = appendFieldNames(cc.privateFields, value)
		cc.privateUnqualified = cc.privateUnqualified || !hasValue || !named
	case "no-store":
		cc.noStore = true
	case "public":
		cc.public = true
	case "must-revalidate":
		cc.mustRevalidate = true
	case "proxy-revalidate":
		cc.proxyRevalidate = true
	case "must-understand":
		cc.mustUnderstand = true
	case "immutable":
		cc.immutable = true
	case "only-if-cached":
		cc.onlyIfCached = true
	case "no-transform":
		cc.noTransform = true
	}
}

// setDelta records the first occurrence of a delta-seconds directive.
func setDelta(d *deltaSeconds, value string, hasValue bool) {
	if d.present {
		return
	}
	d.present = true
	seconds, ok := parseDeltaSeconds(value)
	if !hasValue || !ok {
		d.invalid = true
		return
	}
	d.seconds = seconds
}

// parseDeltaSeconds parses a non-negative decimal integer (RFC 9111 §1.2.2),
// capping values that overflow at 2^31.
func parseDeltaSeconds(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < maxDeltaSeconds {
			n = n*10 + int64(c-'0')
		}
	}
	if n > maxDeltaSeconds {
		n = maxDeltaSeconds
	}
	return n, true
}

// appendFieldNames appends the field names of a qualified directive's
// list, canonical, and reports whether it named any: not past
// maxFieldNames, when the directive counts as unqualified.
func appendFieldNames(names []string, list string) ([]string, bool) {
	named := false
	for _, name := range strings.Split(list, ",") {
		if name = trimOWS(name); isToken(name) {
			if len(names) == maxFieldNames {
				return names, false // unqualified: maxFieldNames
			}
			names = append(names, http.CanonicalHeaderKey(name))
			named = true
		}
	}
	return names, named
}

// trimOWS removes optional white space (spaces and tabs, RFC 9110 §5.6.3).
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
