package httpcache

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// cacheKey returns the primary cache key of a request (RFC 9111 §2): the
// normalised target URI. GET and HEAD share a key, because a HEAD request is
// answered from a stored GET response (RFC 9110 §9.3.2).
func cacheKey(u *url.URL) string {
	return string(appendCacheKey(nil, u))
}

// appendCacheKey appends the cache key of u to b, so that a hit can build
// it in a buffer on the stack.
func appendCacheKey(b []byte, u *url.URL) []byte {
	scheme := lowerASCII(u.Scheme)
	host := lowerASCII(u.Host)
	// A default port names the same origin as no port (RFC 9110 §4.2.3).
	if scheme == "http" && strings.HasSuffix(host, ":80") {
		host = host[:len(host)-3]
	} else if scheme == "https" && strings.HasSuffix(host, ":443") {
		host = host[:len(host)-4]
	}
	path := u.RawPath
	if path == "" && !needsEscaping(u.Path) {
		path = u.Path
	} else {
		path = u.EscapedPath()
	}
	if path == "" {
		path = "/"
	}
	b = append(b, scheme...)
	b = append(b, "://"...)
	b = append(b, host...)
	b = append(b, path...)
	if u.RawQuery != "" || u.ForceQuery {
		b = append(b, '?')
		b = append(b, u.RawQuery...)
	}
	return b
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
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// needsEscaping reports whether a decoded path has bytes that its escaped
// form writes differently; most paths have none, and are their own
// escaped form.
func needsEscaping(path string) bool {
	for i := 0; i < len(path); i++ {
		c := path[i]
		unreserved := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-._~/$&+,;=:@", c) >= 0
		if !unreserved {
			return true
		}
	}
	return false
}

// varyFieldNames returns the lowercased, sorted, de-duplicated field names
// a response's Vary header lists, and whether it lists "*" or a member that
// is not a field name (RFC 9111 §4.1).
func varyFieldNames(h http.Header) (names []string, star bool) {
	for _, line := range h["Vary"] {
		for _, name := range strings.Split(line, ",") {
			name = strings.ToLower(trimOWS(name))
			switch {
			case name == "":
			case name == "*" || !isToken(name):
				// A member that is not a field name cannot be matched;
				// like "*", it makes the response unusable for others.
				star = true
			default:
				names = append(names, name)
			}
		}
	}
	sort.Strings(names)
	return compactSorted(names), star
}

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
// matches only an absent field).
func appendVaryVariant(b *strings.Builder, req *http.Request, varyNames []string) {
	for _, name := range varyNames {
		b.WriteString(name)
		values, present := req.Header[http.CanonicalHeaderKey(name)]
		if !present {
			b.WriteString("\x01\n")
			continue
		}
		b.WriteByte(':')
		b.WriteString(normalizeFieldValue(name, values))
		b.WriteByte('\n')
	}
}

// credentialsVariantMark separates the Vary part of a variant from the
// fingerprint of the request's credentials (exchange.variant).
const credentialsVariantMark = "\x00credentials:"

// credentialFields are the request fields that identify a user: in a
// private cache, responses to different values never mix. readRequest's
// one-pass switch lists them too; TestCredentialFieldsAgree keeps the two
// in step.
var credentialFields = []string{"Authorization", "Cookie"}

// hasCredentials reports whether a request carries any credential field.
func hasCredentials(req *http.Request) bool {
	for _, name := range credentialFields {
		if len(req.Header[name]) > 0 {
			return true
		}
	}
	return false
}

// credentialsFingerprint hashes a request's Authorization and Cookie
// fields, so that keys and stored entries do not hold the secrets.
func credentialsFingerprint(req *http.Request) string {
	h := sha256.New()
	for _, name := range credentialFields {
		for _, value := range req.Header[name] {
			h.Write([]byte(name))
			h.Write([]byte{0})
			h.Write([]byte(value))
			h.Write([]byte{0})
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// caseInsensitiveFields are request fields whose values are defined to be
// case-insensitive, so that §4.1 lets a cache compare them case-folded.
var caseInsensitiveFields = map[string]bool{
	"accept-encoding": true, // content-codings, RFC 9110 §8.4.1
	"accept-charset":  true, // charsets, RFC 9110 §8.3.2
	"accept-language": true, // language tags, RFC 9110 §8.5.1
}

// normalizeFieldValue combines a field's lines into one list and removes
// white space around its members, as RFC 9111 §4.1 allows.
func normalizeFieldValue(name string, values []string) string {
	var members []string
	for _, line := range values {
		for _, member := range strings.Split(line, ",") {
			if member = trimOWS(member); member != "" {
				members = append(members, member)
			}
		}
	}
	joined := strings.Join(members, ",")
	if caseInsensitiveFields[name] {
		joined = strings.ToLower(joined)
	}
	return joined
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
