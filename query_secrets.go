package httpcache

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
	"sync"
)

// Query secrets: the values of query parameters that carry credentials
// (those logs redact: DefaultRedactedQueryParams, WithRedactedQueryParams)
// enter storage keys as keyed fingerprints, never as they were sent. A key
// is stored in clear (a disk file's header, a Redis key's name), so a
// token in a URL would otherwise be at rest there. Two values still have
// two keys; the same value, with the same secret (the partitions'), the
// same key, so that invalidation and every Transport that shares the
// secret find it.

// querySecretMark starts a fingerprinted value in a key, so that it never
// reads as a value that was sent.
const querySecretMark = "~h"

// querySecretDigits is the length of a value's fingerprint in hex: 128
// bits, collision-free for any number of tokens a cache will see.
const querySecretDigits = 32

// querySecrets fingerprints the values of secret query parameters.
type querySecrets struct {
	names  []string // matched without regard to case, unescaped
	secret []byte
	// nameLengths has bit n set when a name is n bytes long (n < 64), or
	// when one is longer; firstBytes is set for the first byte of a name,
	// in both cases: most parts are told apart by these alone.
	nameLengths uint64
	firstBytes  [256]bool

	mu     sync.RWMutex
	cached map[string]string // value as sent → fingerprinted value
}

// newQuerySecrets returns the fingerprinter of names' values, or nil when
// names is empty.
func newQuerySecrets(names []string, secret []byte) *querySecrets {
	if len(names) == 0 {
		return nil
	}
	q := &querySecrets{names: names, secret: secret, cached: make(map[string]string)}
	for _, name := range names {
		q.nameLengths |= 1 << min(len(name), 63)
		if name != "" {
			q.firstBytes[lowerByte(name[0])], q.firstBytes[upperByte(name[0])] = true, true
		}
	}
	return q
}

// holdsSecret reports whether a raw query has a value of a secret
// parameter.
func (q *querySecrets) holdsSecret(raw string) bool {
	if q == nil || raw == "" {
		return false
	}
	for raw != "" {
		var part string
		part, raw = nextQueryPart(raw)
		if q.isSecret(part) {
			return true
		}
	}
	return false
}

// nextQueryPart splits a raw query at its first separator: '&', or ';',
// which some servers split parameters on too (a token after a ';' must not
// reach a key in clear).
func nextQueryPart(raw string) (part, rest string) {
	i := strings.IndexAny(raw, "&;")
	if i < 0 {
		return raw, ""
	}
	return raw[:i], raw[i+1:]
}

// isSecret reports whether a query part ("name=value") is a secret
// parameter's, with a value.
func (q *querySecrets) isSecret(part string) bool {
	if q == nil || part == "" {
		return false
	}
	if first := part[0]; first != '%' && first != '+' && !q.firstBytes[first] {
		return false // the common case: no secret name starts so, escaped or not
	}
	name, value, found := strings.Cut(part, "=")
	if !found || value == "" {
		return false
	}
	if strings.IndexByte(name, '%') >= 0 || strings.IndexByte(name, '+') >= 0 {
		if unescaped, err := url.QueryUnescape(name); err == nil {
			name = unescaped
		}
	} else if len(name) < 64 && q.nameLengths&(1<<len(name)) == 0 {
		return false // no secret name is that long
	}
	for _, secret := range q.names {
		if equalFoldASCII(secret, name) {
			return true
		}
	}
	return false
}

// appendPart appends a query part (split at '&') to b: as sent, or, for a
// part that holds a secret parameter's value (secretValueAt), what comes
// before the value and the value's fingerprint.
func (q *querySecrets) appendPart(b []byte, part string) []byte {
	at, ok := q.secretValueAt(part)
	if !ok {
		return append(b, part...)
	}
	b = append(b, part[:at]...)
	return append(b, q.fingerprint(part[at:])...)
}

// secretValueAt returns where, in a query part split at '&', the value of
// a secret parameter begins: that of the part itself ("token=v"), or of a
// parameter after a ';' in it ("page=1;token=v"), which some servers split
// parameters on. The value runs to the part's end, ';'s and all: a server
// that reads ';' literally sees them in its value ("token=ab;cd").
func (q *querySecrets) secretValueAt(part string) (int, bool) {
	if q == nil {
		return 0, false
	}
	return valueAt(part, q.isSecret)
}

// valueAt returns where, in a query part split at '&', the value of the
// first parameter that secret reports begins, trying the part itself and
// then what follows each ';' in it (secret is given "name=value..."). Keys
// (querySecrets) and logs (redactor) find secrets the same way.
func valueAt(part string, secret func(string) bool) (int, bool) {
	for start := 0; ; {
		rest := part[start:]
		if secret(rest) {
			return start + strings.IndexByte(rest, '=') + 1, true
		}
		next := strings.IndexByte(rest, ';')
		if next < 0 {
			return 0, false
		}
		start += next + 1
	}
}

// appendQuery appends a raw query, after its "?", with secret values
// fingerprinted.
func (q *querySecrets) appendQuery(b []byte, raw string) []byte {
	first := true
	for part := range strings.SplitSeq(raw, "&") {
		if !first {
			b = append(b, '&')
		}
		first = false
		b = q.appendPart(b, part)
	}
	return b
}

// appendSecretParts appends to b the secret parameters' parts of a raw
// query, their values fingerprinted, each after a '&': what tells apart
// requests that authorize with a query token, for what is kept per user
// rather than per URL (the back-off scope).
func (q *querySecrets) appendSecretParts(b []byte, raw string) []byte {
	if !q.holdsSecret(raw) {
		return b
	}
	for part := range strings.SplitSeq(raw, "&") {
		if at, ok := q.secretValueAt(part); ok {
			name := part[:at]
			if i := strings.LastIndexByte(name[:len(name)-1], ';'); i >= 0 {
				name = name[i+1:] // the secret parameter, not what comes before its ';'
			}
			b = append(append(append(b, '&'), name...), q.fingerprint(part[at:])...)
		}
	}
	return b
}

// fingerprint returns what a secret value is keyed as. Fingerprints are
// kept (bounded), so that a hit computes no HMAC.
func (q *querySecrets) fingerprint(value string) string {
	q.mu.RLock()
	kept, ok := q.cached[value]
	q.mu.RUnlock()
	if ok {
		return kept
	}
	mac := hmac.New(sha256.New, q.secret)
	mac.Write([]byte("query\x00"))
	mac.Write([]byte(value))
	fingerprinted := querySecretMark + hex.EncodeToString(mac.Sum(nil)[:querySecretDigits/2])
	if len(value) > maxCachedFingerprintInput {
		return fingerprinted
	}
	q.mu.Lock()
	if len(q.cached) >= maxCachedFingerprints {
		clear(q.cached)
	}
	q.cached[strings.Clone(value)] = fingerprinted
	q.mu.Unlock()
	return fingerprinted
}
