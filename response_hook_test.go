package httpcache

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestResponseHookReportsEachRoundTrip(t *testing.T) {
	var mu sync.Mutex
	var events []ResponseEvent
	hook := func(e ResponseEvent) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "body")
	}, WithResponseHook(hook), WithSynchronousWrites(true))

	secret := "s3cr3t-credential"
	h.get("/a?token="+secret, "Authorization", "Bearer "+secret, "Cookie", "sid="+secret)
	h.get("/a?token="+secret, "Authorization", "Bearer "+secret, "Cookie", "sid="+secret)
	h.get("/b", "Cache-Control", "no-store")

	if len(events) != 3 {
		t.Fatalf("%d events, want 3: %+v", len(events), events)
	}
	host := strings.TrimPrefix(h.origin.URL, "http://")
	want := []CacheStatus{{Forward: ForwardURIMiss}, {Hit: true}, {Forward: ForwardBypass}}
	for i, e := range events {
		if e.Method != http.MethodGet || e.Host != host || e.StatusCode != http.StatusOK || e.Err != nil {
			t.Errorf("event %d: %+v", i, e)
		}
		if e.Cache.Hit != want[i].Hit || e.Cache.Forward != want[i].Forward {
			t.Errorf("event %d cache %+v, want %+v", i, e.Cache, want[i])
		}
		if e.Duration <= 0 {
			t.Errorf("event %d: duration %v", i, e.Duration)
		}
		if text := fmt.Sprintf("%+v %#v", e, e); strings.Contains(text, secret) {
			t.Errorf("event %d holds the credential: %s", i, text)
		}
	}
}

func TestResponseHookReportsErrors(t *testing.T) {
	failure := errors.New("origin unreachable")
	var got []ResponseEvent
	tr := New(WithTransport(roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, failure })),
		WithResponseHook(func(e ResponseEvent) { got = append(got, e) }))
	defer tr.Close()
	req, _ := http.NewRequest("", "http://API.example:80/x", nil)
	if _, err := tr.RoundTrip(req); !errors.Is(err, failure) {
		t.Fatalf("err %v", err)
	}
	if _, err := tr.RoundTrip(nil); err == nil {
		t.Fatal("a nil request got no error")
	}
	if len(got) != 2 {
		t.Fatalf("%d events, want 2", len(got))
	}
	if e := got[0]; e.Method != http.MethodGet || e.Host != "api.example" || e.StatusCode != 0 || !errors.Is(e.Err, failure) || e.Cache != (CacheStatus{}) {
		t.Fatalf("event %+v", e)
	}
	if got[1].Err == nil {
		t.Fatalf("nil request event %+v", got[1])
	}
}

func TestResponseHookNilRefused(t *testing.T) {
	if _, err := NewTransport(WithResponseHook(nil)); err == nil {
		t.Fatal("a nil hook was accepted")
	}
}
