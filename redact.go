package httpcache

import (
	"errors"
	"net/url"
	"slices"
	"strings"
)

// Safe logs: URLs in log records, and the keys of storage errors, have
// the values of configured query parameters redacted, and no user
// information. No record holds a request's header values, so credentials
// in fields never reach a log.

// DefaultRedactedQueryParams are the query parameters that carry secrets
// by default (WithRedactedQueryParams); matched without regard to case.
// Logs never show their values, and storage keys hold only keyed
// fingerprints of them, so that no disk file or Redis key holds a token.
var DefaultRedactedQueryParams = []string{
	"token", "access_token", "refresh_token", "id_token", "api_key", "apikey", "key", "sig", "signature",
	"password", "passwd", "secret", "client_secret", "code", "auth", "session",
	"X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "X-Goog-Signature", "X-Goog-Credential",
}

// redactedValue replaces a redacted parameter's value.
const redactedValue = "REDACTED"

// WithRedactedQueryParams replaces the query parameters that carry
// secrets (DefaultRedactedQueryParams): logs never show their values, and
// storage keys hold only fingerprints of them, keyed with the partition
// secret (WithPartitionSecret). Names are matched without regard to case.
func WithRedactedQueryParams(names ...string) Option {
	return func(c *config) error {
		c.redacted = append([]string(nil), names...)
		return nil
	}
}

// redactor writes URLs and keys for logs.
type redactor struct{ params []string }

// url returns u for a log: no user information, no fragment (never sent,
// and where OAuth puts tokens: "#access_token="), and the configured query
// parameters' values redacted.
func (r redactor) url(u *url.URL) string {
	if u == nil {
		return ""
	}
	v := *u
	v.User = nil
	v.Fragment, v.RawFragment = "", ""
	v.RawQuery = r.query(v.RawQuery)
	// An opaque target is sent as it is, a query in it too, and user
	// information in it ("//alice:secret@host/x").
	target, query, hasQuery := strings.Cut(v.Opaque, "?")
	target = withoutOpaqueUserinfo(target)
	if hasQuery {
		target += "?" + r.query(query)
	}
	v.Opaque = target
	return v.String()
}

// withoutOpaqueUserinfo removes the user information of an opaque target
// written with an authority ("//user:password@host/path").
func withoutOpaqueUserinfo(opaque string) string {
	if userinfo, ok := opaqueUserinfo(opaque); ok {
		return "//" + opaque[len("//")+len(userinfo)+len("@"):]
	}
	return opaque
}

// opaqueUserinfo returns the user information of an opaque target written
// with an authority ("user:password" of "//user:password@host/path").
func opaqueUserinfo(opaque string) (string, bool) {
	rest, ok := strings.CutPrefix(opaque, "//")
	if !ok {
		return "", false
	}
	authority, _, _ := strings.Cut(rest, "/")
	i := strings.LastIndexByte(authority, '@')
	if i < 0 {
		return "", false
	}
	return rest[:i], true
}

// secrets returns what u carries that a log must not show: its user
// information, its fragment, and the values of the configured query
// parameters, in its query or its opaque target, as written and decoded.
// Values shorter than four bytes are left out: replacing them in a message
// would garble it, and they are no secret worth the name.
func (r redactor) secrets(u *url.URL) []string {
	if u == nil {
		return nil
	}
	var out []string
	add := func(s string) {
		if len(s) >= 4 {
			out = append(out, s)
		}
	}
	if u.User != nil {
		// As given, and escaped as the URL writes them ("S3CR%40ET").
		add(u.User.String())
		add(u.User.Username())
		password, _ := u.User.Password()
		add(password)
		for part := range strings.SplitSeq(u.User.String(), ":") {
			add(part)
		}
	}
	add(u.Fragment)
	add(u.RawFragment)
	add(u.EscapedFragment()) // as u.String() writes it
	if userinfo, ok := opaqueUserinfo(u.Opaque); ok {
		add(userinfo)
	}
	// The query, one in an opaque target, and an implicit-flow fragment
	// ("access_token=...&scope=..."), read as a query, as written and as
	// u.String() escapes it.
	queries := []string{u.RawQuery, u.Fragment, u.EscapedFragment()}
	if _, query, found := strings.Cut(u.Opaque, "?"); found {
		queries = append(queries, query)
	}
	for _, raw := range queries {
		for pair := range strings.SplitSeq(raw, "&") {
			at, ok := r.secretValueAt(pair)
			if !ok {
				continue
			}
			value := pair[at:]
			add(value)
			if decoded, err := url.QueryUnescape(value); err == nil && decoded != value {
				add(decoded)
			}
		}
	}
	// The longest first: a secret that holds a shorter one ("key=abcd",
	// "sig=abcdS3CRET") is replaced whole, not around the shorter.
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// text returns s for a log about a request to u: the secrets u carries
// (secrets) replaced, wherever they appear. An upstream's error or panic
// may name the URL in any form (a *url.Error inside another, "GET <url>
// giving up after 3 attempts"), which no parser finds.
func (r redactor) text(u *url.URL, s string) string {
	for _, secret := range r.secrets(u) {
		s = strings.ReplaceAll(s, secret, redactedValue)
	}
	return s
}

// key returns a storage key for a log: its URL part's query redacted; the
// partition, a keyed fingerprint, as it is.
func (r redactor) key(key string) string {
	urlPart, partition := KeyURL(key), KeyPartition(key)
	base, query, hasQuery := strings.Cut(urlPart, "?")
	if hasQuery {
		base += "?" + r.query(query)
	}
	if partition != "" {
		base += " partition " + partition
	}
	return base
}

// query redacts the values of the configured parameters in a raw query,
// leaving the rest as it was written (secretValueAt says where a value
// begins: after a '&' or a ';').
func (r redactor) query(raw string) string {
	if raw == "" {
		return raw
	}
	pairs := strings.Split(raw, "&")
	for i, pair := range pairs {
		if at, ok := r.secretValueAt(pair); ok {
			pairs[i] = pair[:at] + redactedValue
		}
	}
	return strings.Join(pairs, "&")
}

// secretValueAt returns where, in a query pair split at '&', the value of
// a configured parameter begins: that of the pair itself, or of a
// parameter after a ';' in it, which some servers split parameters on. The
// value runs to the pair's end, ';'s and all (querySecrets.secretValueAt).
func (r redactor) secretValueAt(pair string) (int, bool) {
	return valueAt(pair, func(rest string) bool {
		name, _, hasValue := strings.Cut(rest, "=")
		if decoded, err := url.QueryUnescape(name); err == nil {
			name = decoded
		}
		return hasValue && r.redacts(name)
	})
}

func (r redactor) redacts(name string) bool {
	for _, p := range r.params {
		if equalFoldASCII(p, name) {
			return true
		}
	}
	return false
}

// errAbout returns err for a log about a request to u: err (see err)
// with the secrets u carries replaced wherever its message has them.
func (r redactor) errAbout(u *url.URL, err error) error {
	if err == nil {
		return nil
	}
	return errors.New(r.text(u, r.err(err).Error()))
}

// err returns err for a log: a *url.Error, as net/http returns, carries
// the request's URL, which is redacted like any other.
func (r redactor) err(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	redacted := *ue
	if u, parseErr := url.Parse(ue.URL); parseErr == nil {
		redacted.URL = r.url(u)
	} else {
		redacted.URL = "(unreadable URL)"
	}
	return &redacted
}
