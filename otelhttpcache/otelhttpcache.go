// Package otelhttpcache records what an httpcache.Transport does as
// OpenTelemetry metrics: a counter and a latency histogram of requests,
// fed by httpcache.WithResponseHook, and observable counters read from
// Transport.Stats at each collection. Attributes are few and bounded
// (outcome, host, mode, method), never paths, queries or credentials.
//
//	metrics, err := otelhttpcache.New(otel.GetMeterProvider(), otelhttpcache.Options{})
//	cache := httpcache.New(httpcache.WithResponseHook(metrics.Record))
//	registration, err := metrics.ObserveStats(cache)
//	defer registration.Unregister()
//
// It lives in a module of its own so that the cache's core does not
// depend on OpenTelemetry.
package otelhttpcache

import (
	"context"
	"errors"

	"github.com/c650553b/httpcache"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the instrumentation scope of the metrics.
const ScopeName = "github.com/c650553b/httpcache/otelhttpcache"

// Metric names.
const (
	RequestsName        = "httpcache.requests"         // counter of requests, by outcome
	RequestDurationName = "httpcache.request.duration" // histogram of RoundTrip times, in seconds
	StoredName          = "httpcache.responses.stored"
	NotStoredName       = "httpcache.responses.not_stored" // by reason
	CollapsedName       = "httpcache.requests.collapsed"
	StorageErrorsName   = "httpcache.storage.errors" // by operation
	QueuedWritesName    = "httpcache.write_queue.entries"
	QueuedBytesName     = "httpcache.write_queue.size"
	ServedBytesName     = "httpcache.served.size"
	BackgroundName      = "httpcache.background.revalidations" // by result
)

// Attribute keys.
const (
	OutcomeKey = attribute.Key("httpcache.outcome") // hit, stale-hit, uri-miss, vary-miss, stale, request, bypass, method, error
	ModeKey    = attribute.Key("httpcache.mode")    // private or shared
	HostKey    = attribute.Key("server.address")
	MethodKey  = attribute.Key("http.request.method")
	ReasonKey  = attribute.Key("httpcache.reason")
	OpKey      = attribute.Key("httpcache.operation")
	ResultKey  = attribute.Key("httpcache.result")
)

// Options configure Metrics.
type Options struct {
	// Shared says the Transport is a shared cache (httpcache.WithShared):
	// the mode attribute is "shared", else "private".
	Shared bool
	// OmitHost leaves the host attribute out, for a client that talks to
	// many hosts.
	OmitHost bool
}

// Metrics records one Transport's requests; make it with New. Its methods
// are safe for concurrent use.
type Metrics struct {
	meter    metric.Meter
	mode     attribute.KeyValue
	omitHost bool
	requests metric.Int64Counter
	duration metric.Float64Histogram
}

// New makes the request instruments on provider's meter for ScopeName.
func New(provider metric.MeterProvider, opts Options) (*Metrics, error) {
	if provider == nil {
		return nil, errors.New("otelhttpcache: the MeterProvider is nil")
	}
	m := &Metrics{meter: provider.Meter(ScopeName), mode: ModeKey.String("private"), omitHost: opts.OmitHost}
	if opts.Shared {
		m.mode = ModeKey.String("shared")
	}
	var err error
	if m.requests, err = m.meter.Int64Counter(RequestsName, metric.WithUnit("{request}"),
		metric.WithDescription("Requests the cache answered, by outcome")); err != nil {
		return nil, err
	}
	if m.duration, err = m.meter.Float64Histogram(RequestDurationName, metric.WithUnit("s"),
		metric.WithDescription("Time until the response's header was returned, by outcome")); err != nil {
		return nil, err
	}
	return m, nil
}

// Record counts one request; pass it to httpcache.WithResponseHook.
func (m *Metrics) Record(e httpcache.ResponseEvent) {
	attrs := [4]attribute.KeyValue{OutcomeKey.String(Outcome(e)), m.mode, MethodKey.String(e.Method)}
	n := 3
	if !m.omitHost {
		attrs[n] = HostKey.String(e.Host)
		n++
	}
	set := metric.WithAttributes(attrs[:n]...)
	ctx := context.Background()
	m.requests.Add(ctx, 1, set)
	m.duration.Record(ctx, e.Duration.Seconds(), set)
}

// Outcome names what the cache did for a request: "hit", "stale-hit" (a
// stale response served while it is revalidated in the background),
// "error" (RoundTrip failed), else the Cache-Status forward reason
// ("uri-miss", "vary-miss", "miss", "stale", "request", "bypass", "method"):
// "stale" covers a stale response revalidated with the origin and one
// served because the origin failed (stale-if-error), which
// Stats.Requests.StaleOnError counts apart.
func Outcome(e httpcache.ResponseEvent) string {
	switch {
	case e.Err != nil:
		return "error"
	case e.Cache.Hit && e.Cache.Stale():
		return "stale-hit"
	case e.Cache.Hit:
		return "hit"
	case e.Cache.Forward == "":
		return "unknown"
	}
	return e.Cache.Forward
}

// ObserveStats registers observable instruments that read t.Stats at each
// collection: responses stored and not stored, collapsed requests,
// storage errors, the write-behind queue, bytes served and background
// revalidations. Unregister the registration when t is closed.
func (m *Metrics) ObserveStats(t *httpcache.Transport) (metric.Registration, error) {
	if t == nil {
		return nil, errors.New("otelhttpcache: ObserveStats: the Transport is nil")
	}
	counter := func(name, unit, description string) (metric.Int64ObservableCounter, error) {
		return m.meter.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(description))
	}
	gauge := func(name, unit, description string) (metric.Int64ObservableGauge, error) {
		return m.meter.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(description))
	}
	var errs []error
	keep := func(err error) { errs = append(errs, err) }
	stored, err := counter(StoredName, "{response}", "Responses stored whole")
	keep(err)
	notStored, err := counter(NotStoredName, "{response}", "Responses not stored, by reason")
	keep(err)
	collapsed, err := counter(CollapsedName, "{request}", "Requests that shared another's request to the origin")
	keep(err)
	storageErrors, err := counter(StorageErrorsName, "{error}", "Failed storage calls, by operation")
	keep(err)
	served, err := counter(ServedBytesName, "By", "Body bytes served from storage")
	keep(err)
	background, err := counter(BackgroundName, "{revalidation}", "Background revalidations, by result")
	keep(err)
	queued, err := gauge(QueuedWritesName, "{entry}", "Entries waiting to be written behind the requests")
	keep(err)
	queuedBytes, err := gauge(QueuedBytesName, "By", "Bytes waiting to be written behind the requests")
	keep(err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := t.Stats()
		with := func(kv ...attribute.KeyValue) metric.ObserveOption {
			return metric.WithAttributes(append(kv, m.mode)...)
		}
		o.ObserveInt64(stored, s.Stored, with())
		for reason, n := range s.NotStored {
			o.ObserveInt64(notStored, n, with(ReasonKey.String(reason)))
		}
		o.ObserveInt64(collapsed, s.Collapsed, with())
		for op, n := range s.StorageErrors {
			o.ObserveInt64(storageErrors, n, with(OpKey.String(op)))
		}
		o.ObserveInt64(served, s.BytesServed, with())
		o.ObserveInt64(background, s.BackgroundStarted, with(ResultKey.String("started")))
		o.ObserveInt64(background, s.BackgroundFailed, with(ResultKey.String("failed")))
		o.ObserveInt64(background, s.BackgroundSkipped, with(ResultKey.String("skipped")))
		o.ObserveInt64(queued, s.QueuedWrites, with())
		o.ObserveInt64(queuedBytes, s.QueuedBytes, with())
		return nil
	}, stored, notStored, collapsed, storageErrors, served, background, queued, queuedBytes)
}
