package httpcache

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestQuerySecretKeys: the value of a secret query parameter enters a
// key only as a keyed fingerprint; other parameters, and the query's
// shape, stay as sent; two values never share a key.
func TestQuerySecretKeys(t *testing.T) {
	tr := New(WithPartitionSecret([]byte("0123456789abcdef")))
	defer tr.Close()
	key := func(rawURL string) string {
		u, err := url.Parse(rawURL)
		if err != nil {
			t.Fatal(err)
		}
		return tr.urlKey(u)
	}
	tests := []struct {
		url, secret string // secret: what the key must not hold ("" for none)
		shape       string // the key with each fingerprint written as FP
	}{
		{"https://h/a?access_token=SECRET1", "SECRET1", "https://h/a?access_token=FP"},
		{"https://h/a?page=2&token=SECRET2&", "SECRET2", "https://h/a?page=2&token=FP&"},
		{"https://h/a?Access_Token=SECRET3", "SECRET3", "https://h/a?Access_Token=FP"},
		{"https://h/a?access%5Ftoken=SECRET4", "SECRET4", "https://h/a?access%5Ftoken=FP"},
		{"https://h/a?X-Amz-Signature=SECRET5&X-Amz-Credential=SECRET6", "SECRET", "https://h/a?X-Amz-Signature=FP&X-Amz-Credential=FP"},
		{"https://h/a?token=&page=1", "", "https://h/a?token=&page=1"},
		{"https://h/a?token", "", "https://h/a?token"},
		{"https://h/a?tokens=PUBLIC", "", "https://h/a?tokens=PUBLIC"},
		{"https://h/a?q=token%3DPUBLIC", "", "https://h/a?q=token%3DPUBLIC"},
	}
	for _, tt := range tests {
		got := key(tt.url)
		if tt.secret != "" && strings.Contains(got, tt.secret) {
			t.Errorf("%s: key %q holds the secret", tt.url, got)
		}
		shape := got
		for {
			i := strings.Index(shape, querySecretMark)
			if i < 0 {
				break
			}
			shape = shape[:i] + "FP" + shape[i+len(querySecretMark)+querySecretDigits:]
		}
		if shape != tt.shape {
			t.Errorf("%s: key %q, want the shape %q", tt.url, got, tt.shape)
		}
	}
	if key("https://h/a?token=one") == key("https://h/a?token=two") {
		t.Error("two tokens share a key")
	}
	if first := key("https://h/a?token=one"); key("https://h/a?token=one") != first {
		t.Error("one token has two keys")
	}
	other := New(WithPartitionSecret([]byte("another secret, 16+")))
	defer other.Close()
	u, _ := url.Parse("https://h/a?token=one")
	if other.urlKey(u) == tr.urlKey(u) {
		t.Error("another secret gave the same fingerprint: it is not keyed")
	}
	// With query keying too: sorted, and with ignored parameters.
	sorted := New(WithSortedQuery(true), WithIgnoredQueryParams("utm_*"))
	defer sorted.Close()
	u, _ = url.Parse("https://h/a?utm_source=x&token=SECRET7&b=1")
	if got := sorted.urlKey(u); strings.Contains(got, "SECRET7") || !strings.HasPrefix(got, "https://h/a?b=1&token="+querySecretMark) {
		t.Errorf("sorted keying: key %q", got)
	}
	// An opaque target is sent as it is, with its query.
	opaque := &url.URL{Scheme: "https", Host: "h", Opaque: "/a?token=SECRET8"}
	if got := tr.urlKey(opaque); strings.Contains(got, "SECRET8") || !strings.HasPrefix(got, "https://h/a?token="+querySecretMark) {
		t.Errorf("opaque target: key %q", got)
	}
	// Configured names replace the default ones.
	custom := New(WithRedactedQueryParams("sid"))
	defer custom.Close()
	u, _ = url.Parse("https://h/a?sid=SECRET9&token=PUBLIC")
	if got := custom.urlKey(u); strings.Contains(got, "SECRET9") || !strings.Contains(got, "token=PUBLIC") {
		t.Errorf("WithRedactedQueryParams: key %q", got)
	}
}

// TestQuerySecretsKeepTokensApart: on every store, a request with one
// token is answered with that token's response only; invalidation of the
// URL with its token, by Invalidate or an unsafe request, finds it.
func TestQuerySecretsKeepTokensApart(t *testing.T) {
	for name, store := range storesUnderTest(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				fmt.Fprintf(w, "for %s", r.URL.Query().Get("access_token"))
			}, WithStorage(store()))
			tokenURL := func(token string) string { return h.origin.URL + "/me?access_token=" + token }
			for round := range 2 {
				for _, token := range []string{"alice", "bob"} {
					body, status := getWith(t, h.client, tokenURL(token), nil)
					if body != "for "+token {
						t.Fatalf("round %d: %s's request got %q", round, token, body)
					}
					if status.Hit != (round == 1) {
						t.Fatalf("round %d: %s's request: hit = %v", round, token, status.Hit)
					}
				}
				h.transport.waitForWrites()
			}
			if err := h.transport.Invalidate(context.Background(), tokenURL("alice")); err != nil {
				t.Fatal(err)
			}
			if _, status := getWith(t, h.client, tokenURL("alice"), nil); status.Hit {
				t.Fatal("Invalidate left alice's entry")
			}
			h.transport.waitForWrites()
			h.do(http.MethodPost, "/me?access_token=bob")
			if _, status := getWith(t, h.client, tokenURL("bob"), nil); status.Hit {
				t.Fatal("a POST left bob's entry")
			}
			if _, status := getWith(t, h.client, tokenURL("alice"), nil); !status.Hit {
				t.Fatal("a POST with bob's token removed alice's entry")
			}
		})
	}
}

// TestNoQuerySecretAtRest: a token in the query reaches no disk file, in
// the clear store's key header or anywhere else.
func TestNoQuerySecretAtRest(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "document")
	}, WithStorage(must(NewDiskStorage(dir, 0))))
	for _, target := range []string{"/a?access_token=SECRET-1", "/b?page=1&api_key=SECRET-2", "/c?X-Amz-Signature=SECRET-3"} {
		if _, status := getWith(t, h.client, h.origin.URL+target, nil); !status.Stored {
			t.Fatalf("%s was not stored", target)
		}
	}
	h.transport.waitForWrites()
	files := scanFilesFor(t, dir, "SECRET")
	if files < 3 {
		t.Fatalf("%d files written for 3 responses", files)
	}
}

// FuzzQuerySecrets: a key's query has the parts of the query sent, in
// order; each is as sent, except that a secret parameter's value is its
// fingerprint.
func FuzzQuerySecrets(f *testing.F) {
	f.Add("access_token=a&b=1")
	f.Add("token=&Token=x&&sig")
	f.Add("access%5Ftoken=%zz&key=a=b")
	secrets := newQuerySecrets(DefaultRedactedQueryParams, []byte("0123456789abcdef"))
	f.Fuzz(func(t *testing.T, raw string) {
		got := string(secrets.appendQuery(nil, raw))
		sent, keyed := strings.Split(raw, "&"), strings.Split(got, "&")
		if len(sent) != len(keyed) {
			t.Fatalf("%q keyed as %q: %d parts for %d", raw, got, len(keyed), len(sent))
		}
		for i, part := range sent {
			if !secrets.isSecret(part) {
				if keyed[i] != part {
					t.Fatalf("%q keyed as %q: part %q changed", raw, got, part)
				}
				continue
			}
			name, _, _ := strings.Cut(part, "=")
			want := name + "=" + secrets.fingerprint(part[len(name)+1:])
			if keyed[i] != want || len(want) != len(name)+1+len(querySecretMark)+querySecretDigits {
				t.Fatalf("%q keyed as %q: secret part %q keyed %q", raw, got, part, keyed[i])
			}
		}
	})
}

// TestFingerprintCachesHoldSmallInputsOnly: the fingerprints kept for
// hits hold at most maxCachedFingerprintInput bytes of input each, so that
// long credentials cannot fill memory outside every bound (8,000 users with
// 16 KiB tokens held 142 MiB before); a long one still has its own key.
func TestFingerprintCachesHoldSmallInputsOnly(t *testing.T) {
	tr := New(WithPartitionSecret([]byte("0123456789abcdef")))
	defer tr.Close()
	long := strings.Repeat("t", 16<<10)
	u, _ := url.Parse("https://h/a?token=" + long)
	first := tr.urlKey(u)
	if tr.urlKey(u) != first {
		t.Fatal("a long token has two keys")
	}
	req, _ := http.NewRequest(http.MethodGet, "https://h/a", nil)
	req.Header.Set("Authorization", long)
	suffix := tr.newExchange(req).keySuffix
	if suffix == "" || tr.newExchange(req).keySuffix != suffix {
		t.Fatal("a long credential has no partition, or two")
	}
	tr.partitions.mu.RLock()
	kept := len(tr.partitions.cached)
	tr.partitions.mu.RUnlock()
	tr.querySecrets.mu.RLock()
	kept += len(tr.querySecrets.cached)
	tr.querySecrets.mu.RUnlock()
	if kept != 0 {
		t.Errorf("%d fingerprints of 16 KiB inputs kept", kept)
	}
}
