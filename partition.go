package httpcache

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Partitions: a request's credentials, and whatever a partition hook names
// for it, put it in a partition of its own. A response is stored under the
// key of its request's partition, and only requests of that partition find
// it: one user's response never answers another user's request, whatever
// the response's headers say and in both cache modes. Requests without
// credentials share the partition without a name.
//
// A partition is named by a keyed fingerprint (an HMAC-SHA-256) of the
// credentials, never by the credentials themselves, so that no store, file
// or log holds them.

// DefaultCredentialFields are the request fields that carry credentials by
// default: each puts a request in a partition of its own. Change the set
// with WithCredentialFields or WithExtraCredentialFields.
var DefaultCredentialFields = []string{
	"Authorization", "Proxy-Authorization", "Cookie",
	"X-Api-Key", "Api-Key", "X-Auth-Token", "X-Access-Token",
}

// PartitionFunc names the partition of a request for what the cache cannot
// see in its header: a token an upstream transport adds from the request's
// context, a client certificate, a tenant. Requests with different names
// never share a stored response or a request to the origin; the empty name
// adds nothing. It must be safe for concurrent use and fast: it runs on
// every request, hits included.
type PartitionFunc func(req *http.Request) string

// WithCredentialFields replaces the request fields that carry credentials
// (DefaultCredentialFields); Authorization stays among them whatever the
// names (RFC 9111 §3.5). The names are matched without regard to case,
// as field names are. A response to a request with any of them is stored
// in the partition of their values only, and in a shared cache only where
// RFC 9111 §3.5 allows (as for Authorization). At least one name is
// needed: without any, every user's response would answer every other
// user. Fields added with WithExtraCredentialFields are kept, whatever the
// order of the options.
func WithCredentialFields(names ...string) Option {
	return func(c *config) error {
		if len(names) == 0 {
			return errors.New("WithCredentialFields: no field names; requests with credentials would share responses (name at least one, such as \"Authorization\")")
		}
		fields, err := canonicalFieldNames("WithCredentialFields", names)
		if err != nil {
			return err
		}
		c.credentialFields = fields
		return nil
	}
}

// WithExtraCredentialFields adds request fields that carry credentials to
// the set (DefaultCredentialFields, or those of WithCredentialFields,
// whatever the order of the options), for APIs with a header of their
// own, such as "X-Goog-Api-Key".
func WithExtraCredentialFields(names ...string) Option {
	return func(c *config) error {
		fields, err := canonicalFieldNames("WithExtraCredentialFields", names)
		if err != nil {
			return err
		}
		c.extraCredentialFields = append(c.extraCredentialFields, fields...)
		return nil
	}
}

// settleCredentialFields adds the extra credential fields to the set, now
// that every option has run, and Authorization, which carries credentials
// whatever the configuration (RFC 9111 §3.5): a set without it would let a
// Vary: Authorization response keep the bearer token, in clear, in its
// variant, and requests that differ only in it share a response.
func settleCredentialFields(c *config) {
	for _, name := range slices.Concat(c.extraCredentialFields, []string{"Authorization"}) {
		if !slices.Contains(c.credentialFields, name) {
			c.credentialFields = append(c.credentialFields, name)
		}
	}
}

// WithPartition sets a hook that names the partition of each request, for
// credentials the cache cannot see in the request's header: add it
// whenever credentials are added below the cache (by the upstream
// transport, from the context) or differ between Transports sharing one
// Storage. The name applies to the storage key and to the sharing of
// requests in flight (WithCoalescing).
func WithPartition(partition PartitionFunc) Option {
	return func(c *config) error {
		if partition == nil {
			return errors.New("WithPartition: the function is nil")
		}
		c.partition = partition
		return nil
	}
}

// WithSharedBackends says that every server the Transport dials for a
// Host answers for it alike: requests with the same Host share stored
// responses whichever server they reach. Use it for a load-balanced
// gateway (httputil.ReverseProxy whose Director picks a backend) or for
// client-side load balancing (requests to several addresses with one
// req.Host), where every backend is yours. By default, when the server
// dialled (URL.Host) is not the Host sent (req.Host), the server names a
// partition of its own, so that a page one server answered for a forged
// Host never answers requests that reach the real one (a forward proxy
// forwards "GET http://attacker.example/" with "Host: victim.example" as
// its client sent it); each backend then keeps its own copies.
func WithSharedBackends(shared bool) Option {
	return func(c *config) error {
		c.sharedBackends = shared
		return nil
	}
}

// WithPartitionSecret sets the secret partition fingerprints, and those
// of secret query values (WithRedactedQueryParams), are keyed with.
// Transports that share a Storage across processes (a disk directory, a
// Redis) share the stored responses of requests with credentials, or with
// a token in the query, only when they use the same secret: give each the
// same one, from where the application keeps its secrets. Without it, the
// secret is the Storage's (see PartitionSecretKeeper), or else one
// generated for the Transport; other responses are shared whatever the
// secret. The secret must be at least 16 bytes.
func WithPartitionSecret(secret []byte) Option {
	return func(c *config) error {
		if len(secret) < minPartitionSecret {
			return fmt.Errorf("WithPartitionSecret: %d bytes; at least %d are needed", len(secret), minPartitionSecret)
		}
		c.partitionSecret = slices.Clone(secret)
		return nil
	}
}

// PartitionSecretKeeper is implemented by a Storage that keeps the secret
// partition fingerprints are keyed with, so that every Transport using the
// store (without WithPartitionSecret) computes the same partitions:
// MemoryStorage, DiskStorage and TieredStorage generate one when made. A
// store shared by processes may keep one they all read.
type PartitionSecretKeeper interface {
	Storage
	// PartitionSecret returns the store's secret: at least 16 bytes, the
	// same on every call.
	PartitionSecret() []byte
}

// minPartitionSecret is the shortest secret accepted.
const minPartitionSecret = 16

// newPartitionSecret returns a random secret for a store or a Transport.
func newPartitionSecret() []byte {
	secret := make([]byte, 32)
	rand.Read(secret) // never fails (crypto/rand)
	return secret
}

// canonicalFieldNames checks field names and returns them canonical.
func canonicalFieldNames(option string, names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, name := range names {
		if !isToken(name) {
			return nil, fmt.Errorf("%s: %q is not a header field name", option, name)
		}
		out = append(out, http.CanonicalHeaderKey(name))
	}
	return out, nil
}

// maxCachedFingerprints bounds the fingerprints a partitioner keeps, so
// that a hit with credentials does not compute an HMAC each time; past it
// the cache starts afresh.
const maxCachedFingerprints = 8192

// maxCachedFingerprintInput bounds the input of a kept fingerprint, so that
// what fingerprint caches hold stays within maxCachedFingerprints times
// it (8 MiB); a longer credential is fingerprinted on each request.
const maxCachedFingerprintInput = 1 << 10

// partitioner names the partitions of requests: a keyed fingerprint of
// their credential fields and of the hook's name.
type partitioner struct {
	fields []string // canonical names
	// lengths has bit n set when a field's name is n bytes long (n < 64):
	// most fields of a request are told apart from every credential field
	// by their length alone (fieldIndex).
	lengths uint64
	hook    PartitionFunc
	secret  []byte
	// dialled: the server dialled names a partition when it is not the
	// Host sent (withDialTarget); off with WithSharedBackends.
	dialled bool
	// lastDialled is the name withDialTarget joined last, kept so that a
	// gateway's requests, which all join the same, allocate nothing.
	lastDialled atomic.Pointer[dialledName]

	seed maphash.Seed // of inputHash, for the kept suffixes

	mu     sync.RWMutex
	cached map[uint64]*keptSuffix // by inputHash
	// latest is the suffix computed last: a client that sends one
	// credential on every request, as an SDK with its API key does, finds
	// it without hashing its input or taking the lock. Set only when a
	// suffix is computed, so that requests of many users do not write it.
	latest atomic.Pointer[keptSuffix]
}

func newPartitioner(fields []string, hook PartitionFunc, secret []byte, dialled bool) *partitioner {
	p := &partitioner{fields: fields, hook: hook, secret: secret, dialled: dialled, seed: maphash.MakeSeed(), cached: make(map[uint64]*keptSuffix)}
	for _, name := range fields {
		if len(name) < 64 {
			p.lengths |= 1 << len(name)
		}
	}
	return p
}

// isCredential reports whether a canonical field name carries credentials.
func (p *partitioner) isCredential(canonicalName string) bool {
	return p.fieldIndex(canonicalName) >= 0
}

// fieldIndex returns the place of a canonical field name in the list of
// credential fields, or -1.
func (p *partitioner) fieldIndex(canonicalName string) int {
	if n := len(canonicalName); n < 64 && p.lengths&(1<<n) == 0 {
		return -1
	}
	return slices.Index(p.fields, canonicalName)
}

// keySuffix returns what follows the URL part of req's storage key: a NUL
// byte and the fingerprint naming req's partition; empty for a request
// without credentials and without a name from the hook. r is req as
// readRequestInto read it. Suffixes are kept, so that a hit computes no
// HMAC and allocates nothing.
func (p *partitioner) keySuffix(req *http.Request, r *cacheRequest) string {
	var named string
	if p.hook != nil {
		named = p.hook(req)
	}
	named = p.withDialTarget(named, req)
	if !r.hasCredentials && named == "" {
		return ""
	}
	// In the configured order, so that the fingerprint does not depend on
	// the order a map is ranged over.
	ordered := r.credentials // an array copied on the stack: no call to copy
	noted := ordered[:r.credentialCount]
	if len(noted) == 2 && noted[0].field > noted[1].field {
		noted[0], noted[1] = noted[1], noted[0]
	}
	if r.credentialsOverflow {
		noted = p.credentialsOf(req)
	}
	// A kept suffix was computed from values checked to be sendable; so
	// an input that matches one needs no check.
	if latest := p.latest.Load(); latest != nil && p.matches(latest, noted, named) {
		return latest.suffix
	}
	// The kept suffixes are found by a hash of the input, computed without
	// copying it, and the input is compared piece by piece: a hit neither
	// builds the input nor hashes one long string.
	sum := p.inputHash(noted, named)
	p.mu.RLock()
	kept, ok := p.cached[sum]
	p.mu.RUnlock()
	if ok && p.matches(kept, noted, named) {
		return kept.suffix
	}
	if unsendableCredentials(noted) {
		r.unsendableCredential = true // a bypass: no suffix is kept for it
		return ""
	}
	return p.newKeySuffix(sum, noted, named)
}

// withDialTarget returns the name a request's partition has from the hook
// (name), joined with the server net/http dials (URL.Host) when that is
// not the Host it sends (req.Host). The key holds the Host sent, so that a
// gateway's clients share entries; the server dialled then names a
// partition, so that a page one server answered for a forged Host
// ("GET http://attacker.example/", "Host: victim.example", as a forward
// proxy forwards it) is never served to requests that reach the real
// victim.example. Invalidation still covers every partition of the URL.
//
// The joined name is told apart from every name the hook alone can give:
// a hook's name that begins with a NUL byte is escaped.
func (p *partitioner) withDialTarget(name string, req *http.Request) string {
	const dialMark, escapeMark = "\x00dial\x00", "\x00name\x00"
	if strings.HasPrefix(name, "\x00") {
		name = escapeMark + name
	}
	if !p.dialled || req.Host == "" || req.URL == nil || req.Host == req.URL.Host {
		return name // the common case: http.NewRequest sets Host to URL.Host
	}
	scheme := lowerASCII(req.URL.Scheme)
	dialled := normalizeHost(scheme, req.URL.Host)
	if dialled == normalizeHost(scheme, req.Host) {
		return name
	}
	if last := p.lastDialled.Load(); last != nil && last.dialled == dialled && last.name == name {
		return last.joined
	}
	joined := dialMark + dialled + "\x00" + name
	p.lastDialled.Store(&dialledName{dialled: dialled, name: name, joined: joined})
	return joined
}

// dialledName is a name withDialTarget joined, and what it joined.
type dialledName struct{ dialled, name, joined string }

// unsendableCredentials reports a credential value net/http refuses to
// send (cacheRequest.unsendableCredential).
func unsendableCredentials(credentials []notedCredential) bool {
	for _, c := range credentials {
		if unsendableValues(c.values) {
			return true
		}
	}
	return false
}

// inputHash hashes what appendInput would append, piece by piece.
func (p *partitioner) inputHash(credentials []notedCredential, named string) uint64 {
	h := uint64(len(credentials))
	for _, c := range credentials {
		values := c.values
		h = mixHash(h, uint64(c.field)<<32|uint64(len(values)))
		for _, value := range values {
			h = mixHash(h, maphash.String(p.seed, value))
		}
	}
	if named != "" {
		h = mixHash(h^namedPartitionMark, maphash.String(p.seed, named))
	}
	return h
}

// namedPartitionMark keeps a hook's name apart from credential values in
// inputHash.
const namedPartitionMark = 0x9e3779b97f4a7c15

func mixHash(h, x uint64) uint64 {
	h = (h ^ x) * 0x100000001b3
	return h ^ h>>29
}

// matches reports whether kept was computed from what appendInput would
// append for credentials and named, without building it.
//
// A match also shows that the credential values are sendable, unchecked:
// kept's were, so its input has NULs only around its values, two for
// each. An input with as many values and a name as long, each value
// compared where it stands, is the same string only if its values have no
// NUL either; they are then kept's values.
func (p *partitioner) matches(kept *keptSuffix, credentials []notedCredential, named string) bool {
	values := 0
	for _, c := range credentials {
		values += len(c.values)
	}
	return values == kept.values && len(named) == kept.namedLength && p.inputIs(kept.input, credentials, named)
}

// inputIs reports whether input is what appendInput would append, without
// building it.
func (p *partitioner) inputIs(input string, credentials []notedCredential, named string) bool {
	for _, c := range credentials {
		field := p.fields[c.field]
		for _, value := range c.values {
			if !strings.HasPrefix(input, field) {
				return false
			}
			input = input[len(field):]
			if len(input) < len(value)+2 || input[0] != 0 || input[1:1+len(value)] != value || input[1+len(value)] != 0 {
				return false
			}
			input = input[len(value)+2:]
		}
	}
	if named != "" {
		if !strings.HasPrefix(input, namedPartitionSeparator) {
			return false
		}
		input = input[len(namedPartitionSeparator):]
		return input == named
	}
	return input == ""
}

// appendInput appends what a partition's fingerprint is computed from: the
// request's credential fields, in the order of the configured list, then
// of their map keys (found whatever their case: net/http sends a
// non-canonical key as it is), each with its values; then the hook's name.
func (p *partitioner) appendInput(b []byte, credentials []notedCredential, named string) []byte {
	for _, c := range credentials {
		b = appendCredentialValues(b, p.fields[c.field], c.values)
	}
	if named != "" {
		b = append(b, namedPartitionSeparator...)
		b = append(b, named...)
	}
	return b
}

// namedPartitionSeparator comes before a hook's name in a fingerprint's
// input.
const namedPartitionSeparator = "\x00partition\x00"

// credentialsOf returns every credential field of a request, ordered by
// the configured list, then by map key: for a request whose credentials
// overflow a cacheRequest's notes.
func (p *partitioner) credentialsOf(req *http.Request) []notedCredential {
	type keyed struct {
		notedCredential
		key string
	}
	var found []keyed
	for name, values := range req.Header {
		if field := p.fieldIndex(http.CanonicalHeaderKey(name)); field >= 0 && len(values) > 0 {
			found = append(found, keyed{notedCredential{field: field, values: values}, name})
		}
	}
	slices.SortFunc(found, func(a, b keyed) int {
		if a.field != b.field {
			return a.field - b.field
		}
		return strings.Compare(a.key, b.key)
	})
	notes := make([]notedCredential, len(found))
	for i, k := range found {
		notes[i] = k.notedCredential
	}
	return notes
}

func appendCredentialValues(b []byte, field string, values []string) []byte {
	for _, value := range values {
		b = append(b, field...)
		b = append(b, 0)
		b = append(b, value...)
		b = append(b, 0)
	}
	return b
}

// newKeySuffix computes and keeps the key suffix of an input whose
// inputHash is sum: NUL and the input's HMAC in hex.
func (p *partitioner) newKeySuffix(sum uint64, credentials []notedCredential, named string) string {
	input := string(p.appendInput(nil, credentials, named))
	mac := hmac.New(sha256.New, p.secret)
	mac.Write([]byte(input))
	suffix := "\x00" + hex.EncodeToString(mac.Sum(nil))
	if len(input) > maxCachedFingerprintInput {
		return suffix // computed each time: the kept inputs stay small
	}
	p.mu.Lock()
	if len(p.cached) >= maxCachedFingerprints {
		clear(p.cached)
	}
	kept := &keptSuffix{input: input, suffix: suffix, namedLength: len(named)}
	for _, c := range credentials {
		kept.values += len(c.values)
	}
	p.cached[sum] = kept
	p.latest.Store(kept)
	p.mu.Unlock()
	return suffix
}

// keptSuffix is a computed key suffix and the input it was computed from:
// values credential values, which are sendable, and a hook's name of
// namedLength bytes.
type keptSuffix struct {
	input, suffix string
	values        int
	namedLength   int
}
