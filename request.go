package httpcache

import (
	"net/http"
	"slices"
	"strings"
)

// cacheRequest is what the cache reads from a request's header, gathered in
// one pass: a hit would otherwise look up seven fields one by one.
type cacheRequest struct {
	// directives are the request's Cache-Control directives, with
	// Pragma: no-cache counted as no-cache when there is no Cache-Control
	// (RFC 9111 §5.4).
	directives cacheControl
	// hasRange: the request asks for part of the representation.
	hasRange bool
	// hasCredentials: it carries a credential field (partition.go), under
	// a map key of any case.
	hasCredentials bool
	// conditional: the caller made it conditional with a validator the
	// cache evaluates (If-None-Match, If-Modified-Since).
	conditional bool
	// hasBody: it sends content, which the cache key does not capture.
	hasBody bool
}

// readRequestInto reads what the cache needs from req's header into r,
// which must be zero. Field names are matched without regard to case:
// net/http sends a map key that is not canonical as it is, so the origin
// sees "cache-control" as Cache-Control, and so must the cache.
// credentials tells which fields carry credentials.
func readRequestInto(r *cacheRequest, req *http.Request, credentials *partitioner) {
	var cacheControlLines, pragma []string
	for name, values := range req.Header {
		nonEmpty := len(values) > 0 && values[0] != ""
		canonical := http.CanonicalHeaderKey(name)
		switch canonical {
		case "Cache-Control":
			cacheControlLines, r.directives.present = appendLines(cacheControlLines, values), true
		case "Pragma":
			pragma = appendLines(pragma, values)
		case "Range":
			r.hasRange = r.hasRange || nonEmpty
		case "If-None-Match", "If-Modified-Since":
			r.conditional = r.conditional || nonEmpty
		default:
			if len(values) > 0 && credentials.isCredential(canonical) {
				r.hasCredentials = true
			}
		}
	}
	for _, line := range cacheControlLines {
		parseCacheControlLine(&r.directives, line)
	}
	if !r.directives.present && pragmaNoCache(pragma) {
		r.directives.noCache = true
	}
	r.hasBody = req.Body != nil && req.Body != http.NoBody && req.ContentLength != 0
}

// bypass reports requests the cache must not answer or store: the client
// forbids storing (§5.2.1.5), asks for a range (not cached here), or sends a
// body, whose content the key does not capture.
func (r *cacheRequest) bypass() bool {
	return r.directives.noStore || r.hasRange || r.hasBody
}

// pragmaNoCache reports a no-cache member in Pragma field lines.
func pragmaNoCache(lines []string) bool {
	for _, line := range lines {
		for _, member := range strings.Split(line, ",") {
			if strings.EqualFold(trimOWS(member), "no-cache") {
				return true
			}
		}
	}
	return false
}

// appendLines adds a field's lines to those read under another map key of
// the same name; the usual single key costs no copy.
func appendLines(lines, more []string) []string {
	if lines == nil {
		return more
	}
	return append(slices.Clip(lines), more...)
}
