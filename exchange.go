package httpcache

import (
	"net/http"
	"strings"
	"time"
)

// exchange is one request's dealings with the cache: what RoundTrip works
// out once (the request read, its options, the stored response that may
// answer it and the policy's decision on it) and passes to every step that
// serves, fetches, revalidates or stores for it, so that no step parses or
// looks up again what another already has.
//
// RoundTrip keeps its exchange on its stack: a hit allocates none. A
// network step gets its own copy (Transport.network), and so does each
// request a step derives from it.
type exchange struct {
	// req is the caller's request; in a step shared by identical requests
	// (coalesce.go), the first caller's on the shared step's context.
	req *http.Request
	// request is what the cache read from req's header. A RequestOptions
	// Refresh counts as the client's no-cache (RFC 9111 §5.2.1.4).
	request cacheRequest
	// options are the RequestOptions of req's context.
	options RequestOptions
	// optionRule is the Override rule a per-request TTL stands for; nil
	// without one. It applies before the configured rules.
	optionRule *compiledRule
	// partitions is the Transport's partitioner, which says what carries
	// credentials.
	partitions *partitioner
	// querySecrets fingerprints secret query values in the key.
	querySecrets *querySecrets
	// keySuffix is what follows the URL part of the request's storage key:
	// a NUL byte and the fingerprint naming its partition (partition.go);
	// empty for a request without credentials.
	keySuffix string
	// keying is how the query enters the key (query_keying.go); nil keeps
	// it as sent.
	keying *queryKeying

	// key is the storage key (appendKey). It is set when the exchange
	// leaves RoundTrip for the network: a hit looks its key up in a buffer
	// on the stack and never needs the string.
	key string
	// forward is why the request goes to the origin: a Forward constant.
	forward string
	// stored is the stored response that may answer the request, selected
	// by Vary (RFC 9111 §4.1); nil on a miss. Set by selectVariant:
	// storedAlone, it is the only stored response that could have been
	// chosen for the request (§4.3.4's "initial set"); varyMiss, responses
	// are stored under the key but none matches the request's Vary fields.
	stored *Entry
	// facts are stored's facts as the rule that applies amends them.
	facts *responseFacts
	// decision is the policy's decision on stored.
	decision decision
	// staleFallback: stored may answer instead if the origin fails and
	// stale-if-error allows it (RFC 5861 §4). Only a request that goes to
	// the origin because stored is stale has one.
	staleFallback bool
	storedAlone   bool
	varyMiss      bool
}

// readExchange sets x from req, in place: RoundTrip's exchange is on its
// stack, and a hit should not copy it around.
func (t *Transport) readExchange(x *exchange, req *http.Request) {
	x.req = req
	x.partitions = t.partitions
	x.querySecrets = t.querySecrets
	readRequestInto(&x.request, req, t.partitions)
	x.options = requestOptionsFrom(req.Context())
	x.optionRule = x.options.rule()
	if x.options.Refresh {
		x.request.directives.noCache = true // as a client's no-cache (§5.2.1.4)
	}
	if x.options.OnlyIfCached {
		x.request.directives.onlyIfCached = true // §5.2.1.7, with any staleness allowed
		x.request.directives.maxStale = deltaSeconds{present: true, seconds: maxDeltaSeconds}
	} else if x.options.MaxStale > 0 {
		x.request.directives.maxStale = deltaSeconds{present: true, seconds: min(int64(x.options.MaxStale/time.Second), maxDeltaSeconds)}
	}
	x.keySuffix = t.partitions.keySuffix(req, &x.request)
	if req.URL != nil { // RoundTrip refuses a request without one
		x.keying = t.keyingFor(req.URL.Scheme, wireHost(req), req.URL.Path)
	}
}

// appendKey appends x's storage key to b: the URL part, as net/http sends
// the request, then, in a partition, a NUL byte and its fingerprint.
func (x *exchange) appendKey(b []byte) []byte {
	b = appendURLKey(b, x.req.URL.Scheme, wireHost(x.req), x.req.URL, x.keying, x.querySecrets)
	return append(b, x.keySuffix...)
}

// variant is the Variant of a response to x's request that names
// varyNames in Vary (RFC 9111 §4.1): the request's values of those fields.
// Credentials do not count there: the partition, in the key, keeps
// requests with other credentials apart.
func (x *exchange) variant(varyNames []string) string {
	if len(varyNames) == 0 {
		return ""
	}
	var b strings.Builder
	appendVaryVariant(&b, x.req, varyNames, x.partitions)
	return b.String()
}

// selectVariant picks the stored response that may answer x's request
// (RFC 9111 §4.1): one whose Vary-selected request fields match. When
// several match, the most recent one is used. It sets x.storedAlone and
// x.varyMiss.
func (x *exchange) selectVariant(entries []*Entry) (selected *Entry) {
	matched := 0
	for _, e := range entries {
		if !x.variantMatches(e) {
			continue
		}
		matched++
		if selected == nil || newerThan(e, selected) {
			selected = e
		}
	}
	x.storedAlone = matched == 1
	x.varyMiss = selected == nil && len(entries) > 0
	return selected
}

// variantMatches reports whether a stored response may answer x's request
// as far as Vary and credentials go.
func (x *exchange) variantMatches(e *Entry) bool {
	facts := e.responseFacts()
	if facts.varyStar {
		return false
	}
	if facts.contentEncoding != "" && !acceptsCoding(x.req.Header["Accept-Encoding"], facts.contentEncoding) {
		return false
	}
	if e.Variant == "" && len(facts.varyNames) == 0 {
		return true
	}
	return x.variant(facts.varyNames) == e.Variant
}

// withRequest returns a copy of x for another request, such as a request
// made from x's for the origin.
func (x *exchange) withRequest(req *http.Request) *exchange {
	y := *x
	y.req = req
	return &y
}

// asMiss returns a copy of x without a stored response: a full request, as
// on a miss.
func (x *exchange) asMiss(forward string) *exchange {
	y := *x
	y.stored, y.facts, y.decision, y.staleFallback = nil, nil, decision{}, false
	y.forward = forward
	return &y
}
