package httpcache

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Defaults of the settings.
const (
	// DefaultMemoryBytes bounds the memory store New uses when no Storage is
	// given, and a MemoryStorage made with a bound of zero or less.
	DefaultMemoryBytes = 64 << 20
	// DefaultMaxBodyBytes is the largest body stored by default. Larger
	// bodies stream through to the caller untouched.
	DefaultMaxBodyBytes = 8 << 20
	// DefaultStorageTimeout bounds each storage operation.
	DefaultStorageTimeout = 2 * time.Second
	// DefaultName is the cache's name in Cache-Status.
	DefaultName = "httpcache"
)

// Option configures a Transport. Pass options to New or NewTransport.
type Option func(*config) error

// config is the Transport's settings. Each Option checks the values it
// sets; NewTransport fills in the defaults that depend on others (the
// Storage, the policy's mode).
type config struct {
	upstream http.RoundTripper
	storage  Storage
	shared   bool
	logger   *slog.Logger
	// silent: logger discards every record (slog.DiscardHandler, the
	// default), so that a decision formats nothing, not even a level check.
	silent       bool
	responseHook func(ResponseEvent)
	now          func() time.Time
	// systemClock: now is the system clock (time.Now, read through a
	// systemClock once the Transport is made), whose readings carry the
	// monotonic clock; the built-in memory store then reads none of its own.
	systemClock    bool
	name           string
	maxBodyBytes   int64
	storageTimeout time.Duration
	policy         policy
	rules          ruleSet
	queryKeying    queryKeying
	ruleKeying     bool // a rule sets IgnoredQueryParams

	backgroundLimit   int
	backgroundTimeout time.Duration
	coalesce          CoalesceOptions

	credentialFields []string // canonical
	// extraCredentialFields are added to credentialFields once every
	// option has run (settleCredentialFields).
	extraCredentialFields []string
	partition             PartitionFunc
	sharedBackends        bool
	partitionSecret       []byte

	backoff           BackoffOptions
	redacted          []string
	tagFields         []string // canonical
	synchronousWrites bool
	closeTimeout      time.Duration
	drain             bodyDrain
}

func defaultConfig() config {
	return config{
		upstream:          http.DefaultTransport,
		logger:            slog.New(slog.DiscardHandler),
		now:               time.Now,
		systemClock:       true,
		name:              DefaultName,
		maxBodyBytes:      DefaultMaxBodyBytes,
		storageTimeout:    DefaultStorageTimeout,
		backgroundLimit:   DefaultBackgroundLimit,
		backgroundTimeout: DefaultBackgroundTimeout,
		credentialFields:  slices.Clone(DefaultCredentialFields),
		closeTimeout:      DefaultCloseTimeout,
		redacted:          DefaultRedactedQueryParams,
		tagFields:         DefaultTagFields,
		drain:             bodyDrain{maxBytes: DefaultDrainBytes, timeout: DefaultDrainTimeout},
		policy: policy{
			heuristicFraction:   0.1,
			heuristicMax:        24 * time.Hour,
			keepForRevalidation: 24 * time.Hour,
			keepStale:           DefaultStaleRetention,
		},
	}
}

// WithTransport sets where requests that the cache cannot answer go. Nil
// means http.DefaultTransport, as for http.Client, so that wrapping a
// client's transport works whether or not it has one:
//
//	client.Transport = httpcache.New(httpcache.WithTransport(client.Transport))
func WithTransport(rt http.RoundTripper) Option {
	return func(c *config) error {
		if rt == nil || isNilPointer(rt) {
			rt = http.DefaultTransport
		}
		c.upstream = rt
		return nil
	}
}

// isNilPointer reports an interface holding a nil pointer, such as a
// typed-nil *MemoryStorage: not nil as an interface, and a panic on use.
func isNilPointer(v any) bool {
	r := reflect.ValueOf(v)
	return r.Kind() == reflect.Pointer && r.IsNil()
}

// WithStorage sets where responses are kept. The default is a MemoryStorage
// of DefaultMemoryBytes.
//
// With a Storage not wholly in memory (a DiskStorage, Redis, your own;
// see MemoryTiered), the Transport writes entries behind the requests, on a
// goroutine of its own, so that a caller does not wait for a write; Close
// waits for the writes still pending. A TieredStorage's memory tier is
// written at once and its shared tier behind.
func WithStorage(s Storage) Option {
	return func(c *config) error {
		if s == nil {
			return errors.New("WithStorage: storage is nil")
		}
		if isNilPointer(s) {
			return fmt.Errorf("WithStorage: storage is a nil %T", s)
		}
		c.storage = s
		return nil
	}
}

// WithShared makes the cache follow the rules for shared caches (RFC 9111):
// s-maxage and proxy-revalidate apply, private responses are not stored,
// and responses to requests with Authorization only when §3.5 allows. Use
// it when one Transport serves many users, as in a proxy or a gateway. The
// default is a private cache.
func WithShared(shared bool) Option {
	return func(c *config) error {
		c.shared = shared
		return nil
	}
}

// DefaultStaleRetention is how long past its freshness a stored response
// without validators is kept by default (WithStaleRetention).
const DefaultStaleRetention = time.Hour

// WithStaleRetention sets how long past its freshness a stored response
// without validators (no ETag, no Last-Modified) is kept, within the
// store's bound: a request with max-stale, a HEAD response that freshens
// it (RFC 9111 §4.3.5) and the stale windows can still use it. Responses
// with validators are kept longer, since a conditional request can still
// save their bodies. Zero drops them when they go stale. The default is
// DefaultStaleRetention.
func WithStaleRetention(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("WithStaleRetention: %v is negative", d)
		}
		c.policy.keepStale = d
		return nil
	}
}

// WithBodyDrain sets what the cache reads of a response body the caller
// closes before its end, so that the response is stored whole: at most
// maxBytes more, for at most timeout (DefaultDrainBytes,
// DefaultDrainTimeout). json.NewDecoder(resp.Body).Decode(&v) stops at
// the end of the value, before the body's end; without a drain, nothing
// would be stored. A body whose rest is larger, or slower, is not stored.
// A body that is not one of net/http's transports' own (a RoundTripper's
// that builds its responses), read to its declared length, gets one more
// read at Close, which must say EOF, so that a body longer than it
// declares is never stored cut. A maxBytes of zero turns draining off, and
// such a body is then not stored.
func WithBodyDrain(maxBytes int64, timeout time.Duration) Option {
	return func(c *config) error {
		if maxBytes < 0 || timeout <= 0 {
			return fmt.Errorf("WithBodyDrain: %d bytes, %v: want bytes of zero or more and a positive timeout", maxBytes, timeout)
		}
		c.drain = bodyDrain{maxBytes: maxBytes, timeout: timeout}
		return nil
	}
}

// WithSynchronousWrites makes the Transport write entries to a Storage not
// wholly in memory on the caller's goroutine, before the response's body
// reaches its end, instead of behind the requests. For command-line tools
// and programs that may exit without Close (log.Fatal, os.Exit): an entry
// is stored when the body has been read. The default writes behind.
func WithSynchronousWrites(synchronous bool) Option {
	return func(c *config) error {
		c.synchronousWrites = synchronous
		return nil
	}
}

// WithCloseTimeout bounds how long Close waits for entries still waiting
// to be written behind the requests; those still queued then are not
// stored. The default is DefaultCloseTimeout.
func WithCloseTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("WithCloseTimeout: %v is not a positive duration", d)
		}
		c.closeTimeout = d
		return nil
	}
}

// WithStripSetCookie makes a shared cache (WithShared) store responses that
// set cookies (Set-Cookie, Set-Cookie2) without their cookies, for origins
// that set tracking cookies on public pages: the response that carried the
// cookie still reaches its caller with it, and later requests get the
// stored response without. By default a shared cache does not store such
// responses at all, since it would replay one client's cookie to every
// other. A private cache stores them without their cookies whatever this
// option says: a hit never sets a cookie.
func WithStripSetCookie(strip bool) Option {
	return func(c *config) error {
		c.policy.stripSetCookie = strip
		return nil
	}
}

// WithLogger sets the logger: debug records for each decision, warnings for
// storage errors. The default discards logs.
func WithLogger(logger *slog.Logger) Option {
	return func(c *config) error {
		if logger == nil {
			return errors.New("WithLogger: logger is nil")
		}
		c.logger = logger
		return nil
	}
}

// WithClock sets the clock the cache reads to compute ages and freshness.
// Tests use it to move time without waiting. The default is the system
// clock: time.Now, whose wall time is read again every 10 ms and advanced by
// the monotonic clock between.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errors.New("WithClock: clock is nil")
		}
		c.now, c.systemClock = now, false
		return nil
	}
}

// WithName sets the cache's name in the Cache-Status header. The default is
// DefaultName. The name is written as a structured-field token (RFC 9211
// §2, RFC 8941 §3.3.4): a letter or "*" first, then token characters.
func WithName(name string) Option {
	return func(c *config) error {
		if !isToken(name) || !isSFTokenStart(name[0]) {
			return fmt.Errorf("WithName: %q is not a structured-field token (a letter or * first, then token characters)", name)
		}
		c.name = name
		return nil
	}
}

// WithMaxBodyBytes sets the largest response body that is stored. Larger
// bodies stream through to the caller and are not stored. The default is
// DefaultMaxBodyBytes.
func WithMaxBodyBytes(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("WithMaxBodyBytes: %d is not a positive size", n)
		}
		c.maxBodyBytes = n
		return nil
	}
}

// WithStorageTimeout bounds each storage operation, so that a slow store
// delays a request by at most this much before it goes to the network. It
// is passed to the Storage as a context deadline, so a store must honour
// its context for the bound to hold. Calls to a store that reports itself
// local (LocalStorage: MemoryStorage, DiskStorage), which a context could
// not interrupt, get none. A lookup, which the request waits for, also
// gets at most half the time its caller's deadline leaves, so that a store
// that does not answer leaves the request the rest to reach the origin;
// that share applies to a store that bounds its own calls
// (TimeBoundedStorage) too. The default is DefaultStorageTimeout.
func WithStorageTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("WithStorageTimeout: %v is not a positive duration", d)
		}
		c.storageTimeout = d
		return nil
	}
}

// WithHeuristic sets the heuristic freshness of responses that have a
// Last-Modified date and no explicit lifetime (RFC 9111 §4.2.2): fraction of
// the time since they were last modified, at most maxLifetime. The default
// is 10%, at most 24 hours. A fraction of zero turns the heuristic off.
func WithHeuristic(fraction float64, maxLifetime time.Duration) Option {
	return func(c *config) error {
		if fraction < 0 || fraction > 1 || math.IsNaN(fraction) {
			return fmt.Errorf("WithHeuristic: fraction %v is not between 0 and 1", fraction)
		}
		if maxLifetime < 0 {
			return fmt.Errorf("WithHeuristic: negative maximum lifetime %v", maxLifetime)
		}
		c.policy.heuristicFraction = fraction
		c.policy.heuristicMax = maxLifetime
		return nil
	}
}

// WithBackgroundLimit bounds how many stale-while-revalidate revalidations
// run in the background at once. A stale response that cannot get one
// because of the bound is still served; a later request revalidates it. The
// default is DefaultBackgroundLimit.
func WithBackgroundLimit(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("WithBackgroundLimit: %d is not a positive number", n)
		}
		c.backgroundLimit = n
		return nil
	}
}

// WithBackgroundTimeout bounds each background revalidation: the request
// to the origin and reading its response. The default is
// DefaultBackgroundTimeout.
func WithBackgroundTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("WithBackgroundTimeout: %v is not a positive duration", d)
		}
		c.backgroundTimeout = d
		return nil
	}
}

// isToken reports whether s is a non-empty HTTP token (RFC 9110 §5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || isDelimiter(c) {
			return false
		}
	}
	return true
}

func isDelimiter(c byte) bool {
	return strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0
}

// isSFTokenStart reports whether c may start a structured-field token
// (RFC 8941 §3.3.4: ALPHA or "*").
func isSFTokenStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '*'
}
