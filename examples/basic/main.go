// Command basic shows the cache at work on its default in-memory store. It
// starts a local origin, sends requests through an httpcache.Transport and
// prints, for each, the path, the status and the Cache-Status header: a
// miss, a hit, a revalidation answered 304, and Vary variants.
//
//	go run ./examples/basic
package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"text/tabwriter"

	"github.com/c650553b/httpcache"
)

func main() {
	origin := httptest.NewServer(newOrigin())
	defer origin.Close()

	cache := httpcache.New()
	defer cache.Close()
	client := &http.Client{Transport: cache}

	out := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(out, "REQUEST\tSTATUS\tCACHE-STATUS\tWHAT HAPPENED")
	steps := []struct {
		path, language, what string
	}{
		{"/news", "", "first request: a miss, stored for 60 s"},
		{"/news", "", "fresh: served from the cache, the origin is not asked"},
		{"/profile", "", "miss; the origin sends an ETag and no-cache"},
		{"/profile", "", "revalidated: the origin answers 304, the stored body is served"},
		{"/greeting", "en", "Vary: Accept-Language; first variant"},
		{"/greeting", "fr", "another language: a second variant is stored"},
		{"/greeting", "en", "the English variant is a hit"},
		{"/greeting", "fr", "so is the French one"},
	}
	for _, step := range steps {
		req, err := http.NewRequest(http.MethodGet, origin.URL+step.path, nil)
		if err != nil {
			log.Fatal(err)
		}
		label := "GET " + step.path
		if step.language != "" {
			req.Header.Set("Accept-Language", step.language)
			label += " (" + step.language + ")"
		}
		resp, err := client.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) // read to the end: only whole bodies are stored
		resp.Body.Close()
		fmt.Fprintf(out, "%s\t%d\t%s\t%s\n", label, resp.StatusCode, resp.Header.Get("Cache-Status"), step.what)
	}
	out.Flush()
}

// newOrigin is a small origin server with three kinds of resources.
func newOrigin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/news", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintln(w, "today's news")
	})
	mux.HandleFunc("/profile", func(w http.ResponseWriter, r *http.Request) {
		const etag = `"profile-v1"`
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprintln(w, `{"name": "Ada"}`)
	})
	mux.HandleFunc("/greeting", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		w.Header().Set("Vary", "Accept-Language")
		if r.Header.Get("Accept-Language") == "fr" {
			fmt.Fprintln(w, "bonjour")
			return
		}
		fmt.Fprintln(w, "hello")
	})
	return mux
}
