package otelhttpcache_test

import (
	"log"
	"net/http"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/otelhttpcache"
)

// The cache's requests and counters as OpenTelemetry metrics. Any reader
// serves: for Prometheus, the exporter of
// go.opentelemetry.io/otel/exporters/prometheus (prometheus.New()) in
// place of the manual reader, and promhttp.Handler() at /metrics.
func ExampleNew() {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	metrics, err := otelhttpcache.New(provider, otelhttpcache.Options{})
	if err != nil {
		log.Fatal(err)
	}
	cache := httpcache.New(httpcache.WithResponseHook(metrics.Record))
	defer cache.Close()
	registration, err := metrics.ObserveStats(cache)
	if err != nil {
		log.Fatal(err)
	}
	defer registration.Unregister()
	client := &http.Client{Transport: cache}
	_ = client
}
