package httpcache

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Storage keys. A request's key is its wire identity, what net/http sends
// (RFC 9111 §2: the target URI): the scheme, the Host it sends, the
// request target; then, for a request in a partition (partition.go), a NUL
// byte and the partition's fingerprint. GET and HEAD share a key, because
// a HEAD request is answered from a stored GET response (RFC 9110 §9.3.2).

// KeyURL returns the URL part of a storage key, which names the resource
// whatever the partition: the url DeleteURL is given for a key's resource.
// Stores that delete every partition of a URL at once index keys by it.
func KeyURL(key string) string {
	if i := strings.IndexByte(key, 0); i >= 0 {
		return key[:i]
	}
	return key
}

// KeyPartition returns the partition part of a storage key: empty for a
// request without credentials, else a fingerprint of 64 hexadecimal
// digits.
func KeyPartition(key string) string {
	if i := strings.IndexByte(key, 0); i >= 0 {
		return key[i+1:]
	}
	return ""
}

// cacheKey returns the URL part of the key of a request for u, sent with
// u.Host as its Host.
func cacheKey(u *url.URL) string {
	return string(appendURLKey(nil, u.Scheme, u.Host, u, nil, nil))
}

// appendURLKey appends to b the URL part of a key: scheme, host (case and
// default port normalised: RFC 9110 §4.2.3) and the request target as
// net/http writes it (url.URL.RequestURI: the opaque form, or the escaped
// path, and the query, as keying says: nil keeps it as sent), the values
// of secret query parameters fingerprinted (query_secrets.go; nil
// fingerprints none). It builds in the caller's buffer, so that a hit can
// keep it on the stack.
func appendURLKey(b []byte, scheme, host string, u *url.URL, keying *queryKeying, secrets *querySecrets) []byte {
	scheme = lowerASCII(scheme)
	host = normalizeHost(scheme, host)
	b = append(b, scheme...)
	b = append(b, "://"...)
	b = append(b, host...)
	switch {
	case u.Opaque != "":
		if strings.HasPrefix(u.Opaque, "//") {
			b = append(b, scheme...)
			b = append(b, ':')
		}
		target, query, hasQuery := strings.Cut(u.Opaque, "?")
		b = append(b, target...)
		if hasQuery {
			// net/http sends an opaque target as it is, a query in it too.
			b = append(b, '?')
			b = secrets.appendQuery(b, query)
		}
	default:
		path := u.RawPath
		if path == "" && !needsEscaping(u.Path) {
			path = u.Path
		} else {
			path = u.EscapedPath()
		}
		if path == "" {
			path = "/"
		}
		b = append(b, path...)
	}
	switch {
	case u.RawQuery != "" && (!keying.exact() || secrets.holdsSecret(u.RawQuery)):
		return keying.appendQuery(b, u.RawQuery, secrets)
	case u.RawQuery != "" || u.ForceQuery:
		b = append(b, '?')
		b = append(b, u.RawQuery...)
	}
	return b
}

// wireHost returns the host net/http sends for req: req.Host when set,
// else req.URL.Host.
func wireHost(req *http.Request) string {
	if req.Host != "" {
		return req.Host
	}
	return req.URL.Host
}

// normalizeHost lowercases a host and removes a port that is the scheme's
// default: it names the same origin as no port (RFC 9110 §4.2.3).
func normalizeHost(scheme, host string) string {
	host = lowerASCII(host)
	if scheme == "http" && strings.HasSuffix(host, ":80") {
		return host[:len(host)-3]
	}
	if scheme == "https" && strings.HasSuffix(host, ":443") {
		return host[:len(host)-4]
	}
	return host
}

// keyable reports whether a request's wire identity can be keyed exactly:
// a Host net/http sends as it is (an invalid one it replaces with an empty
// Host, which says nothing of the server dialled), a request target in
// origin form ("/…"), which the key joins to the host, and no control
// byte, which net/http refuses to send. Any other request goes to the
// network, never answered from storage: a Host such as "victim.example/x",
// or a target such as ":8443/v1" or ".attacker.example/x", would have the
// key of another origin's resource. (A path is escaped in the key and
// cannot hold a control byte; the opaque form and the query are raw; the
// server dialled, when it is not the Host, names a partition:
// withDialTarget.)
func keyable(req *http.Request) bool {
	u := req.URL
	if !validHostHeader(wireHost(req)) || (req.Host != "" && req.Host != u.Host && hasControlBytes(u.Host)) ||
		(u.Scheme != "https" && u.Scheme != "http" && hasControlBytes(u.Scheme)) || hasControlBytes(u.RawQuery) {
		return false
	}
	if u.Opaque != "" {
		return strings.HasPrefix(u.Opaque, "/") && !strings.HasPrefix(u.Opaque, "//") && !hasControlBytes(u.Opaque)
	}
	return u.Path == "" || strings.HasPrefix(u.Path, "/")
}

// validHostHeader is net/http's test of a Host it sends as it is
// (golang.org/x/net/http/httpguts.ValidHostHeader): the bytes of a
// reg-name, an IP literal and a port, and non-ASCII bytes, which it sends
// as punycode.
func validHostHeader(h string) bool {
	if h == "" {
		return false // net/http sends the URL's host then; an empty key host is ambiguous
	}
	for i := 0; i < len(h); i++ {
		if byteClasses[h[i]]&hostByte == 0 {
			return false
		}
	}
	return true
}

// effectiveURL returns the request's URL as it reaches the origin: its
// host the one net/http sends (RFC 9110 §7.1).
func effectiveURL(req *http.Request) *url.URL {
	u := *req.URL
	u.Host = wireHost(req)
	return &u
}

// keyBuffers holds the buffers a key is copied into for a KeyBytesGetter:
// a key passed through an interface call escapes to the heap, so the
// caller's, built on its stack, is not passed itself; a pooled copy costs
// no allocation.
var keyBuffers = keyBufferPool{pool: sync.Pool{New: func() any { return &keyBuffer{b: make([]byte, 0, 256)} }}}

// maxPooledKeyBytes bounds the buffers kept for reuse: a buffer grown by a
// very long URL is left to the garbage collector.
const maxPooledKeyBytes = 4 << 10

type keyBuffer struct{ b []byte }

type keyBufferPool struct{ pool sync.Pool }

func (p *keyBufferPool) get() *keyBuffer { return p.pool.Get().(*keyBuffer) }

// put returns a buffer for reuse. Nothing may keep its bytes: a Storage
// does not keep the key it is given (KeyBytesGetter).
func (p *keyBufferPool) put(b *keyBuffer) {
	if cap(b.b) <= maxPooledKeyBytes {
		p.pool.Put(b)
	}
}

// lowerASCII lowercases s, without allocating when it already is.
//
// Only ASCII letters: net/http sends a Unicode host as punycode without
// mapping its case, so folding "Ü" to "ü" would key two hosts as one.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.Map(func(r rune) rune {
				if 'A' <= r && r <= 'Z' {
					return r + 'a' - 'A'
				}
				return r
			}, s)
		}
	}
	return s
}

// needsEscaping reports whether a decoded path has bytes that its escaped
// form writes differently; most paths have none, and are their own
// escaped form.
func needsEscaping(path string) bool {
	for i := 0; i < len(path); i++ {
		if byteClasses[path[i]]&pathByte == 0 {
			return true
		}
	}
	return false
}

// Byte classes of the key's parts, looked up in one table: the hit path
// checks every byte of a key.
const (
	pathByte     = 1 << iota // written as it is in an escaped path
	hostByte                 // sent as it is in a Host (validHostHeader)
	ctlByte                  // refused by net/http in a Host or a target
	valueCtlByte             // refused by net/http in a field value: a control byte but HTAB
)

var byteClasses = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if alnum || strings.IndexByte("-._~/$&+,;=:@", byte(c)) >= 0 {
			t[c] |= pathByte
		}
		if alnum || c >= 0x80 || strings.IndexByte("!$%&'()*+,-.:;=[]_~", byte(c)) >= 0 {
			t[c] |= hostByte
		}
		if c < ' ' || c == 0x7f {
			t[c] |= ctlByte
			if c != '\t' {
				t[c] |= valueCtlByte
			}
		}
	}
	return t
}()

// varyFieldNames returns the lowercased, sorted, de-duplicated field names
// a response's Vary header lists, and whether it lists "*" or a member that
// is not a field name (RFC 9111 §4.1).
func varyFieldNames(h http.Header) (names []string, star bool) {
	for _, line := range h["Vary"] {
		for _, name := range strings.Split(line, ",") {
			name = lowerASCII(trimOWS(name))
			switch {
			case name == "":
			case name == "*" || !isToken(name):
				// A member that is not a field name cannot be matched;
				// like "*", it makes the response unusable for others.
				star = true
			case len(names) == maxFieldNames:
				// More names than any real response lists: unusable for
				// others, like "*", and bounded in memory and in the
				// work of a hit.
				return nil, true
			default:
				names = append(names, name)
			}
		}
	}
	sort.Strings(names)
	return compactSorted(names), star
}

// maxFieldNames bounds the field names a response's Vary, qualified
// no-cache or qualified private may list. Past it, Vary counts as "*" and
// a qualified directive as unqualified: the safe reading, since each
// restricts the whole response then.
const maxFieldNames = 64

func compactSorted(names []string) []string {
	out := names[:0]
	for i, name := range names {
		if i == 0 || name != names[i-1] {
			out = append(out, name)
		}
	}
	return out
}

// appendVaryVariant writes the Vary part of a request's variant (RFC 9111
// §4.1): for each of varyNames, the request's field value normalised as
// §4.1 allows, or a marker that the field is absent (an absent field
// matches only an absent field). A credential field is written as present
// only, never its value: the request's partition, in its key, already
// holds every request with other credentials apart, and a variant is
// stored in clear.
func appendVaryVariant(b *strings.Builder, req *http.Request, varyNames []string, credentials *partitioner) {
	for _, name := range varyNames {
		b.WriteString(name)
		canonical := http.CanonicalHeaderKey(name)
		values, present := fieldValues(req.Header, canonical)
		switch {
		case !present:
			b.WriteString("\x01\n")
		case credentials.isCredential(canonical):
			b.WriteString("\x02partition\n")
		default:
			b.WriteByte(':')
			appendNormalizedFieldValue(b, name, values)
			b.WriteByte('\n')
		}
	}
}

// fieldValues returns a request field's lines by its canonical name, also
// under map keys of another case: net/http sends such a key as it is, and
// the origin reads it as the field. Lines under several keys are joined in
// the order net/http writes them, by key, so that "fr" and "de" under
// Accept-Language and ACCEPT-LANGUAGE read "de, fr", as the origin reads
// them.
func fieldValues(h http.Header, canonical string) (values []string, present bool) {
	var keys []string
	for key := range h {
		if key != canonical && equalFoldASCII(key, canonical) {
			keys = append(keys, key)
		}
	}
	values, present = h[canonical]
	if len(keys) == 0 {
		return values, present
	}
	if present {
		keys = append(keys, canonical)
	}
	slices.Sort(keys)
	values = nil
	for _, key := range keys {
		values = append(values, h[key]...)
	}
	return values, true
}

// caseInsensitiveFields are request fields whose values are defined to be
// case-insensitive, so that §4.1 lets a cache compare them case-folded.
var caseInsensitiveFields = map[string]bool{
	"accept-encoding": true, // content-codings, RFC 9110 §8.4.1
	"accept-charset":  true, // charsets, RFC 9110 §8.3.2
	"accept-language": true, // language tags, RFC 9110 §8.5.1
}

// appendNormalizedFieldValue writes a field's lines as one list, white
// space around its members removed, as RFC 9111 §4.1 allows. Commas and
// white space inside a quoted-string (RFC 9110 §5.6.4) are the member's
// own and stay as they are: `"a, b"` and `"a,b"` are different values. A
// line that ends inside a quoted-string is marked, so that it never reads
// as the well-formed line its bytes might spell once joined. A value with
// a control byte, which net/http refuses to send, is written quoted, so
// that none of its bytes can read as the variant's framing.
func appendNormalizedFieldValue(b *strings.Builder, name string, values []string) {
	if unsendableValues(values) {
		b.WriteString("\x00")
		for _, line := range values {
			b.WriteString(strconv.Quote(line))
		}
		return
	}
	foldCase := caseInsensitiveFields[name]
	first := true
	for _, line := range values {
		for rest := line; rest != ""; {
			var member string
			var open bool
			member, rest, open = nextListMember(rest)
			if member = trimOWS(member); member == "" {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			if foldCase {
				member = lowerASCII(member)
			}
			b.WriteString(member)
			if open {
				b.WriteString("\x00unterminated")
			}
		}
	}
}

// nextListMember cuts a list's first member from s at the first comma
// outside a quoted-string (RFC 9110 §5.6.1, §5.6.4), and reports whether
// the member ends inside an unterminated quoted-string.
func nextListMember(s string) (member, rest string, open bool) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++ // a quoted-pair: the next byte is the string's own
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			return s[:i], s[i+1:], false
		}
	}
	return s, "", quoted
}

// newerThan reports whether stored response a is more recent than b: by
// Date, then by when it was received.
func newerThan(a, b *Entry) bool {
	da, db := a.responseFacts().date, b.responseFacts().date
	if !da.Equal(db) {
		return da.After(db)
	}
	return a.ResponseTime.After(b.ResponseTime)
}

// acceptsCoding reports whether Accept-Encoding lines accept a content
// coding (RFC 9110 §12.5.3): named, or covered by "*", with a weight above
// zero; x-gzip and x-compress are gzip and compress. A request without
// Accept-Encoding accepts none here: net/http then asks for gzip itself and
// decodes the response, so its caller expects decoded bytes.
func acceptsCoding(lines []string, coding string) bool {
	coding = strings.TrimPrefix(coding, "x-")
	named, star := false, false
	for _, line := range lines {
		for _, member := range strings.Split(line, ",") {
			name, params, _ := strings.Cut(member, ";")
			name = strings.TrimPrefix(lowerASCII(trimOWS(name)), "x-")
			accepted := weightAboveZero(params)
			switch name {
			case coding:
				if !accepted {
					return false // refused by name: "*" does not bring it back
				}
				named = true
			case "*":
				star = accepted
			}
		}
	}
	return named || star
}

// weightAboveZero reports whether an Accept-Encoding member's parameters
// give it a weight above zero (RFC 9110 §12.4.2); no weight is 1.
func weightAboveZero(params string) bool {
	for _, param := range strings.Split(params, ";") {
		name, value, _ := strings.Cut(trimOWS(param), "=")
		if !equalFoldASCII(trimOWS(name), "q") {
			continue
		}
		q, err := strconv.ParseFloat(trimOWS(value), 64)
		return err == nil && q > 0 // an unreadable weight: not accepted, to be safe
	}
	return true
}
