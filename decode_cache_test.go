package httpcache_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/storagetest"
)

func marshal(t testing.TB, e *httpcache.Entry) []byte {
	t.Helper()
	b, err := httpcache.MarshalEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func entryBody(t testing.TB, e *httpcache.Entry) string {
	t.Helper()
	r, err := e.Body.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestEntryDecoderKeepsByEncoding: the same bytes give the entry decoded
// before; bytes that differ anywhere (body, header, variant) give their
// own entry, never the kept one.
func TestEntryDecoderKeepsByEncoding(t *testing.T) {
	d := httpcache.NewEntryDecoder(1 << 20)
	want := storagetest.NewEntry("v", "alice", 100)
	data := marshal(t, want)
	first, err := d.Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	storagetest.CheckEntry(t, first, want)
	again, err := d.Unmarshal(bytes.Clone(data))
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Fatal("the same bytes were decoded anew, not the kept entry")
	}
	others := map[string]*httpcache.Entry{
		"body":    storagetest.NewEntry("v", "alicf", 100),
		"length":  storagetest.NewEntry("v", "alice", 101),
		"variant": storagetest.NewEntry("w", "alice", 100),
	}
	header := storagetest.NewEntry("v", "alice", 100)
	header.Header.Set("Content-Type", "text/html")
	others["header"] = header
	for name, other := range others {
		got, err := d.Unmarshal(marshal(t, other))
		if err != nil {
			t.Fatal(err)
		}
		if got == first {
			t.Fatalf("an entry that differs in its %s got the kept one", name)
		}
		storagetest.CheckEntry(t, got, other)
	}
}

// TestEntryDecoderCopiesWhatItKeeps: a store may reuse its read buffer once
// Unmarshal returns; the kept entry's body is its own.
func TestEntryDecoderCopiesWhatItKeeps(t *testing.T) {
	d := httpcache.NewEntryDecoder(1 << 20)
	want := storagetest.NewEntry("", "bob", 64)
	buffer := marshal(t, want)
	e, err := d.Unmarshal(buffer)
	if err != nil {
		t.Fatal(err)
	}
	for i := range buffer {
		buffer[i] = 'x'
	}
	storagetest.CheckEntry(t, e, want)
	if _, err := d.Unmarshal(buffer); !errors.Is(err, httpcache.ErrCorruptEntry) {
		t.Fatalf("overwritten bytes: %v, want ErrCorruptEntry", err)
	}
}

// TestEntryDecoderRefusesWhatUnmarshalEntryRefuses: corrupt bytes are an
// error, every time, and keep nothing.
func TestEntryDecoderRefusesWhatUnmarshalEntryRefuses(t *testing.T) {
	d := httpcache.NewEntryDecoder(1 << 20)
	data := marshal(t, storagetest.NewEntry("", "carol", 32))
	data[len(data)-1] ^= 1 // the body's checksum
	for range 2 {
		if e, err := d.Unmarshal(data); !errors.Is(err, httpcache.ErrCorruptEntry) || e != nil {
			t.Fatalf("corrupt entry: %v, %v", e, err)
		}
	}
}

// TestEntryDecoderKeepsNoneWithoutRoom: with no bytes, or for an encoding
// over MaxDecodedEntryBytes, every call decodes.
func TestEntryDecoderKeepsNoneWithoutRoom(t *testing.T) {
	small := marshal(t, storagetest.NewEntry("", "dave", 10))
	large := marshal(t, storagetest.NewEntry("", "erin", httpcache.MaxDecodedEntryBytes))
	for _, tt := range []struct {
		name string
		d    *httpcache.EntryDecoder
		data []byte
	}{
		{"no bytes", httpcache.NewEntryDecoder(0), small},
		{"nil decoder", nil, small},
		{"large entry", httpcache.NewEntryDecoder(1 << 30), large},
	} {
		first, err := tt.d.Unmarshal(tt.data)
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := tt.d.Unmarshal(tt.data); again == first {
			t.Errorf("%s: an entry was kept", tt.name)
		}
	}
}

// TestEntryDecoderIsBounded: what it keeps stays within its bytes however
// many entries go through it, and the newest are kept.
func TestEntryDecoderIsBounded(t *testing.T) {
	const maxBytes = 64 << 10
	d := httpcache.NewEntryDecoder(maxBytes)
	var last []byte
	for i := range 2000 {
		last = marshal(t, storagetest.NewEntry("", fmt.Sprint("user-", i), 512))
		if _, err := d.Unmarshal(last); err != nil {
			t.Fatal(err)
		}
		if held := httpcache.DecoderHeld(d); held > maxBytes {
			t.Fatalf("after %d entries, %d bytes kept, over %d", i+1, held, maxBytes)
		}
	}
	kept, _ := d.Unmarshal(last)
	if again, _ := d.Unmarshal(last); again != kept {
		t.Fatal("the newest entry was not kept")
	}
}

// TestEntryDecoderConcurrent: callers decoding many encodings at once each
// get their own bytes' entry (run with -race).
func TestEntryDecoderConcurrent(t *testing.T) {
	d := httpcache.NewEntryDecoder(16 << 10) // room for a few: slots are taken over
	encodings := make([][]byte, 40)
	for i := range encodings {
		encodings[i] = marshal(t, storagetest.NewEntry("", fmt.Sprint("id-", i), 200+i))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for n := range 500 {
				i := (g*7 + n) % len(encodings)
				e, err := d.Unmarshal(encodings[i])
				if err != nil {
					t.Error(err)
					return
				}
				if want := fmt.Sprint("id-", i); e.Header.Get("X-Entry") != want || !strings.HasPrefix(entryBody(t, e), want+".") {
					t.Errorf("decoding %s gave %s", want, e.Header.Get("X-Entry"))
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestEntryDecoderUnmarshalAlone: a kept entry comes alone in a slice that
// is kept with it.
func TestEntryDecoderUnmarshalAlone(t *testing.T) {
	d := httpcache.NewEntryDecoder(1 << 20)
	data := marshal(t, storagetest.NewEntry("", "frank", 10))
	first, err := d.UnmarshalAlone(data)
	if err != nil || len(first) != 1 {
		t.Fatalf("%v, %v", first, err)
	}
	again, _ := d.UnmarshalAlone(data)
	if &again[0] != &first[0] {
		t.Fatal("the slice was not kept with the entry")
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = d.UnmarshalAlone(data) }); n != 0 {
		t.Fatalf("a kept entry costs %v allocations, want 0", n)
	}
	if _, err := d.UnmarshalAlone([]byte("not an entry")); err == nil {
		t.Fatal("no error for bytes that are not an entry")
	}
}

// FuzzEntryDecoder: whatever the bytes, the decoder says what
// UnmarshalEntry says, the first time and the next.
func FuzzEntryDecoder(f *testing.F) {
	for _, e := range []*httpcache.Entry{storagetest.NewEntry("v", "seed", 100), storagetest.NewEntry("", "", 0)} {
		raw, _ := httpcache.MarshalEntry(e)
		f.Add(raw)
	}
	d := httpcache.NewEntryDecoder(1 << 20)
	f.Fuzz(func(t *testing.T, data []byte) {
		want, wantErr := httpcache.UnmarshalEntry(bytes.Clone(data))
		for range 2 {
			got, err := d.Unmarshal(data)
			if (err == nil) != (wantErr == nil) {
				t.Fatalf("decoder: %v; UnmarshalEntry: %v", err, wantErr)
			}
			if err == nil {
				storagetest.CheckEntry(t, got, want)
			}
		}
	})
}
