package httpcache

import (
	"maps"
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
	// byteRange is the one byte range the request asks for, when
	// singleRange.
	byteRange byteRange
	// credentials are the header map keys of the first credential fields
	// found, with their fields' places in the configured list, for the
	// partition's fingerprint; credentialsOverflow reports more than fit.
	credentials     [maxNotedCredentials]notedCredential
	credentialCount int

	// The flags last, together, with no padding between them: the struct
	// is in every request's exchange.

	// hasRange: the request asks for part of the representation;
	// singleRange that it asks for one byte range, byteRange.
	hasRange    bool
	singleRange bool
	rangeSeen   bool
	// hasCredentials: it carries a credential field (partition.go), under
	// a map key of any case.
	hasCredentials bool
	// hasAuthorization: it carries Authorization, which RFC 9111 §3.5
	// names, whether or not the configured credential fields include it.
	hasAuthorization    bool
	credentialsOverflow bool
	// unsendableCredential: a credential value holds a byte net/http
	// refuses to send (a control byte but HTAB). Its NUL could spell
	// other credentials in the partition's fingerprint input, so such a
	// request is a bypass, never answered from storage or stored. Set by
	// the partitioner's keySuffix, which checks only values it has not
	// kept a suffix for.
	unsendableCredential bool
	// conditional: the caller made it conditional with a validator the
	// cache evaluates (If-None-Match, If-Modified-Since).
	conditional bool
	// hasBody: it sends content, which the cache key does not capture.
	hasBody bool
	// nonCanonicalKeys: a field the Transport reads after this pass by its
	// canonical name (fieldsReadLater) is under a key not in canonical form
	// (req.Header["if-range"]); the Transport then works on a copy of the
	// request with canonical keys (withCanonicalKeys). Other keys, which
	// it never reads, leave the request as the caller made it.
	nonCanonicalKeys bool
}

// readRequestInto reads what the cache needs from req's header into r,
// which must be zero. Field names are matched without regard to case:
// net/http sends a map key that is not canonical as it is, so the origin
// sees "cache-control" as Cache-Control, and so must the cache.
// credentials tells which fields carry credentials.
func readRequestInto(r *cacheRequest, req *http.Request, credentials *partitioner) {
	var lines requestLines
	for key, values := range req.Header {
		// Most keys are canonical and are recognised as they are; only one
		// that is not is canonicalised, which costs a scan.
		if !r.readField(key, values, &lines, credentials) && !isCanonicalKey(key) {
			canonical, known := credentials.knownField(key)
			if !known {
				continue // a field the cache does not read, in any case
			}
			r.nonCanonicalKeys = r.nonCanonicalKeys || slices.Contains(fieldsReadLater, canonical)
			r.readField(canonical, values, &lines, credentials)
		}
	}
	for _, line := range lines.cacheControl {
		parseCacheControlLine(&r.directives, line)
	}
	if !r.directives.present && pragmaNoCache(lines.pragma) {
		r.directives.noCache = true
	}
	// A Body with ContentLength 0 is one of unknown length, which net/http
	// sends (chunked): only http.NoBody, or none, is no content. RoundTrip
	// has probed it first (probeBody): one found empty is http.NoBody.
	r.hasBody = req.Body != nil && req.Body != http.NoBody
}

// requestLines are the lines of the fields readRequestInto parses once it
// has seen them all.
type requestLines struct {
	cacheControl, pragma []string
}

// readField reads one field of the request, by its canonical name. It
// reports whether it knew the name.
func (r *cacheRequest) readField(name string, values []string, lines *requestLines, credentials *partitioner) bool {
	nonEmpty := len(values) > 0 && values[0] != ""
	switch name {
	case "Cache-Control":
		lines.cacheControl, r.directives.present = appendLines(lines.cacheControl, values), true
	case "Pragma":
		lines.pragma = appendLines(lines.pragma, values)
	case "Range":
		r.hasRange = r.hasRange || nonEmpty
		// One field line with one range; a second Range key (another
		// case) makes it several.
		r.byteRange, r.singleRange = byteRange{}, false
		if len(values) == 1 && !r.rangeSeen {
			r.byteRange, r.singleRange = parseSingleRange(values[0])
		}
		r.rangeSeen = true
	case "If-None-Match", "If-Modified-Since":
		// Any line: an empty one is an empty list element, which the
		// origin skips (RFC 9110 §5.6.1), as notModified does.
		r.conditional = r.conditional || slices.ContainsFunc(values, func(v string) bool { return trimOWS(v) != "" })
	default:
		if name == "Authorization" && len(values) > 0 {
			r.hasAuthorization = true
		}
		field := credentials.fieldIndex(name)
		if field < 0 {
			return false
		}
		if len(values) > 0 {
			r.hasCredentials = true
			r.noteCredential(field, values)
		}
	}
	return true
}

// fieldsReadByName are the request fields readField and the later steps
// read by name, but for credential fields (partitioner.fields): those of
// readField's switch, Authorization (RFC 9111 §3.5), and fieldsReadLater.
var fieldsReadByName = append([]string{"Cache-Control", "Pragma", "Range", "Authorization"}, fieldsReadLater...)

// knownField returns the canonical name of a header map key of any case
// that names a field the cache reads (fieldsReadByName, or a credential
// field), without the allocation of http.CanonicalHeaderKey: a request's
// other keys, in whatever case, cost nothing.
func (p *partitioner) knownField(key string) (canonical string, known bool) {
	for _, name := range fieldsReadByName {
		if equalFoldASCII(name, key) {
			return name, true
		}
	}
	if n := len(key); n < 64 && p.lengths&(1<<n) == 0 {
		return "", false
	}
	for _, name := range p.fields {
		if equalFoldASCII(name, key) {
			return name, true
		}
	}
	return "", false
}

// fieldsReadLater are the request fields the Transport reads by canonical
// name after readRequestInto: the validators a conditional request to the
// origin replaces and a stored response is matched against, If-Range, and
// Accept-Encoding, which a stored content coding must match.
var fieldsReadLater = []string{"If-None-Match", "If-Modified-Since", "If-Range", "Accept-Encoding"}

// withCanonicalKeys returns a shallow copy of req whose header holds every
// field under its canonical key, as the origin reads it: the lines of keys
// that differ only in case are joined in the order net/http writes them
// (by key). Every later look-up by canonical name (If-Range, If-None-Match,
// the validators a conditional request replaces) then sees what the
// origin would, and what the cache sends upstream means the same.
func withCanonicalKeys(req *http.Request) *http.Request {
	h := make(http.Header, len(req.Header))
	for _, key := range slices.Sorted(maps.Keys(req.Header)) {
		name := http.CanonicalHeaderKey(key)
		h[name] = append(h[name], req.Header[key]...)
	}
	r := *req
	r.Header = h
	return &r
}

// isCanonicalKey reports whether a header map key is in the form
// http.CanonicalHeaderKey gives: an upper-case letter first and after each
// hyphen, lower case elsewhere. A key that is not is read as its canonical
// form, as net/http sends it and the origin reads it.
func isCanonicalKey(key string) bool {
	upper := true
	for i := 0; i < len(key); i++ {
		c := key[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return false
		}
		upper = c == '-'
	}
	return true
}

// equalFoldASCII reports whether a and b are equal in ASCII case folding,
// the only folding that field names (RFC 9110 §5.1), tokens, schemes and
// hosts as sent have. strings.EqualFold folds Unicode too: "x-requeſt-id"
// (a long s) is EqualFold to X-Request-Id, but it is another field.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerByte(a[i]) != lowerByte(b[i]) {
			return false
		}
	}
	return true
}

// lowerByte returns c in lower case if it is an ASCII letter.
func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// upperByte returns c in upper case if it is an ASCII letter.
func upperByte(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// bypass reports requests the cache must not answer or store: the client
// forbids storing (§5.2.1.5), asks for several ranges or a malformed one
// (one range is answered from a stored response: ranges.go), or sends a
// body, whose content the key does not capture.
func (r *cacheRequest) bypass() bool {
	return r.directives.noStore || (r.hasRange && !r.singleRange) || r.hasBody || r.unsendableCredential
}

// pragmaNoCache reports a no-cache member in Pragma field lines.
func pragmaNoCache(lines []string) bool {
	for _, line := range lines {
		for _, member := range strings.Split(line, ",") {
			if equalFoldASCII(trimOWS(member), "no-cache") {
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

// maxNotedCredentials is how many credential fields a cacheRequest notes;
// requests with more are fingerprinted by a scan of their header.
const maxNotedCredentials = 2

// notedCredential is a credential field a request carries: its place in
// the configured list, and its lines.
type notedCredential struct {
	field  int
	values []string
}

// noteCredential records a credential field as it is met, in the map's
// order; keySuffix orders the notes. A field met twice (under map keys of
// two cases) or more fields than fit overflow the notes: the slow path
// then reads the header whole.
func (r *cacheRequest) noteCredential(field int, values []string) {
	for _, c := range r.credentials[:r.credentialCount] {
		if c.field == field {
			r.credentialsOverflow = true
		}
	}
	if r.credentialCount == maxNotedCredentials {
		r.credentialsOverflow = true
	}
	if r.credentialsOverflow {
		return
	}
	r.credentials[r.credentialCount] = notedCredential{field: field, values: values}
	r.credentialCount++
}
