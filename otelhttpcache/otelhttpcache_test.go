package otelhttpcache_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/otelhttpcache"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// find returns the named metric of a collection.
func find(t *testing.T, rm metricdata.ResourceMetrics, name string) metricdata.Metrics {
	t.Helper()
	for _, scope := range rm.ScopeMetrics {
		for _, m := range scope.Metrics {
			if m.Name == name {
				return m
			}
		}
	}
	t.Fatalf("no metric %s", name)
	return metricdata.Metrics{}
}

// sumBy returns an Int64 sum's points by the value of key.
func sumBy(t *testing.T, m metricdata.Metrics, key attribute.Key) map[string]int64 {
	t.Helper()
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s is a %T", m.Name, m.Data)
	}
	points := map[string]int64{}
	for _, p := range sum.DataPoints {
		v, _ := p.Attributes.Value(key)
		points[v.AsString()] += p.Value
	}
	return points
}

func TestMetrics(t *testing.T) {
	secret := "s3cr3t-token"
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", r.URL.Query().Get("cc"))
		io.WriteString(w, "body")
	}))
	defer origin.Close()
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()

	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	metrics, err := otelhttpcache.New(provider, otelhttpcache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cache := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithSynchronousWrites(true),
		httpcache.WithResponseHook(metrics.Record))
	defer cache.Close()
	registration, err := metrics.ObserveStats(cache)
	if err != nil {
		t.Fatal(err)
	}
	defer registration.Unregister()

	client := &http.Client{Transport: cache}
	get := func(path string) {
		req, _ := http.NewRequest("GET", origin.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get("/a?cc=max-age%3D60&token=" + secret) // miss, stored
	get("/a?cc=max-age%3D60&token=" + secret) // hit
	get("/a?cc=max-age%3D60&token=" + secret) // hit
	get("/b?cc=no-store")                     // miss, not stored

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	requests := find(t, rm, otelhttpcache.RequestsName)
	if got := sumBy(t, requests, otelhttpcache.OutcomeKey); got["hit"] != 2 || got["uri-miss"] != 2 || len(got) != 2 {
		t.Fatalf("requests by outcome: %v", got)
	}
	host := strings.TrimPrefix(origin.URL, "http://")
	if got := sumBy(t, requests, otelhttpcache.HostKey); got[host] != 4 {
		t.Fatalf("requests by host: %v", got)
	}
	if got := sumBy(t, requests, otelhttpcache.ModeKey); got["private"] != 4 {
		t.Fatalf("requests by mode: %v", got)
	}
	histogram, ok := find(t, rm, otelhttpcache.RequestDurationName).Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatal("duration is not a float64 histogram")
	}
	var count uint64
	for _, p := range histogram.DataPoints {
		count += p.Count
	}
	if count != 4 {
		t.Fatalf("duration histogram counted %d requests", count)
	}
	if got := sumBy(t, find(t, rm, otelhttpcache.StoredName), otelhttpcache.ModeKey); got["private"] != 1 {
		t.Fatalf("stored: %v", got)
	}
	if got := sumBy(t, find(t, rm, otelhttpcache.NotStoredName), otelhttpcache.ReasonKey); got["no-store"] != 1 {
		t.Fatalf("not stored: %v", got)
	}
	if got := sumBy(t, find(t, rm, otelhttpcache.ServedBytesName), otelhttpcache.ModeKey); got["private"] != 8 {
		t.Fatalf("served bytes: %v", got)
	}
	// Attributes hold no path, query or credential.
	for _, scope := range rm.ScopeMetrics {
		for _, m := range scope.Metrics {
			var sets []attribute.Set
			switch data := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range data.DataPoints {
					sets = append(sets, p.Attributes)
				}
			case metricdata.Histogram[float64]:
				for _, p := range data.DataPoints {
					sets = append(sets, p.Attributes)
				}
			case metricdata.Gauge[int64]:
				for _, p := range data.DataPoints {
					sets = append(sets, p.Attributes)
				}
			}
			for _, set := range sets {
				if encoded := set.Encoded(attribute.DefaultEncoder()); strings.Contains(encoded, secret) || strings.Contains(encoded, "/a") {
					t.Fatalf("%s has attributes %s", m.Name, encoded)
				}
			}
		}
	}
}

func TestOutcome(t *testing.T) {
	tests := []struct {
		event httpcache.ResponseEvent
		want  string
	}{
		{httpcache.ResponseEvent{Cache: httpcache.CacheStatus{Hit: true}}, "hit"},
		{httpcache.ResponseEvent{Cache: httpcache.CacheStatus{Hit: true, TTL: -2 * time.Second, HasTTL: true}}, "stale-hit"},
		{httpcache.ResponseEvent{Cache: httpcache.CacheStatus{Hit: true, TTL: 2 * time.Second, HasTTL: true}}, "hit"},
		{httpcache.ResponseEvent{Cache: httpcache.CacheStatus{Forward: httpcache.ForwardVaryMiss}}, "vary-miss"},
		{httpcache.ResponseEvent{Err: io.ErrUnexpectedEOF}, "error"},
		{httpcache.ResponseEvent{}, "unknown"},
	}
	for _, tt := range tests {
		if got := otelhttpcache.Outcome(tt.event); got != tt.want {
			t.Errorf("Outcome(%+v) = %q, want %q", tt.event, got, tt.want)
		}
	}
}

func TestNewRefusesNil(t *testing.T) {
	if _, err := otelhttpcache.New(nil, otelhttpcache.Options{}); err == nil {
		t.Fatal("a nil provider was accepted")
	}
}
