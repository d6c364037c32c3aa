// Command flaky puts the cache in front of an origin that is slow, fails
// about half its requests and sometimes hangs, as many third-party APIs do,
// and shows what a caller sees: after the first success, no errors, and
// fast answers.
//
// The origin sends no cache headers at all. A rule gives its responses a
// lifetime of one second, and windows in which a stale response is served
// while it is revalidated in the background (stale-while-revalidate) or
// when the origin fails (stale-if-error), a 429 counting as a failure.
//
// For a while in the middle of the run, the origin rate-limits: it answers
// 429 with Retry-After: 2. The cache then sends it no request until the
// time is up, but one probe, and callers keep getting stored answers.
//
//	go run ./examples/flaky
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/c650553b/httpcache"
)

func main() {
	duration := flag.Duration("duration", 5*time.Second, "how long the client loop runs")
	flag.Parse()

	var originRequests atomic.Int64
	start := time.Now()
	phase := rateLimit{from: start.Add(*duration * 4 / 10), until: start.Add(*duration * 6 / 10)}
	origin := httptest.NewServer(flakyOrigin(&originRequests, &phase))
	defer origin.Close()

	// A hanging origin must count as a failure before the caller gives up:
	// the upstream transport times out waiting for response headers.
	upstream := &http.Transport{ResponseHeaderTimeout: 300 * time.Millisecond}
	defer upstream.CloseIdleConnections()

	cache, err := httpcache.NewTransport(
		httpcache.WithTransport(upstream),
		httpcache.WithRules(httpcache.Rule{
			Pattern:              "127.0.0.1/v1/*",
			TTL:                  time.Second,
			StaleWhileRevalidate: time.Minute,
			StaleIfError:         time.Hour,
			ErrorStatuses:        []int{http.StatusTooManyRequests},
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: cache, Timeout: 5 * time.Second}

	paths := []string{"/v1/rates/eur", "/v1/rates/usd", "/v1/rates/gbp"}
	var (
		requests, stale, errorsBeforeSuccess, errorsAfterSuccess int
		duringLimit, okDuringLimit                               int
		latencies                                                []time.Duration
		succeeded                                                = map[string]bool{}
	)
	deadline := time.Now().Add(*duration)
	for i := 0; time.Now().Before(deadline); i++ {
		path := paths[i%len(paths)]
		start := time.Now()
		status, err := get(client, origin.URL+path)
		latencies = append(latencies, time.Since(start))
		requests++
		switch {
		case err != nil && succeeded[path]:
			errorsAfterSuccess++
			log.Printf("%s: error after a success: %v", path, err)
		case err != nil:
			errorsBeforeSuccess++
		default:
			succeeded[path] = true
			if status.Stale() {
				stale++
			}
		}
		if now := time.Now(); now.After(phase.from) && now.Before(phase.until) {
			duringLimit++
			if err == nil && status.ForwardStatus != http.StatusTooManyRequests {
				okDuringLimit++
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	cache.Close() // waits for background revalidations

	slices.Sort(latencies)
	out := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(out, "requests made\t%d\t\n", requests)
	fmt.Fprintf(out, "origin requests\t%d\t\n", originRequests.Load())
	fmt.Fprintf(out, "errors before a first success\t%d\t\n", errorsBeforeSuccess)
	fmt.Fprintf(out, "errors after a first success\t%d\t\n", errorsAfterSuccess)
	fmt.Fprintf(out, "stale answers served\t%d\t\n", stale)
	fmt.Fprintf(out, "requests while the origin rate-limited (429, Retry-After: 2)\t%d\t\n", duringLimit)
	fmt.Fprintf(out, "  answered from storage\t%d\t\n", okDuringLimit)
	fmt.Fprintf(out, "  origin requests meanwhile (the cache waits as asked)\t%d\t\n", phase.requests.Load())
	fmt.Fprintf(out, "latency p50\t%v\t\n", percentile(latencies, 50))
	fmt.Fprintf(out, "latency p99\t%v\t\n", percentile(latencies, 99))
	out.Flush()
	if errorsAfterSuccess > 0 {
		os.Exit(1)
	}
}

// rateLimit is the time the origin rate-limits, and what it saw then.
type rateLimit struct {
	from, until time.Time
	requests    atomic.Int64
}

// flakyOrigin answers after 20 to 80 ms; about half its answers are
// failures: a 503, a 500, a dropped connection, or a hang of 10 s. While
// phase lasts, it answers 429 with Retry-After: 2.
func flakyOrigin(requests *atomic.Int64, phase *rateLimit) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if now := time.Now(); now.After(phase.from) && now.Before(phase.until) {
			phase.requests.Add(1)
			w.Header().Set("Retry-After", "2")
			http.Error(w, "rate limited", http.StatusTooManyRequests)
			return
		}
		time.Sleep(time.Duration(20+rand.IntN(60)) * time.Millisecond)
		switch n := rand.IntN(100); {
		case n < 20:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case n < 35:
			http.Error(w, "oops", http.StatusInternalServerError)
		case n < 45:
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close() // the connection drops before any answer
			}
		case n < 50:
			select { // hangs
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		default:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"path":%q,"rate":%.4f,"at":%q}`, r.URL.Path, 1+rand.Float64(), time.Now().Format(time.RFC3339Nano))
		}
	})
}

// get sends one request and reads the whole body.
func get(client *http.Client, url string) (httpcache.CacheStatus, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return httpcache.CacheStatus{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return httpcache.CacheStatus{}, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return httpcache.CacheStatus{}, err
	}
	status, _ := httpcache.StatusOf(resp)
	if resp.StatusCode >= 500 {
		return status, fmt.Errorf("status %d", resp.StatusCode)
	}
	return status, nil
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[(len(sorted)-1)*p/100].Round(10 * time.Microsecond)
}
