package httpcache

import (
	"errors"
	"net/url"
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

// url returns u for a log: no user information, and the configured query
// parameters' values redacted.
func (r redactor) url(u *url.URL) string {
	if u == nil {
		return ""
	}
	v := *u
	v.User = nil
	v.RawQuery = r.query(v.RawQuery)
	// An opaque target is sent as it is, a query in it too.
	if target, query, found := strings.Cut(v.Opaque, "?"); found {
		v.Opaque = target + "?" + r.query(query)
	}
	return v.String()
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
// leaving the rest as it was written.
func (r redactor) query(raw string) string {
	if raw == "" {
		return raw
	}
	pairs := strings.Split(raw, "&")
	for i, pair := range pairs {
		name, _, hasValue := strings.Cut(pair, "=")
		if decoded, err := url.QueryUnescape(name); err == nil {
			name = decoded
		}
		if hasValue && r.redacts(name) {
			pairs[i] = pair[:strings.IndexByte(pair, '=')+1] + redactedValue
		}
	}
	return strings.Join(pairs, "&")
}

func (r redactor) redacts(name string) bool {
	for _, p := range r.params {
		if equalFoldASCII(p, name) {
			return true
		}
	}
	return false
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
