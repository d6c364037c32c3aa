package httpcache

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Isolation: one user's or one host's response never reaches another
// (issue 11). Each test fails without the change it names.

// getWith sends a GET through client with a header built by set, and
// returns the body and the cache's status.
func getWith(t *testing.T, client *http.Client, rawURL string, set func(*http.Request)) (string, CacheStatus) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if set != nil {
		set(req)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	status, _ := StatusOf(resp)
	return string(body), status
}

func withHeader(name, value string) func(*http.Request) {
	return func(req *http.Request) { req.Header[name] = []string{value} }
}

// TestForgedHostThroughReverseProxy: a caching gateway built on
// httputil.ReverseProxy keeps the client's Host, which net/http sends to
// the origin. A request with a forged Host must not store its page under
// the real site's key.
func TestForgedHostThroughReverseProxy(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "page for %s", r.Host)
	}))
	defer origin.Close()
	target, _ := url.Parse(origin.URL)
	cache := New(WithTransport(&http.Transport{}))
	defer cache.Close()
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = cache
	gateway := httptest.NewServer(proxy)
	defer gateway.Close()

	evil, _ := http.NewRequest(http.MethodGet, gateway.URL+"/", nil)
	evil.Host = "evil.example"
	resp, err := http.DefaultClient.Do(evil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "page for evil.example" {
		t.Fatalf("the forged request got %q", body)
	}
	for range 2 {
		resp, err := http.Get(gateway.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// ReverseProxy keeps the client's Host: the gateway's own.
		if want := "page for " + resp.Request.URL.Host; string(body) != want {
			t.Fatalf("a client of the real site got %q, want %q (Cache-Status %q)", body, want, resp.Header.Get("Cache-Status"))
		}
	}
}

// TestHostIsTheOneSent: requests to one URL with different req.Host values
// have different keys, and a req.Host differing only in case or by a
// default port has the same.
func TestHostIsTheOneSent(t *testing.T) {
	tr := New()
	key := func(rawURL, host string) string {
		req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
		req.Host = host
		x := tr.newExchange(req)
		return string(x.appendKey(nil))
	}
	if key("http://10.0.0.1/a", "a.example") == key("http://10.0.0.1/a", "b.example") {
		t.Error("two Hosts share a key")
	}
	if key("http://10.0.0.1/a", "a.example") != key("http://10.0.0.1/a", "A.Example:80") {
		t.Error("case and the default port made another key")
	}
	if key("http://a.example/a", "") != key("http://a.example/a", "A.example:80") {
		t.Error("the URL's host and the same req.Host made other keys")
	}
	// Another server dialled for the same Host: the same resource (one
	// URL to invalidate), in a partition of that server's.
	real, other := key("http://a.example/a", ""), key("http://10.0.0.1/a", "a.example")
	if real == other || KeyURL(real) != KeyURL(other) || KeyPartition(other) == "" {
		t.Errorf("the page of another server dialled for the Host: key %q, the real one's %q", other, real)
	}
}

// TestForgedHostFromAnotherServerStaysApart: a forward proxy (or any
// caller) that dials one server with another's Host, as
// "GET http://attacker.example/" with "Host: victim.example", keys the
// answer under victim.example, as sent, but in the dialled server's
// partition: requests that reach the real victim.example never get it,
// while Invalidate of the URL still removes it.
func TestForgedHostFromAnotherServerStaysApart(t *testing.T) {
	serve := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=600")
			io.WriteString(w, name+" for "+r.Host)
		}))
	}
	victim, attacker := serve("victim"), serve("attacker")
	defer victim.Close()
	defer attacker.Close()
	tr := New()
	defer tr.Close()
	get := func(server *httptest.Server) (string, CacheStatus) {
		req := must(http.NewRequest(http.MethodGet, server.URL+"/page", nil))
		req.Host = "victim.example"
		resp, body := send(t, tr, req)
		status, _ := StatusOf(resp)
		return body, status
	}
	// The victim's server is reached with its own name as the URL's host
	// in real use; here both are loopback servers, so the victim's
	// requests carry Host too, dialled to the victim's server.
	get(attacker)
	if body, status := get(attacker); !status.Hit || body != "attacker for victim.example" {
		t.Fatalf("the attacker's page was not kept for requests like its own: %q %+v", body, status)
	}
	if body, _ := get(victim); body != "victim for victim.example" {
		t.Fatalf("a request that reaches the victim's server got %q", body)
	}
	if err := tr.Invalidate(context.Background(), "http://victim.example/page"); err != nil {
		t.Fatal(err)
	}
	if _, status := get(attacker); status.Hit {
		t.Fatal("Invalidate left the page kept in the dialled server's partition")
	}
}

// TestOpaqueURLsAreDistinct: net/http sends URL.Opaque as the request
// target; two Opaque URLs on one host are two resources.
func TestOpaqueURLsAreDistinct(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, r.RequestURI)
	})
	get := func(opaque string) result {
		req, _ := http.NewRequest(http.MethodGet, h.origin.URL, nil)
		req.URL.Opaque = opaque
		resp, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		status, _ := StatusOf(resp)
		return result{body: string(body), cache: status}
	}
	if got := get("/a%2Fb"); got.body != "/a%2Fb" {
		t.Fatalf("first: %q", got.body)
	}
	if got := get("/a%2Fc"); got.body != "/a%2Fc" || got.cache.Hit {
		t.Fatalf("another Opaque URL got %q (hit %v)", got.body, got.cache.Hit)
	}
	if got := get("/a%2Fb"); got.body != "/a%2Fb" || !got.cache.Hit {
		t.Fatalf("the first Opaque URL again: %q (hit %v)", got.body, got.cache.Hit)
	}
}

// echoCredentials answers with the request's credentials, storable (public,
// so that a shared cache may store it too).
func echoCredentials(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=60")
	fmt.Fprintf(w, "key=%s auth=%s cookie=%s", r.Header.Get("X-Api-Key"), r.Header.Get("Authorization"), r.Header.Get("Cookie"))
}

// TestCredentialFieldsKeepUsersApart: users told apart by an API key, or by
// a credential under a lower-case map key, each get their own response,
// in both modes; their own next request is a hit.
func TestCredentialFieldsKeepUsersApart(t *testing.T) {
	for _, shared := range []bool{false, true} {
		t.Run(fmt.Sprintf("shared=%v", shared), func(t *testing.T) {
			h := newHarness(t, echoCredentials, WithShared(shared))
			users := []struct {
				name string
				set  func(*http.Request)
				want string
			}{
				{name: "alice", set: withHeader("X-Api-Key", "alice"), want: "key=alice auth= cookie="},
				{name: "bob", set: withHeader("X-Api-Key", "bob"), want: "key=bob auth= cookie="},
				{name: "lower-case key", set: withHeader("x-api-key", "carol"), want: "key=carol auth= cookie="},
				{name: "lower-case authorization", set: withHeader("authorization", "Bearer dave"), want: "key= auth=Bearer dave cookie="},
				{name: "anonymous", want: "key= auth= cookie="},
			}
			for round := range 2 {
				for _, u := range users {
					body, status := getWith(t, h.client, h.origin.URL+"/me", u.set)
					if body != u.want {
						t.Fatalf("round %d, %s got %q, want %q", round, u.name, body, u.want)
					}
					if round == 1 && !status.Hit {
						t.Errorf("%s's own response was not reused: %+v", u.name, status)
					}
				}
			}
			h.wantOriginRequests(int64(len(users)))
		})
	}
}

// TestConfiguredCredentialFields: a field added to the credential set
// partitions like the default ones; one removed from it no longer does.
func TestConfiguredCredentialFields(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, r.Header.Get("X-Tenant-Token"))
	}, WithExtraCredentialFields("X-Tenant-Token"))
	if body, _ := getWith(t, h.client, h.origin.URL+"/t", withHeader("X-Tenant-Token", "one")); body != "one" {
		t.Fatal(body)
	}
	if body, _ := getWith(t, h.client, h.origin.URL+"/t", withHeader("X-Tenant-Token", "two")); body != "two" {
		t.Fatalf("another tenant got %q", body)
	}
	if _, err := NewTransport(WithCredentialFields("bad field")); err == nil {
		t.Error("a field name with a space was accepted")
	}
	if _, err := NewTransport(WithCredentialFields()); err == nil || !strings.Contains(err.Error(), "WithCredentialFields") {
		t.Errorf("an empty set of credential fields: error %v", err)
	}
	// The extra fields are kept whatever the order of the options.
	for name, opts := range map[string][]Option{
		"extra first": {WithExtraCredentialFields("X-Goog-Api-Key"), WithCredentialFields("Authorization")},
		"extra last":  {WithCredentialFields("Authorization"), WithExtraCredentialFields("X-Goog-Api-Key")},
	} {
		tr := must(NewTransport(opts...))
		for _, field := range []string{"Authorization", "X-Goog-Api-Key"} {
			if !tr.partitions.isCredential(field) {
				t.Errorf("%s: %s is not a credential field", name, field)
			}
		}
		if tr.partitions.isCredential("Cookie") {
			t.Errorf("%s: WithCredentialFields did not replace the default set", name)
		}
		tr.Close()
	}
}

// tokenKey carries a user's token in a request's context, where the cache
// cannot see it.
type tokenKey struct{}

// tokenTransport adds the context's token as Authorization below the cache,
// as SDKs do.
type tokenTransport struct{ next http.RoundTripper }

func (t tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	token, _ := req.Context().Value(tokenKey{}).(string)
	out := req.Clone(req.Context())
	out.Header.Set("Authorization", "Bearer "+token)
	return t.next.RoundTrip(out)
}

// TestPartitionHookForCredentialsAddedBelow: an upstream transport adds a
// token from the context. With WithPartition naming it, users never share
// a stored response or a request in flight, even a no-store one, with
// coalescing on.
func TestPartitionHookForCredentialsAddedBelow(t *testing.T) {
	release := make(chan struct{})
	var arrived atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if arrived.Add(1) <= 2 {
			<-release // hold both users' first requests, so that they overlap
		}
		w.Header().Set("Cache-Control", r.URL.Query().Get("cc"))
		fmt.Fprint(w, r.Header.Get("Authorization"))
	}))
	defer origin.Close()
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	cache := New(WithTransport(tokenTransport{upstream}),
		WithPartition(func(req *http.Request) string { s, _ := req.Context().Value(tokenKey{}).(string); return s }))
	defer cache.Close()
	client := &http.Client{Transport: cache}
	get := func(user, cc string) (string, CacheStatus) {
		ctx := context.WithValue(context.Background(), tokenKey{}, user)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, origin.URL+"/me?cc="+url.QueryEscape(cc), nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return "", CacheStatus{}
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		status, _ := StatusOf(resp)
		return string(body), status
	}
	var wg sync.WaitGroup
	for _, user := range []string{"alice", "bob"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if body, status := get(user, "no-store"); body != "Bearer "+user || status.Collapsed {
				t.Errorf("%s got %q (collapsed %v)", user, body, status.Collapsed)
			}
		}()
	}
	for arrived.Load() < 2 {
		time.Sleep(time.Millisecond) // both at the origin: not coalesced
	}
	close(release)
	wg.Wait()
	get("alice", "max-age=60")
	if body, status := get("bob", "max-age=60"); body != "Bearer bob" || status.Hit {
		t.Fatalf("bob got %q (hit %v): alice's stored response", body, status.Hit)
	}
	if body, status := get("alice", "max-age=60"); body != "Bearer alice" || !status.Hit {
		t.Fatalf("alice's own response: %q (hit %v)", body, status.Hit)
	}
}

// storesUnderTest makes each store the isolation tests run on.
func storesUnderTest(t *testing.T) map[string]func() Storage {
	return map[string]func() Storage{
		"memory": func() Storage { return NewMemoryStorage(0) },
		"disk":   func() Storage { return must(NewDiskStorage(t.TempDir(), 0)) },
		"encrypted disk": func() Storage {
			return must(NewEncryptedDiskStorage(t.TempDir(), 0, must(NewKeyring(NewKey()))))
		},
		"tiered": func() Storage {
			return must(NewTieredStorage(NewMemoryStorage(0), must(NewDiskStorage(t.TempDir(), 0)), time.Minute))
		},
	}
}

// TestThousandUsersOnOneURL: after one request each, every one of 1,000
// users' next request is a hit with their own response, on every store.
func TestThousandUsersOnOneURL(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 requests per store")
	}
	for name, store := range storesUnderTest(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, echoCredentials, WithStorage(store()))
			const users = 1000
			for round := range 2 {
				for i := range users {
					auth := "Bearer user-" + strconv.Itoa(i)
					body, status := getWith(t, h.client, h.origin.URL+"/profile", withHeader("Authorization", auth))
					if want := "key= auth=" + auth + " cookie="; body != want {
						t.Fatalf("round %d, user %d got %q", round, i, body)
					}
					if round == 1 && !status.Hit {
						t.Fatalf("user %d's second request: %+v", i, status)
					}
				}
				h.transport.waitForWrites()
			}
			h.wantOriginRequests(users)
		})
	}
}

// TestInvalidationCoversEveryPartition: an unsafe request, or Invalidate,
// removes every user's stored response of the URL on every store, and only
// of that URL; a response for one user removes only that user's.
func TestInvalidationCoversEveryPartition(t *testing.T) {
	for name, store := range storesUnderTest(t) {
		t.Run(name, func(t *testing.T) {
			var noStore atomic.Bool
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				if noStore.Load() && r.Header.Get("Authorization") == "alice" {
					w.Header().Set("Cache-Control", "no-store")
				} else {
					w.Header().Set("Cache-Control", "max-age=60")
				}
				fmt.Fprintf(w, "%s for %s", r.URL.Path, r.Header.Get("Authorization"))
			}, WithStorage(store()))
			users := []func(*http.Request){withHeader("Authorization", "alice"), withHeader("Authorization", "bob"), nil}
			fill := func() {
				for _, path := range []string{"/doc", "/other"} {
					for _, u := range users {
						getWith(t, h.client, h.origin.URL+path, u)
					}
				}
				h.transport.waitForWrites()
			}
			hits := func(path string) (n int) {
				for _, u := range users {
					if _, status := getWith(t, h.client, h.origin.URL+path, u); status.Hit {
						n++
					}
				}
				return n
			}
			fill()
			h.do(http.MethodPost, "/doc")
			if n := hits("/doc"); n != 0 {
				t.Fatalf("after a POST, %d of 3 partitions still hit", n)
			}
			if n := hits("/other"); n != 3 {
				t.Fatalf("a POST to /doc removed /other: %d of 3 hit", n)
			}
			fill()
			if err := h.transport.Invalidate(context.Background(), h.origin.URL+"/doc"); err != nil {
				t.Fatal(err)
			}
			if n := hits("/doc"); n != 0 {
				t.Fatalf("after Invalidate, %d of 3 partitions still hit", n)
			}
			// Alice's refresh answered with no-store removes her entry only.
			fill()
			noStore.Store(true)
			getWith(t, h.client, h.origin.URL+"/doc", func(r *http.Request) {
				r.Header.Set("Authorization", "alice")
				r.Header.Set("Cache-Control", "no-cache")
			})
			h.transport.waitForWrites()
			if _, status := getWith(t, h.client, h.origin.URL+"/doc", withHeader("Authorization", "bob")); !status.Hit {
				t.Fatal("alice's unstorable response removed bob's entry")
			}
		})
	}
}

// TestNoCredentialAtRest: no credential value reaches a disk file, from
// the credential fields or from a Vary naming them.
func TestNoCredentialAtRest(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age=60")
		w.Header().Set("Vary", "Cookie, Authorization, X-Api-Key")
		fmt.Fprint(w, "profile")
	}, WithStorage(must(NewDiskStorage(dir, 0))))
	secrets := map[string]string{
		"Authorization": "Bearer SECRET-alice-1234",
		"Cookie":        "session=SECRET-bob-5678",
		"X-Api-Key":     "SECRET-carol-9012",
	}
	for name, value := range secrets {
		getWith(t, h.client, h.origin.URL+"/profile", withHeader(name, value))
	}
	h.transport.waitForWrites()
	files := scanFilesFor(t, dir, "SECRET")
	if files < len(secrets) {
		t.Fatalf("%d files written for %d users", files, len(secrets))
	}
}

// scanFilesFor fails t for each file under dir that holds secret, and
// returns the number of files.
func scanFilesFor(t *testing.T, dir, secret string) (files int) {
	t.Helper()
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		files++
		if data, err := os.ReadFile(path); err != nil {
			t.Error(err)
		} else if bytes.Contains(data, []byte(secret)) {
			t.Errorf("%s holds a credential", path)
		}
		return nil
	})
	return files
}

// TestPartitionSecrets: partitions are keyed fingerprints. Two Transports
// on one store agree on them; another secret gives others; a configured
// secret that is too short is refused.
func TestPartitionSecrets(t *testing.T) {
	store := NewMemoryStorage(0)
	suffix := func(tr *Transport) string {
		req, _ := http.NewRequest(http.MethodGet, "https://api.example/me", nil)
		req.Header.Set("Authorization", "Bearer x")
		x := tr.newExchange(req)
		return x.keySuffix
	}
	a, b := New(WithStorage(store)), New(WithStorage(store))
	if suffix(a) == "" || suffix(a) != suffix(b) {
		t.Error("two Transports on one store disagree on a partition")
	}
	if suffix(New()) == suffix(a) {
		t.Error("another store's secret gave the same partition")
	}
	secret := []byte("a shared secret of the fleet")
	one, other := New(WithPartitionSecret(secret)), New(WithPartitionSecret(secret))
	if suffix(one) != suffix(other) {
		t.Error("the same configured secret gave other partitions")
	}
	if _, err := NewTransport(WithPartitionSecret([]byte("short"))); err == nil {
		t.Error("a 5-byte secret was accepted")
	}
}

// TestControlBytesBypass: a request whose Host or target holds control
// bytes, which net/http refuses to send, is never answered from storage.
func TestControlBytesBypass(t *testing.T) {
	tr := New(WithTransport(roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{"Cache-Control": {"max-age=60"}}, Body: http.NoBody, Request: req}, nil
	})))
	req, _ := http.NewRequest(http.MethodGet, "http://a.example/x", nil)
	req.Host = "a.example\x00forged"
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := StatusOf(resp); status.Forward != ForwardBypass {
		t.Fatalf("a Host with a NUL byte: %+v", status)
	}
}

// TestSharedCacheAppliesSection35ToEveryCredentialField: in a shared cache,
// a response to a request with an API key is stored only where RFC 9111
// §3.5 allows, as one to a request with Authorization.
func TestSharedCacheAppliesSection35ToEveryCredentialField(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", r.URL.Query().Get("cc"))
		fmt.Fprint(w, "ok")
	}, WithShared(true))
	for _, field := range []string{"Authorization", "X-Api-Key", "cookie"} {
		if _, status := getWith(t, h.client, h.origin.URL+"/a?cc=max-age%3D60", withHeader(field, "k")); status.Stored || status.Detail != detailAuthorization {
			t.Errorf("%s without public: %+v", field, status)
		}
		if _, status := getWith(t, h.client, h.origin.URL+"/a?cc=public,max-age%3D60", withHeader(field, "k")); !status.Stored {
			t.Errorf("%s with public was not stored: %+v", field, status)
		}
	}
}

// TestRulesAndInvalidationReadTheHostSent: a rule's host and the
// same-origin test of invalidation are matched against the Host net/http
// sends, not the URL's dialled address.
func TestRulesAndInvalidationReadTheHostSent(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("Location", "http://api.example/items/7")
			w.WriteHeader(http.StatusCreated)
			return
		}
		fmt.Fprint(w, r.URL.Path) // no cache headers: only the rule stores it
	}, WithRules(Rule{Pattern: "api.example/*", TTL: time.Minute}))
	send := func(method, path string) CacheStatus {
		req, _ := http.NewRequest(method, h.origin.URL+path, nil)
		req.Host = "api.example"
		resp, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status, _ := StatusOf(resp)
		return status
	}
	send(http.MethodGet, "/items/7")
	if status := send(http.MethodGet, "/items/7"); !status.Hit {
		t.Fatalf("the rule for api.example did not apply to a request sent with Host api.example: %+v", status)
	}
	send(http.MethodPost, "/items")
	if status := send(http.MethodGet, "/items/7"); status.Hit {
		t.Fatal("a same-origin Location (by the Host sent) was not invalidated")
	}
}

// storedStatusOf sends req through a new Transport to an origin whose
// answers are storable, and returns the cache's status.
func storedStatusOf(t *testing.T, req *http.Request) CacheStatus {
	t.Helper()
	tr := New(WithTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{"Cache-Control": {"max-age=60"}}, Body: http.NoBody, Request: r}, nil
	})))
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	status, _ := StatusOf(resp)
	return status
}

// TestUnkeyableRequestsBypass: a request whose Host net/http would not send
// as it is (it sends an empty Host instead), or whose target is not in
// origin form, would have another origin's key: it is never answered from
// storage nor stored.
func TestUnkeyableRequestsBypass(t *testing.T) {
	tests := []struct {
		name string
		set  func(*http.Request)
	}{
		{name: "Host with a path", set: func(r *http.Request) { r.Host = "victim.example/x" }},
		{name: "Host with a space", set: func(r *http.Request) { r.Host = "victim.example x" }},
		{name: "Host with a quote", set: func(r *http.Request) { r.Host = `victim.example"` }},
		{name: "relative path", set: func(r *http.Request) { r.URL.Path = ":8443/v1" }},
		{name: "Opaque without a slash", set: func(r *http.Request) { r.URL.Opaque = ".attacker.example/x" }},
		{name: "Opaque in absolute form", set: func(r *http.Request) { r.URL.Opaque = "//other.example/x" }},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodGet, "http://victim.example/", nil)
		tt.set(req)
		if status := storedStatusOf(t, req); status.Forward != ForwardBypass || status.Stored {
			t.Errorf("%s: %+v", tt.name, status)
		}
	}
	ok, _ := http.NewRequest(http.MethodGet, "http://[fe80::1%25en0]:8080/a", nil)
	if status := storedStatusOf(t, ok); !status.Stored {
		t.Errorf("an IPv6 host with a zone was not cached: %+v", status)
	}
}

// TestUnicodeHostsKeepTheirCase: net/http sends a Unicode host as punycode
// without case mapping; only ASCII letters are folded in the key.
func TestUnicodeHostsKeepTheirCase(t *testing.T) {
	tr := New()
	key := func(host string) string {
		req, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
		req.Host = host
		x := tr.newExchange(req)
		return string(x.appendKey(nil))
	}
	if key("MÜNCHEN.example") == key("münchen.example") {
		t.Error("hosts that differ in a non-ASCII letter's case share a key")
	}
	if key("MüNCHEN.Example") != key("münchen.example") {
		t.Error("ASCII case made another key")
	}
}

// TestVaryReadsKeysOfAnyCase: a field named by Vary is read under map keys
// of any case, as the origin reads what net/http sends.
func TestVaryReadsKeysOfAnyCase(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "X-User")
		fmt.Fprint(w, "page of "+r.Header.Get("X-User"))
	})
	if body, _ := getWith(t, h.client, h.origin.URL+"/p", withHeader("x-user", "alice")); body != "page of alice" {
		t.Fatal(body)
	}
	if body, _ := getWith(t, h.client, h.origin.URL+"/p", withHeader("x-user", "bob")); body != "page of bob" {
		t.Fatalf("bob got %q", body)
	}
	if body, status := getWith(t, h.client, h.origin.URL+"/p", withHeader("X-User", "alice")); body != "page of alice" || !status.Hit {
		t.Fatalf("alice under the canonical key: %q (hit %v)", body, status.Hit)
	}
}

// TestSection35ForAuthorizationOutsideTheSet: a shared cache applies RFC
// 9111 §3.5 to Authorization even when WithCredentialFields leaves it out.
func TestSection35ForAuthorizationOutsideTheSet(t *testing.T) {
	h2 := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, r.Header.Get("Authorization"))
	}, WithShared(true), WithCredentialFields("X-Tenant-Token"))
	if _, status := getWith(t, h2.client, h2.origin.URL+"/me", withHeader("Authorization", "alice")); status.Stored {
		t.Fatal("a shared cache stored a response to Authorization without §3.5's permission")
	}
	if body, _ := getWith(t, h2.client, h2.origin.URL+"/me", withHeader("Authorization", "bob")); body != "bob" {
		t.Fatalf("bob got %q", body)
	}
}

// The latest suffix a partitioner computed answers only the credentials it
// was computed for: users that alternate each keep their own partition.
func TestLatestPartitionAnswersOnlyItsCredentials(t *testing.T) {
	tr := New(WithTransport(roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, nil })))
	defer tr.Close()
	keyOf := func(token string) string {
		req := must(http.NewRequest(http.MethodGet, "https://api.example.com/me", nil))
		req.Header.Set("Authorization", "Bearer "+token)
		x := tr.newExchange(req)
		var buffer [256]byte
		return string(x.appendKey(buffer[:0]))
	}
	alice := keyOf("alice")
	bob := keyOf("bob") // now the latest
	if alice == bob {
		t.Fatal("two users share a partition")
	}
	for range 3 {
		if got := keyOf("alice"); got != alice {
			t.Fatalf("alice's key changed: %q, was %q", got, alice)
		}
		if got := keyOf("bob"); got != bob {
			t.Fatalf("bob's key changed: %q, was %q", got, bob)
		}
		if got := keyOf("alic"); got == alice || got == bob {
			t.Fatal("a prefix of a user's credentials found that user's partition")
		}
	}
}

// TestCredentialsSpellingOthersBypass: a credential value with a control
// byte, which net/http refuses to send, could spell another request's
// credentials in the fingerprint's input ("a NUL X-Api-Key NUL b" for
// Authorization a and X-Api-Key b). Such a request is never answered from
// storage: it goes to the network, as a bypass.
func TestCredentialsSpellingOthersBypass(t *testing.T) {
	var requests atomic.Int64
	tr := New(WithTransport(roundTripFunc(func(req *http.Request) (*http.Response, error) {
		requests.Add(1)
		return &http.Response{StatusCode: 200, Header: http.Header{"Cache-Control": {"max-age=60"}},
			Body: io.NopCloser(bytes.NewReader([]byte("for " + req.Header.Get("Authorization")))), ContentLength: -1, Request: req}, nil
	})))
	defer tr.Close()
	client := &http.Client{Transport: tr}
	const url = "https://api.example.com/me"
	victim := func(req *http.Request) {
		req.Header.Set("Authorization", "a")
		req.Header.Set("X-Api-Key", "b")
	}
	if body, _ := getWith(t, client, url, victim); body != "for a" {
		t.Fatalf("victim's first response: %q", body)
	}
	for _, value := range []string{"a\x00X-Api-Key\x00b", "a\r\nX-Api-Key: b", "a\nb"} {
		forger := withHeader("Authorization", value)
		resp, err := tr.RoundTrip(requestWith(t, url, forger))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		status, _ := StatusOf(resp)
		if status.Hit || status.Forward != ForwardBypass {
			t.Fatalf("Authorization %q: served %q with %+v, want a bypass", value, body, status)
		}
	}
	if body, status := getWith(t, client, url, victim); !status.Hit || body != "for a" {
		t.Fatalf("victim's second response: %q, %+v", body, status)
	}
}

func requestWith(t *testing.T, rawURL string, set func(*http.Request)) *http.Request {
	t.Helper()
	req := must(http.NewRequest(http.MethodGet, rawURL, nil))
	set(req)
	return req
}

// TestGetBodyOfUnknownLengthBypasses: a GET with a body whose length is
// unknown (ContentLength 0 and a Body other than http.NoBody, which
// net/http sends chunked), as search clients send queries, is not answered
// from storage nor stored: the key does not hold the body, so the second
// query would get the first one's results.
func TestGetBodyOfUnknownLengthBypasses(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query, _ := io.ReadAll(r.Body)
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "results for "+string(query))
	}))
	defer origin.Close()
	tr := New()
	defer tr.Close()
	for _, query := range []string{`{"user":"alice"}`, `{"user":"bob"}`} {
		req := must(http.NewRequest(http.MethodGet, origin.URL+"/_search", io.NopCloser(strings.NewReader(query))))
		resp, body := send(t, tr, req)
		status, _ := StatusOf(resp)
		if want := "results for " + query; body != want || status.Forward != ForwardBypass {
			t.Fatalf("sent %s, got %q with %+v, want %q as a bypass", query, body, status, want)
		}
	}
}

// TestBackoffIsPerQueryToken: a 429 answered to a request that authorizes
// with a query token (access_token, a secret query parameter) is replayed
// only to requests with that token: the back-off scope holds the token's
// fingerprint, as the storage key does. Another user, with another token,
// reaches the origin and gets their own answer.
func TestBackoffIsPerQueryToken(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.URL.Query().Get("access_token")
		if token == "alice-token" {
			w.Header().Set("Retry-After", "60")
			w.Header().Set("X-Account", "alice@example.com")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, "quota exhausted for alice@example.com")
			return
		}
		w.Header().Set("Cache-Control", "private, max-age=600")
		io.WriteString(w, "data of "+token)
	}))
	defer origin.Close()
	tr := New()
	defer tr.Close()
	client := &http.Client{Transport: tr}
	if body, _ := getWith(t, client, origin.URL+"/me?access_token=alice-token", nil); !strings.Contains(body, "alice") {
		t.Fatalf("alice's first answer: %q", body)
	}
	if body, status := getWith(t, client, origin.URL+"/me?access_token=alice-token", nil); !strings.Contains(body, "alice") || status.Detail != detailRetryAfter {
		t.Fatalf("alice's second request was not held: %q %+v", body, status)
	}
	if body, status := getWith(t, client, origin.URL+"/me?access_token=bob-token", nil); body != "data of bob-token" {
		t.Fatalf("bob got %q with %+v: another user's back-off", body, status)
	}
}

// TestSharedBackends: with WithSharedBackends, requests with one Host
// share stored responses whichever backend they reach (a load-balanced
// gateway); by default each backend dialled for a Host not its own keeps
// its copies apart (TestForgedHostFromAnotherServerStaysApart).
func TestSharedBackends(t *testing.T) {
	for _, shared := range []bool{false, true} {
		var requests atomic.Int64
		handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			w.Header().Set("Cache-Control", "max-age=600")
			io.WriteString(w, "page for "+r.Host)
		})
		first, second := httptest.NewServer(handler), httptest.NewServer(handler)
		tr := New(WithSharedBackends(shared))
		for _, backend := range []*httptest.Server{first, second} {
			req := must(http.NewRequest(http.MethodGet, backend.URL+"/page", nil))
			req.Host = "www.example"
			send(t, tr, req)
		}
		tr.Close()
		first.Close()
		second.Close()
		if want := map[bool]int64{false: 2, true: 1}[shared]; requests.Load() != want {
			t.Errorf("WithSharedBackends(%v): the backends saw %d requests, want %d", shared, requests.Load(), want)
		}
	}
}
