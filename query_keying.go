package httpcache

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Query keying: which query parameters a storage key holds, and in which
// order. By default a key holds the query exactly as sent, since two
// different queries may name two different resources (RFC 9111 §2). An
// API whose responses do not depend on some parameters (tracking tags such
// as utm_*, cache busters such as "_") can leave them out, and one whose
// responses do not depend on the order of parameters can sort them, so
// that such requests share an entry. Invalidation (Transport.Invalidate,
// unsafe methods: RFC 9111 §4.4) normalises URLs the same way.

// WithIgnoredQueryParams leaves query parameters out of every storage key:
// requests that differ only in them share an entry, and the response to
// one is served to the others. Names are globs in which "*" matches any
// run of characters ("utm_*"), matched with case against the parameter's
// unescaped name. The request sent to the origin keeps its whole query.
//
// Leave out only parameters the response does not depend on. A parameter
// that authorizes the request (a signature, a token: those of
// DefaultRedactedQueryParams and WithRedactedQueryParams) cannot be left
// out, or a request with a wrong or expired one would be answered from the
// cache: NewTransport returns an error naming it.
func WithIgnoredQueryParams(names ...string) Option {
	return func(c *config) error {
		if err := checkIgnorableParams(names); err != nil {
			return fmt.Errorf("WithIgnoredQueryParams: %w", err)
		}
		c.queryKeying.ignored = append(c.queryKeying.ignored, names...)
		return nil
	}
}

// WithSortedQuery sorts query parameters by name in storage keys, so that
// "?a=1&b=2" and "?b=2&a=1" share an entry. Parameters of the same name
// keep their order, since "?a=1&a=2" may differ from "?a=2&a=1"; names
// are compared unescaped ("%61" is "a"). A query holding a ';', which some
// servers split parameters on too, is kept in its order. Use it for APIs
// known not to care about parameter order.
func WithSortedQuery(sorted bool) Option {
	return func(c *config) error {
		c.queryKeying.sorted = sorted
		return nil
	}
}

// queryKeying is how a query enters a storage key.
type queryKeying struct {
	ignored []string // globs of parameter names left out
	sorted  bool     // parameters sorted by name, stably
}

// exact reports keying that keeps the query as sent.
func (q *queryKeying) exact() bool { return q == nil || (len(q.ignored) == 0 && !q.sorted) }

// with returns q with more ignored names.
func (q *queryKeying) with(ignored []string) *queryKeying {
	return &queryKeying{ignored: slices.Concat(q.ignored, ignored), sorted: q.sorted}
}

// checkIgnorableParams refuses empty names and globs that would leave out a
// parameter that authorizes requests.
func checkIgnorableParams(names []string) error {
	for _, name := range names {
		if name == "" {
			return errors.New("empty parameter name")
		}
	}
	return checkAuthorizingParams(names, DefaultRedactedQueryParams)
}

// checkAuthorizingParams returns an error if a glob of ignored matches one
// of the authorizing parameter names, without regard to case.
func checkAuthorizingParams(ignored, authorizing []string) error {
	for _, glob := range ignored {
		for _, name := range authorizing {
			if globMatch(lowerASCII(glob), lowerASCII(name)) {
				return fmt.Errorf("%q would leave %q out of storage keys: a request with a wrong or expired %s would be answered from the cache", glob, name, name)
			}
		}
	}
	return nil
}

// appendQuery appends raw, a query as sent, to b as the keying says (nil
// keeps every part, in order), with its "?" when anything is left, and
// secret values fingerprinted.
func (q *queryKeying) appendQuery(b []byte, raw string, secrets *querySecrets) []byte {
	var partBuffer [16]string
	parts := partBuffer[:0]
	for part := range strings.SplitSeq(raw, "&") {
		if q == nil || !q.ignores(part) {
			parts = append(parts, part)
		}
	}
	if len(parts) == 0 {
		return b
	}
	if q != nil && q.sorted && !strings.Contains(raw, ";") {
		// Sorted by name, parameters of one name in their order; not when a
		// part holds a ';', which some servers split parameters on too: a
		// part moved whole would move the parameters after its ';' past
		// others of their name, and two queries those servers read apart
		// would share a key.
		slices.SortStableFunc(parts, func(a, b string) int { return strings.Compare(unescapedName(a), unescapedName(b)) })
	}
	b = append(b, '?')
	for i, part := range parts {
		if i > 0 {
			b = append(b, '&')
		}
		b = secrets.appendPart(b, part)
	}
	return b
}

// ignores reports whether a query part ("name=value") is left out.
func (q *queryKeying) ignores(part string) bool {
	if len(q.ignored) == 0 || part == "" || strings.IndexByte(part, ';') >= 0 {
		// Some servers split parameters on ';' too: a part holding one
		// may hold a parameter that matters, so it is always kept.
		return false
	}
	name := unescapedName(part)
	for _, glob := range q.ignored {
		if globMatch(glob, name) {
			return true
		}
	}
	return false
}

// unescapedName is the name of a query part as servers read it: "%61"
// and "a" are one name, and keep their order when sorted.
func unescapedName(part string) string {
	name := paramName(part)
	if unescaped, err := url.QueryUnescape(name); err == nil {
		return unescaped
	}
	return name
}

// paramName is the name of a query part as sent, escaped.
func paramName(part string) string {
	name, _, _ := strings.Cut(part, "=")
	return name
}

// settleQueryKeying gives each rule with IgnoredQueryParams its keying,
// now that the Transport's is known, and refuses ignored parameters that
// the redacted ones (WithRedactedQueryParams) say authorize requests.
func settleQueryKeying(cfg *config) error {
	if err := checkAuthorizingParams(cfg.queryKeying.ignored, cfg.redacted); err != nil {
		return fmt.Errorf("WithIgnoredQueryParams: %w", err)
	}
	for i, r := range cfg.rules {
		if len(r.IgnoredQueryParams) > 0 {
			if err := checkAuthorizingParams(r.IgnoredQueryParams, cfg.redacted); err != nil {
				return fmt.Errorf("WithRules: rule %d (%q): %w", i, r.Pattern, err)
			}
			r.keying = cfg.queryKeying.with(r.IgnoredQueryParams)
			cfg.ruleKeying = true
		}
	}
	return nil
}

// keyingFor returns how the query of a request for path on host enters
// its storage key: nil keeps it as sent.
func (t *Transport) keyingFor(scheme, host, path string) *queryKeying {
	if t.cfg.ruleKeying {
		if k := t.ruleKeyingFor(scheme, host, path); k != nil {
			return k
		}
	}
	if t.cfg.queryKeying.exact() {
		return nil
	}
	return &t.cfg.queryKeying
}

// ruleKeyingFor matches the rules on the origin as keys name it, so that
// "h", "h:80" and "H" (for http) find the same rule whether or not its
// pattern names the default port.
func (t *Transport) ruleKeyingFor(scheme, host, path string) *queryKeying {
	scheme = lowerASCII(scheme)
	host = normalizeHost(scheme, host)
	if k := t.cfg.rules.keyingFor(host, path); k != nil {
		return k
	}
	port := ""
	switch scheme {
	case "http":
		port = "80"
	case "https":
		port = "443"
	}
	if hasPort := strings.LastIndexByte(host, ':') > strings.LastIndexByte(host, ']'); port == "" || hasPort {
		return nil
	}
	return t.cfg.rules.keyingFor(host+":"+port, path)
}

// urlKey returns the URL part of the key of a request for u, sent with
// u.Host as its Host: what invalidation deletes.
func (t *Transport) urlKey(u *url.URL) string {
	return string(appendURLKey(nil, u.Scheme, u.Host, u, t.keyingFor(u.Scheme, u.Host, u.Path), t.querySecrets))
}
