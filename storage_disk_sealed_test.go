package httpcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func testKeyring(t testing.TB, keys ...[]byte) *Keyring {
	t.Helper()
	k, err := NewKeyring(keys[0], keys[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sealedEntry is an entry whose URL, header and body carry marker.
func sealedEntry(marker string, bodySize int) *Entry {
	body := bytes.Repeat([]byte(marker+"-body."), bodySize/(len(marker)+6)+1)[:bodySize]
	return &Entry{Variant: "gzip-" + marker, StatusCode: 200,
		Header:      http.Header{"Cache-Control": {"max-age=600"}, "X-Secret": {marker + "-header"}},
		RequestTime: time.Now(), ResponseTime: time.Now(), Body: BytesBody(body)}
}

// readAll reads an entry's body through its reader, as a response would.
func readAll(e *Entry) ([]byte, error) {
	r, err := e.Body.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// scanDir fails the test when a file under dir holds any of needles.
func scanDir(t *testing.T, dir string, needles ...string) int {
	t.Helper()
	files := 0
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		for _, n := range needles {
			if strings.Contains(path, n) {
				t.Errorf("the path %s names %q", path, n)
			}
		}
		if d.IsDir() {
			return nil
		}
		files++
		data, _ := os.ReadFile(path)
		for _, n := range needles {
			if bytes.Contains(data, []byte(n)) {
				t.Errorf("%s holds %q in clear", path, n)
			}
		}
		return nil
	})
	return files
}

// Through the Transport, with partitions, a variant and a body that
// streams: nothing planted in the URL, a header or the body is in clear
// anywhere in the directory, file names included, and everything is
// served back.
func TestEncryptedDiskShowsNothingInClear(t *testing.T) {
	dir := t.TempDir()
	store := must(NewEncryptedDiskStorage(dir, 0, testKeyring(t, NewKey())))
	big := strings.Repeat("PLANTED-BODY.", (256<<10)/13)
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Vary", "Accept-Language")
		w.Header().Set("X-Planted", "PLANTED-HEADER")
		w.Header().Set("Cache-Tag", "PLANTED-TAG")
		if strings.HasSuffix(r.URL.Path, "/big") {
			io.WriteString(w, big)
			return
		}
		io.WriteString(w, "PLANTED-BODY for "+r.Header.Get("Authorization"))
	}, WithStorage(store), WithSynchronousWrites(true))
	paths := []string{"/PLANTED-PATH/small?PLANTED-QUERY=1", "/PLANTED-PATH/big"}
	for _, p := range paths {
		h.get(p)
		h.get(p, "Accept-Language", "PLANTED-LANGUAGE")
		h.get(p, "Authorization", "Bearer PLANTED-USER")
	}
	if files := scanDir(t, dir, "PLANTED", "127.0.0.1"); files < 4 {
		t.Fatalf("%d files for four keys", files)
	}
	for _, p := range paths {
		got := h.get(p, "Authorization", "Bearer PLANTED-USER")
		if !got.cache.Hit || (strings.HasSuffix(p, "/big") && got.body != big) || (!strings.HasSuffix(p, "/big") && got.body != "PLANTED-BODY for Bearer PLANTED-USER") {
			t.Fatalf("%s: hit %v, %d bytes", p, got.cache.Hit, len(got.body))
		}
	}
	entries, err := h.transport.Entries(context.Background(), "", 0)
	if err != nil || len(entries) != 4 {
		t.Fatalf("Entries of an encrypted store: %d, %v", len(entries), err)
	}
	if n, _ := h.transport.InvalidateTag(context.Background(), "PLANTED-TAG"); n != 4 {
		t.Fatalf("InvalidateTag removed %d", n)
	}
}

// Another key opens nothing: a store opened on the directory with a
// keyring that lacks the key sees misses, and removes the files it
// cannot open; a clear store neither serves nor keeps them.
func TestEncryptedDiskWrongKey(t *testing.T) {
	ctx := context.Background()
	for name, open := range map[string]func(dir string) *DiskStorage{
		"another key": func(dir string) *DiskStorage { return must(NewEncryptedDiskStorage(dir, 0, testKeyring(t, NewKey()))) },
		"in clear":    func(dir string) *DiskStorage { return must(NewDiskStorage(dir, 0)) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			key := "https://a.example/x"
			sealed := must(NewEncryptedDiskStorage(dir, 0, testKeyring(t, NewKey())))
			sealed.Set(ctx, key, sealedEntry("m", 100), time.Hour)
			other := open(dir)
			if got, err := other.Get(ctx, key); err != nil || len(got) != 0 {
				t.Fatalf("got %d entries, %v", len(got), err)
			}
			if keys := diskKeys(t, other); len(keys) != 0 {
				t.Fatalf("listed %q", keys)
			}
		})
	}
	dir := t.TempDir()
	clearStore := must(NewDiskStorage(dir, 0))
	clearStore.Set(ctx, "https://a.example/clear", sealedEntry("CLEAR", 100), time.Hour)
	must(NewEncryptedDiskStorage(dir, 0, testKeyring(t, NewKey())))
	scanDir(t, dir, "CLEAR")
}

// Rotation: a keyring with a new current key and the old one as previous
// serves what the old key sealed, rewrites it under the new key when
// stored again, and deletes under both; once the old key is dropped, only
// what the new key sealed is served.
func TestEncryptedDiskRotation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	oldKey, newKey := NewKey(), NewKey()
	before := must(NewEncryptedDiskStorage(dir, 0, testKeyring(t, oldKey)))
	for _, k := range []string{"https://a.example/1", "https://a.example/2", "https://a.example/3\x00fp"} {
		before.Set(ctx, k, sealedEntry("r", 100), time.Hour)
	}
	rotated := must(NewEncryptedDiskStorage(dir, 0, testKeyring(t, newKey, oldKey)))
	if got, _ := rotated.Get(ctx, "https://a.example/1"); len(got) != 1 {
		t.Fatal("an entry sealed by the previous key is not served after rotation")
	}
	if keys := diskKeys(t, rotated); len(keys) != 3 {
		t.Fatalf("listed %q after rotation", keys)
	}
	rotated.Set(ctx, "https://a.example/1", sealedEntry("r2", 100), time.Hour)
	rotated.DeleteURL(ctx, "https://a.example/3")
	if got, _ := rotated.Get(ctx, "https://a.example/3\x00fp"); len(got) != 0 {
		t.Fatal("DeleteURL missed a partition sealed by the previous key")
	}
	after := must(NewEncryptedDiskStorage(dir, 0, testKeyring(t, newKey)))
	if got, _ := after.Get(ctx, "https://a.example/1"); len(got) != 2 {
		t.Fatalf("the rewritten key holds %d variants under the new key, want both", len(got))
	}
	if got, _ := after.Get(ctx, "https://a.example/2"); len(got) != 0 {
		t.Fatal("an entry of a dropped key is served")
	}
}

// Every kind of tampering is a miss or a read error, never other bytes:
// a flipped byte anywhere, a file cut at any length (a segment's end
// included), segments swapped within a file or taken from another, a
// file moved to another key's path, another partition's, another URL's.
func TestEncryptedDiskTampering(t *testing.T) {
	ctx := context.Background()
	keys := testKeyring(t, NewKey())
	const size = 3*diskSegment + 100 // four segments; the body streams
	write := func(dir, key, marker string) []byte {
		s := must(NewEncryptedDiskStorage(dir, 0, keys))
		if err := s.Set(ctx, key, sealedEntry(marker, size), time.Hour); err != nil {
			t.Fatal(err)
		}
		return must(os.ReadFile(filepath.Join(dir, sealedNames(keys, key)[0])))
	}
	// check stores data as key's file and reads it: the entry must be
	// want's whole, or a miss, or a read error.
	check := func(t *testing.T, key string, data []byte, want []byte) {
		t.Helper()
		dir := t.TempDir()
		path := filepath.Join(dir, sealedNames(keys, key)[0])
		os.MkdirAll(filepath.Dir(path), 0o700)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s := must(NewEncryptedDiskStorage(dir, 0, keys))
		entries, err := s.Get(ctx, key)
		if err != nil || len(entries) == 0 {
			return
		}
		body, err := readAll(entries[0])
		if err == nil && !bytes.Equal(body, want) {
			t.Fatalf("served %d bytes that are not the entry's", len(body))
		}
		if err == nil && want == nil {
			t.Fatal("served a tampered file")
		}
	}
	key := "https://a.example/x\x00alice"
	dir := t.TempDir()
	good := write(dir, key, "good")
	wantBody := must(bodyBytes(sealedEntry("good", size).Body))
	check(t, key, good, wantBody) // untouched: served whole
	if entries, _ := must(NewEncryptedDiskStorage(dir, 0, keys)).Get(ctx, key); len(entries) != 1 || !bytes.Equal(must(readAll(entries[0])), wantBody) {
		t.Fatal("the untouched file is not served")
	}
	headerEnd, _, _, err := readSealedHeader(bytes.NewReader(good), int64(len(good)), keys)
	if err != nil {
		t.Fatal(err)
	}
	full := int(diskSegment + diskSegmentTag)
	segment := func(data []byte, i int) []byte {
		start := int(headerEnd) + i*full
		return data[start:min(start+full, len(data))]
	}
	t.Run("flipped byte", func(t *testing.T) {
		for _, at := range []int{0, 3, 5, 13, 20, int(headerEnd) - 1, int(headerEnd), int(headerEnd) + full - 1, int(headerEnd) + full + 7, len(good) - 1} {
			data := slices.Clone(good)
			data[at] ^= 0x40
			check(t, key, data, nil)
		}
	})
	t.Run("cut short", func(t *testing.T) {
		for _, n := range []int{0, 4, int(headerEnd), int(headerEnd) + full, int(headerEnd) + 2*full, int(headerEnd) + 3*full, len(good) - 1} {
			check(t, key, good[:n], nil)
		}
	})
	t.Run("segments swapped", func(t *testing.T) {
		data := slices.Concat(good[:headerEnd], segment(good, 1), segment(good, 0), segment(good, 2), segment(good, 3))
		check(t, key, data, nil)
	})
	t.Run("segment of another file", func(t *testing.T) {
		other := write(t.TempDir(), key, "good") // the same key and content, another file
		data := slices.Concat(good[:headerEnd], segment(good, 0), segment(other, 1), segment(good, 2), segment(good, 3))
		check(t, key, data, nil)
	})
	for name, target := range map[string]string{
		"another partition": "https://a.example/x\x00mallory",
		"no partition":      "https://a.example/x",
		"another URL":       "https://a.example/y\x00alice",
	} {
		t.Run("moved to "+name, func(t *testing.T) { check(t, target, good, nil) })
	}
}

// A streamed body is checked segment by segment: a damaged third segment
// fails the read before any of its bytes is returned, after the good
// segments' bytes.
func TestEncryptedDiskStreamedBodyFailsAtTheDamagedSegment(t *testing.T) {
	ctx := context.Background()
	keys := testKeyring(t, NewKey())
	dir := t.TempDir()
	s := must(NewEncryptedDiskStorage(dir, 0, keys))
	key := "https://a.example/stream"
	s.Set(ctx, key, sealedEntry("s", 4*diskSegment), time.Hour)
	entries, err := s.Get(ctx, key)
	if err != nil || len(entries) != 1 {
		t.Fatal(entries, err)
	}
	path := filepath.Join(dir, sealedNames(keys, key)[0])
	data := must(os.ReadFile(path))
	headerEnd, _, _, _ := readSealedHeader(bytes.NewReader(data), int64(len(data)), keys)
	f := must(os.OpenFile(path, os.O_WRONLY, 0))
	f.WriteAt([]byte{data[int(headerEnd)+2*(diskSegment+diskSegmentTag)+5] ^ 1}, headerEnd+2*(diskSegment+diskSegmentTag)+5)
	f.Close()
	r, err := entries[0].Body.Open()
	if err != nil {
		return // refused at once: also fine
	}
	defer r.Close()
	body, err := io.ReadAll(r)
	if !errors.Is(err, ErrCorruptEntry) {
		t.Fatalf("read %d bytes, %v; want a corrupt-entry error", len(body), err)
	}
	want := must(bodyBytes(sealedEntry("s", 4*diskSegment).Body))
	if !bytes.HasPrefix(want, body) || len(body) >= 2*diskSegment {
		t.Fatalf("returned %d bytes before the damaged segment", len(body))
	}
}

func TestNewKeyring(t *testing.T) {
	if _, err := NewKeyring(make([]byte, 16)); !errors.Is(err, ErrKeySize) {
		t.Fatalf("a 16-byte key: %v", err)
	}
	if _, err := NewKeyring(NewKey(), []byte("short")); !errors.Is(err, ErrKeySize) {
		t.Fatalf("a short previous key: %v", err)
	}
	k := NewKey()
	if _, err := NewKeyring(k, k); err == nil {
		t.Fatal("a key given twice was accepted")
	}
	if _, err := NewEncryptedDiskStorage(t.TempDir(), 0, nil); err == nil {
		t.Fatal("a nil Keyring was accepted")
	}
	hexKey := fmt.Sprintf("%x", k)
	for _, text := range []string{hexKey, " " + hexKey + "\n", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="} {
		if got, err := ParseKey(text); err != nil || len(got) != KeySize {
			t.Fatalf("ParseKey(%q): %v", text, err)
		}
	}
	if got, _ := ParseKey(hexKey); !bytes.Equal(got, k) {
		t.Fatal("ParseKey read another key")
	}
	for _, text := range []string{"", "abc", hexKey[:62], "not a key at all!"} {
		if _, err := ParseKey(text); !errors.Is(err, ErrKeySize) {
			t.Fatalf("ParseKey(%q): %v", text, err)
		}
	}
	// A typo in a hexadecimal key says so, not that base64 gave 48 bytes.
	if _, err := ParseKey(hexKey[:10] + "g" + hexKey[11:]); !errors.Is(err, ErrKeySize) || !strings.Contains(err.Error(), "not hexadecimal") {
		t.Fatalf("ParseKey of a mistyped hexadecimal key: %v", err)
	}
}

// Sealed values (Redis, gregjones) open only for the storage key they
// were sealed for, and with the key that sealed them.
func TestKeyringSealOpen(t *testing.T) {
	oldKey, newKey := NewKey(), NewKey()
	old, rotated := testKeyring(t, oldKey), testKeyring(t, newKey, oldKey)
	sealed, err := old.Seal("https://a.example/x\x00alice", []byte("value"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotated.Open("https://a.example/x\x00alice", sealed); err != nil || string(got) != "value" {
		t.Fatalf("rotated Open: %q, %v", got, err)
	}
	for _, other := range []string{"https://a.example/x\x00bob", "https://a.example/x", "https://a.example/y\x00alice"} {
		if _, err := old.Open(other, sealed); !errors.Is(err, ErrCorruptEntry) {
			t.Fatalf("opened for %q: %v", other, err)
		}
	}
	if _, err := testKeyring(t, newKey).Open("https://a.example/x\x00alice", sealed); !errors.Is(err, ErrCorruptEntry) {
		t.Fatal("opened without the key that sealed it")
	}
	for i := range sealed {
		damaged := slices.Clone(sealed)
		damaged[i] ^= 1
		if _, err := old.Open("https://a.example/x\x00alice", damaged); err == nil {
			t.Fatalf("a flipped byte at %d opened", i)
		}
	}
	listed := old.SealListing("https://a.example/x\x00alice")
	if got, err := rotated.OpenListing(listed); err != nil || got != "https://a.example/x\x00alice" {
		t.Fatalf("OpenListing: %q, %v", got, err)
	}
	if old.HashName("u", 16) == testKeyring(t, newKey).HashName("u", 16) || len(old.HashName("u", 16)) != 32 {
		t.Fatal("names are not keyed")
	}
	if names := rotated.HashNames("u", 8); len(names) != 2 || names[1] != old.HashName("u", 8) {
		t.Fatalf("HashNames %q", names)
	}
}

// FuzzSealedDiskFile feeds arbitrary bytes to an encrypted store as a
// key's file: Get, Peek, Keys and reading bodies never panic, and what is
// served is the entry that was sealed.
func FuzzSealedDiskFile(f *testing.F) {
	keys := must(NewKeyring(bytes.Repeat([]byte{7}, KeySize)))
	key := "https://a.example/k"
	seedDir := f.TempDir()
	seed := must(NewEncryptedDiskStorage(seedDir, 0, keys))
	seed.Set(context.Background(), key, sealedEntry("a", 100), time.Hour)
	seed.Set(context.Background(), key, sealedEntry("b", 70<<10), time.Hour)
	f.Add(must(os.ReadFile(filepath.Join(seedDir, sealedNames(keys, key)[0]))))
	f.Add([]byte("HCD\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, sealedNames(keys, key)[0])
		os.MkdirAll(filepath.Dir(path), 0o700)
		os.WriteFile(path, data, 0o600)
		s := must(NewEncryptedDiskStorage(dir, 0, keys))
		s.Keys(context.Background(), "", func(k string) bool {
			if k != key {
				t.Fatalf("listed %q", k)
			}
			return true
		})
		peeked, _ := s.Peek(context.Background(), key)
		got, _ := s.Get(context.Background(), key)
		for _, e := range append(peeked, got...) {
			body, err := readAll(e)
			if err != nil {
				continue
			}
			if want := must(bodyBytes(sealedEntry(strings.TrimPrefix(e.Variant, "gzip-"), len(body)).Body)); !bytes.Equal(body, want) {
				t.Fatal("served bytes that were not sealed")
			}
		}
	})
}
