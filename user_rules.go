package httpcache

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// User rules: what the user configures (WithRules, a per-request TTL) for
// APIs whose cache headers are missing or wrong. The RFC's own rules are in
// the policy_*.go files.

// Rule tells the cache how to treat responses from part of an API whose
// cache headers are missing or wrong. Rules are matched on the request's host
// and path, and optionally its method and the response's status; the first
// matching rule applies. Configure them with WithRules.
//
// A rule with only a TTL fills a gap: it gives responses that state no
// freshness of their own (no max-age, s-maxage or Expires) that lifetime,
// in place of RFC 9111's heuristic. With Override it replaces what the
// origin says.
type Rule struct {
	// Pattern selects requests by host and path, as "host/path": for
	// example "api.example.com/v1/users/*". A "*" matches any run of
	// characters, "/" included, so "/v1/*" covers everything under /v1/.
	// The host is matched without regard to case, and with its port only
	// when the pattern names one ("localhost:8080/*"). A pattern without a
	// path matches every path on the host. The query is not matched. An
	// empty pattern, or "*", matches every request: put such a catch-all
	// last.
	Pattern string

	// Methods limits the rule to these request methods (GET or HEAD).
	// Empty means both.
	Methods []string

	// Statuses limits the rule to responses with these status codes.
	// Empty means any status.
	Statuses []int

	// TTL is how long a response is fresh. Zero leaves freshness to the
	// response (and to the heuristic, when it states none).
	TTL time.Duration

	// Override applies the rule even where the response states its own
	// caching: its Cache-Control (no-cache, no-store, must-revalidate,
	// max-age and the rest) and Expires are ignored, and the rule's TTL and
	// windows used instead. For APIs that send "no-cache" on data that is
	// fine to reuse for a while. Override requires a TTL.
	//
	// What Override does not change: a response is stored and served only
	// within the partition of the request that fetched it (credentials and
	// WithPartition keep users apart whatever the response says); in a
	// shared cache a "private" response is never stored, and a response to
	// a request with credentials only where RFC 9111 §3.5 allows; a
	// response's Set-Cookie is never stored under Override (the response
	// is stored without it); and the statuses stored are those of
	// CacheableStatuses.
	Override bool

	// StaleWhileRevalidate is how long after a response goes stale it may
	// still be served while the cache revalidates it in the background
	// (RFC 5861 §3). A response's own stale-while-revalidate directive
	// takes precedence unless Override is set.
	StaleWhileRevalidate time.Duration

	// StaleIfError is how long after a response goes stale it may still be
	// served when the origin cannot be reached or answers 500, 502, 503 or
	// 504 (RFC 5861 §4). A response's own stale-if-error directive takes
	// precedence unless Override is set.
	StaleIfError time.Duration

	// ErrorStatuses are more statuses that count as the origin failing,
	// for stale-if-error, beside RFC 5861's 500, 502, 503 and 504: for
	// example 429 and 408, for an API that rate-limits. Within the
	// stale-if-error window, the stored response answers instead.
	ErrorStatuses []int

	// CacheableStatuses are the status codes that may be stored under this
	// rule, whatever the response says. Empty means the statuses RFC 9110
	// calls heuristically cacheable except 501: 200, 203, 204, 206, 300,
	// 301, 308, 404, 405, 410 and 414. A 429 or a 5xx is stored only when
	// listed here.
	CacheableStatuses []int

	// Bypass turns the cache off for matching requests: they go to the
	// origin, and nothing is read from or written to storage. With
	// Statuses, matching responses are not stored.
	Bypass bool

	// IgnoredQueryParams leaves these query parameters out of the storage
	// keys of requests the rule's Pattern matches (whatever its Methods
	// and Statuses, which a key cannot depend on), on top of
	// WithIgnoredQueryParams: globs such as "utm_*" or "_". See
	// WithIgnoredQueryParams for the risk. The first rule whose Pattern
	// matches and that sets IgnoredQueryParams decides.
	IgnoredQueryParams []string
}

// WithRules sets the rules applied to responses, in order: the first rule
// that matches a request (and its response's status) applies. End the list
// with a catch-all (an empty Pattern) to set a default. WithRules reports a
// rule that cannot be used, naming it.
func WithRules(rules ...Rule) Option {
	return func(c *config) error {
		compiled, err := compileRules(rules)
		if err != nil {
			return fmt.Errorf("WithRules: %w", err)
		}
		c.rules = compiled
		return nil
	}
}

// defaultRuleStatuses are the statuses a rule lets the cache store by
// default: the heuristically cacheable ones (RFC 9110 §15.1) but 501.
var defaultRuleStatuses = []int{200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414}

// compiledRule is a validated Rule, its pattern split for matching.
type compiledRule struct {
	Rule
	index       int    // its place in the configured list; perRequestRule for a RequestOptions.TTL
	host        string // lower-case glob; "" matches any host
	hostHasPort bool
	path        string       // glob; "" matches any path
	keying      *queryKeying // with IgnoredQueryParams: the Transport's keying and the rule's
}

// ruleSet is the configured rules, in order.
type ruleSet []*compiledRule

func compileRules(rules []Rule) (ruleSet, error) {
	set := make(ruleSet, 0, len(rules))
	for i, r := range rules {
		c, err := compileRule(i, r)
		if err != nil {
			return nil, fmt.Errorf("rule %d (%q): %w", i, r.Pattern, err)
		}
		if i > 0 && set[i-1].catchAll() {
			return nil, fmt.Errorf("rule %d (%q): never used: rule %d before it matches every request", i, r.Pattern, i-1)
		}
		set = append(set, c)
	}
	return set, nil
}

func compileRule(index int, r Rule) (*compiledRule, error) {
	c := &compiledRule{Rule: r, index: index}
	pattern := r.Pattern
	if pattern == "*" {
		pattern = ""
	}
	if strings.ContainsAny(pattern, "?# \t") {
		return nil, errors.New("a pattern is a host and a path: no query, fragment or spaces")
	}
	if strings.Contains(pattern, "://") {
		return nil, errors.New("a pattern has no scheme: write host/path")
	}
	if pattern != "" {
		host, path, hasPath := strings.Cut(pattern, "/")
		if host == "" {
			return nil, errors.New("the pattern has no host (use * for any host)")
		}
		c.host = lowerASCII(host)
		c.hostHasPort = strings.Contains(host, ":")
		if hasPath {
			c.path = "/" + path
		}
		if c.host == "*" {
			c.host = ""
		}
	}
	for _, m := range r.Methods {
		if m != http.MethodGet && m != http.MethodHead {
			return nil, fmt.Errorf("method %q: the cache handles only GET and HEAD", m)
		}
	}
	for _, list := range [][]int{r.Statuses, r.CacheableStatuses, r.ErrorStatuses} {
		for _, s := range list {
			if s < 100 || s > 599 {
				return nil, fmt.Errorf("status %d is not an HTTP status code", s)
			}
		}
	}
	if err := checkIgnorableParams(r.IgnoredQueryParams); err != nil {
		return nil, fmt.Errorf("IgnoredQueryParams: %w", err)
	}
	switch {
	case r.TTL < 0 || r.StaleWhileRevalidate < 0 || r.StaleIfError < 0:
		return nil, errors.New("durations must not be negative")
	case r.Override && r.TTL == 0:
		return nil, errors.New("an Override rule needs a TTL")
	case r.Bypass && (r.TTL != 0 || r.Override || r.StaleWhileRevalidate != 0 || r.StaleIfError != 0 || len(r.CacheableStatuses) > 0):
		return nil, errors.New("a Bypass rule stores nothing: it takes no TTL, windows or statuses to store")
	}
	return c, nil
}

// perRequestRule is the index of the rule a RequestOptions.TTL stands for.
const perRequestRule = -1

// same reports whether two rules amend facts alike: the same configured
// rule, or per-request rules with the same TTL (each request makes its own).
func (r *compiledRule) same(other *compiledRule) bool {
	return r == other || (r.index == perRequestRule && other.index == perRequestRule && r.TTL == other.TTL)
}

// catchAll reports a rule that matches every request and response.
func (r *compiledRule) catchAll() bool {
	return r.host == "" && r.path == "" && len(r.Methods) == 0 && len(r.Statuses) == 0
}

// matches reports whether the rule applies to a request for path on host,
// the Host net/http sends; status is the response's, or 0 before there is
// one, when a rule limited to some statuses does not match.
func (r *compiledRule) matches(method, host, path string, status int) bool {
	if len(r.Statuses) > 0 && !slices.Contains(r.Statuses, status) {
		return false
	}
	if len(r.Methods) > 0 && !slices.Contains(r.Methods, method) {
		return false
	}
	return r.matchesTarget(host, path)
}

// matchesTarget reports whether the rule's Pattern matches path on host.
func (r *compiledRule) matchesTarget(host, path string) bool {
	if r.host != "" {
		if !r.hostHasPort {
			host = (&url.URL{Host: host}).Hostname()
		}
		if !globMatch(r.host, lowerASCII(host)) {
			return false
		}
	}
	if r.path != "" {
		if path == "" {
			path = "/"
		}
		if !globMatch(r.path, path) {
			return false
		}
	}
	return true
}

// cacheable reports whether the rule lets a response with status be stored.
func (r *compiledRule) cacheable(status int) bool {
	if len(r.CacheableStatuses) > 0 {
		return slices.Contains(r.CacheableStatuses, status)
	}
	return slices.Contains(defaultRuleStatuses, status)
}

// match returns the first rule that applies to a request and a response
// status, or nil.
func (s ruleSet) match(method, host, path string, status int) *compiledRule {
	for _, r := range s {
		if r.matches(method, host, path, status) {
			return r
		}
	}
	return nil
}

// bypasses reports whether a Bypass rule turns the cache off for a request
// before its response is known: the first rule that matches without regard
// to status decides.
func (s ruleSet) bypasses(method, host, path string) bool {
	for _, r := range s {
		if len(r.Statuses) == 0 && r.matches(method, host, path, 0) {
			return r.Bypass
		}
	}
	return false
}

// keyingFor returns the query keying of the first rule whose Pattern
// matches path on host and that sets IgnoredQueryParams, or nil.
func (s ruleSet) keyingFor(host, path string) *queryKeying {
	for _, r := range s {
		if r.keying != nil && r.matchesTarget(host, path) {
			return r.keying
		}
	}
	return nil
}

// globMatch reports whether s matches pattern, in which "*" matches any run
// of characters. It backtracks only to the last star, so it takes time
// linear in len(pattern)*len(s) at worst.
func globMatch(pattern, s string) bool {
	p, i := 0, 0
	star, starAt := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, starAt = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			starAt++
			p, i = star+1, starAt
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
