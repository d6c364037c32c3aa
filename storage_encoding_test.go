package httpcache_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/storagetest"
)

// encodingStore keeps entries as bytes made by MarshalEntry, as disk and
// Redis stores do, so the acceptance suite exercises the encoding.
type encodingStore struct {
	mu   sync.Mutex
	data map[string]map[string][]byte
	exp  map[string]time.Time
}

func (s *encodingStore) Get(_ context.Context, key string) ([]*httpcache.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.exp[key]; ok && time.Now().After(exp) {
		delete(s.data, key)
		delete(s.exp, key)
	}
	var out []*httpcache.Entry
	for _, raw := range s.data[key] {
		e, err := httpcache.UnmarshalEntry(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func (s *encodingStore) Set(_ context.Context, key string, e *httpcache.Entry, ttl time.Duration) error {
	raw, err := httpcache.MarshalEntry(e)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.data[key] == nil {
		s.data[key] = map[string][]byte{}
	}
	s.data[key][e.Variant] = raw
	if ttl > 0 {
		s.exp[key] = time.Now().Add(ttl)
	} else {
		delete(s.exp, key)
	}
	return nil
}

func (s *encodingStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.data, key)
	delete(s.exp, key)
	return nil
}

// DeleteURL removes every key of url, scanning them all: fine for a test.
func (s *encodingStore) DeleteURL(_ context.Context, url string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key := range s.data {
		if httpcache.KeyURL(key) == url {
			delete(s.data, key)
			delete(s.exp, key)
		}
	}
	return nil
}

func TestEncodingStoreAcceptance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, maxBytes int64) httpcache.Storage {
		if maxBytes != 0 {
			return nil
		}
		return &encodingStore{data: map[string]map[string][]byte{}, exp: map[string]time.Time{}}
	})
}

func TestEntryRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		entry *httpcache.Entry
	}{
		{"typical", storagetest.NewEntry("accept:x\n", "typical", 1000)},
		{"empty body", storagetest.NewEntry("", "empty", 0)},
		{"no header", &httpcache.Entry{StatusCode: 404, Header: map[string][]string{}, Body: httpcache.BytesBody("nf")}},
		{"zero times", &httpcache.Entry{StatusCode: 200, Header: map[string][]string{"A": {""}}, Body: httpcache.BytesBody(nil)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := httpcache.MarshalEntry(tt.entry)
			if err != nil {
				t.Fatal(err)
			}
			got, err := httpcache.UnmarshalEntry(raw)
			if err != nil {
				t.Fatal(err)
			}
			storagetest.CheckEntry(t, got, tt.entry)
		})
	}
}

func TestUnmarshalEntryRejectsDamage(t *testing.T) {
	raw, err := httpcache.MarshalEntry(storagetest.NewEntry("", "ok", 300))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(raw)
		b[i] ^= 0x40
		return b
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"not an entry", []byte("HTTP/1.1 200 OK\r\n\r\n")},
		{"unknown version", flip(3)},
		{"metadata length", flip(6)},
		{"metadata bit flip", flip(12)},
		{"body bit flip", flip(len(raw) - 50)},
		{"body checksum bit flip", flip(len(raw) - 1)},
		{"truncated body", raw[:len(raw)-10]},
		{"truncated metadata", raw[:20]},
		{"trailing bytes", append(bytes.Clone(raw), 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := httpcache.UnmarshalEntry(tt.data); !errors.Is(err, httpcache.ErrCorruptEntry) {
				t.Fatalf("error = %v, want ErrCorruptEntry", err)
			}
		})
	}
}

func FuzzUnmarshalEntry(f *testing.F) {
	for _, e := range []*httpcache.Entry{storagetest.NewEntry("v", "seed", 100), storagetest.NewEntry("", "", 0)} {
		raw, _ := httpcache.MarshalEntry(e)
		f.Add(raw)
	}
	f.Add([]byte("HCE\x01\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := httpcache.UnmarshalEntry(data)
		if err != nil {
			if !errors.Is(err, httpcache.ErrCorruptEntry) {
				t.Fatalf("error %v does not wrap ErrCorruptEntry", err)
			}
			return
		}
		// Whatever decodes must encode back to the same bytes' meaning.
		again, err := httpcache.MarshalEntry(e)
		if err != nil {
			t.Fatal(err)
		}
		e2, err := httpcache.UnmarshalEntry(again)
		if err != nil {
			t.Fatalf("re-encoded entry does not decode: %v", err)
		}
		storagetest.CheckEntry(t, e2, e)
	})
}
