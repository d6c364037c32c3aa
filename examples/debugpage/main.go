// Command debugpage serves the cache's debug page (Transport.DebugHandler)
// after a few requests, at http://127.0.0.1:8080/debug/httpcache/ by
// default: go run ./examples/debugpage -addr 127.0.0.1:8080
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/c650553b/httpcache"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "where to serve the debug page")
	flag.Parse()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		if r.URL.Path == "/v1/private" {
			w.Header().Set("Cache-Control", "no-store")
		}
		if strings.HasPrefix(r.URL.Path, "/v1/users/") {
			w.Header().Set("Cache-Tag", "users,user-"+strings.TrimPrefix(r.URL.Path, "/v1/users/"))
		}
		fmt.Fprint(w, `{"id": 1, "name": "example"}`)
	}))
	defer origin.Close()
	cache := httpcache.New()
	defer cache.Close()
	client := &http.Client{Transport: cache}
	for _, p := range []string{"/v1/users/1", "/v1/users/1", "/v1/users/2?api_key=SECRET", "/v1/users/2?api_key=SECRET", "/v1/orders?page=1", "/v1/private", "/v1/users/1"} {
		req, _ := http.NewRequest("GET", origin.URL+p, nil)
		if p == "/v1/orders?page=1" {
			req.Header.Set("Authorization", "Bearer x")
		}
		resp, err := client.Do(req)
		if err != nil {
			panic(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	mux := http.NewServeMux()
	mux.Handle("/debug/httpcache/", http.StripPrefix("/debug/httpcache", cache.DebugHandler(httpcache.DebugOptions{AllowPurge: true})))
	fmt.Printf("debug page at http://%s/debug/httpcache/\n", *addr)
	log.Fatal(http.ListenAndServe(*addr, mux))
}
