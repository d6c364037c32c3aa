package httpcache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// diskKeys lists every key of a DiskStorage.
func diskKeys(t *testing.T, d *DiskStorage) []string {
	t.Helper()
	var keys []string
	if err := d.Keys(context.Background(), "", func(key string) bool { keys = append(keys, key); return true }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

func diskTestEntry(body string) *Entry {
	return &Entry{StatusCode: 200, Header: map[string][]string{"Cache-Control": {"max-age=60"}},
		RequestTime: time.Now(), ResponseTime: time.Now(), Body: BytesBody(body)}
}

// Keys walks the directory: it lists what another process wrote, and the
// partitioned keys of a URL, filtered by the URL prefix.
func TestDiskStorageListsEveryProcessesKeys(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	one := must(NewDiskStorage(dir, 0))
	other := must(NewDiskStorage(dir, 0)) // another process, opened before the writes
	one.Set(ctx, "https://a.example/x", diskTestEntry("x"), time.Hour)
	one.Set(ctx, "https://a.example/x\x00fp1", diskTestEntry("x1"), time.Hour)
	other.Set(ctx, "https://b.example/y", diskTestEntry("y"), time.Hour)
	want := []string{"https://a.example/x", "https://a.example/x\x00fp1", "https://b.example/y"}
	if got := diskKeys(t, one); !slices.Equal(got, want) {
		t.Fatalf("keys %q, want %q", got, want)
	}
	var under []string
	one.Keys(ctx, "https://a.example/", func(key string) bool { under = append(under, key); return true })
	if len(under) != 2 {
		t.Fatalf("under the prefix: %q", under)
	}
	stopped := 0
	one.Keys(ctx, "", func(string) bool { stopped++; return false })
	if stopped != 1 {
		t.Fatalf("fn called %d times after returning false", stopped)
	}
}

// A file copied to another key's path names a key whose path it is not:
// it is not listed, as it is never served.
func TestDiskStorageDoesNotListAFileAtAnotherKeysPath(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	d := must(NewDiskStorage(dir, 0))
	d.Set(ctx, "https://a.example/secret", diskTestEntry("secret"), time.Hour)
	d.Set(ctx, "https://a.example/public", diskTestEntry("public"), time.Hour)
	data, err := os.ReadFile(filepath.Join(dir, fileName("https://a.example/secret")))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, fileName("https://a.example/public")), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := diskKeys(t, d); !slices.Equal(got, []string{"https://a.example/secret"}) {
		t.Fatalf("keys %q", got)
	}
}

// A file an earlier version wrote (version 2, without its key) could not
// be listed, and so not purged: it is not served, and is removed.
func TestDiskStorageDropsVersion2Files(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	d := must(NewDiskStorage(dir, 0))
	key := "https://a.example/old"
	d.Set(ctx, key, diskTestEntry("old"), time.Hour)
	path := filepath.Join(dir, fileName(key))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, start, err := readDiskFileHeader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append([]byte("HCD\x02"), data[start:]...), 0o600); err != nil {
		t.Fatal(err)
	}
	if entries, err := d.Get(ctx, key); err != nil || len(entries) != 0 {
		t.Fatalf("a version 2 file served: %d, %v", len(entries), err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the version 2 file is still there: %v", err)
	}
}

// Peek reads without side effects: an expired file stays, and the
// recency order is left as it was.
func TestDiskStoragePeekLeavesTheStoreAlone(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	d := must(NewDiskStorage(dir, 0))
	d.Set(ctx, "https://a.example/1", diskTestEntry("1"), time.Hour)
	d.Set(ctx, "https://a.example/2", diskTestEntry("2"), time.Hour)
	if entries, err := d.Peek(ctx, "https://a.example/1"); err != nil || len(entries) != 1 {
		t.Fatalf("Peek: %v, %v", entries, err)
	}
	d.mu.Lock()
	oldest := d.recency.evictionVictim(nil)
	d.mu.Unlock()
	if oldest == nil || oldest.item.name != fileName("https://a.example/1") {
		t.Fatal("Peek marked the file recently used")
	}
	d.Set(ctx, "https://a.example/short", diskTestEntry("s"), time.Nanosecond)
	if entries, _ := d.Peek(ctx, "https://a.example/short"); len(entries) != 0 {
		t.Fatal("Peek returned an expired entry")
	}
	if _, err := os.Stat(filepath.Join(dir, fileName("https://a.example/short"))); err != nil {
		t.Fatalf("Peek removed an expired file: %v", err)
	}
}

// File names are what they always were: directories of caches written
// before stay readable.
func TestDiskFileNamesKeepTheirFormat(t *testing.T) {
	for _, key := range []string{"https://example.com/a", "https://example.com/a\x000123abcd", ""} {
		url := KeyURL(key)
		sum := sha256.Sum256([]byte(url))
		h := hex.EncodeToString(sum[:])
		want := filepath.Join(h[:2], h)
		if KeyPartition(key) != "" {
			keySum := sha256.Sum256([]byte(key))
			want += "." + hex.EncodeToString(keySum[:])
		}
		if got := fileName(key); got != want {
			t.Errorf("fileName(%q) = %q, want %q", key, got, want)
		}
		if got := urlFileName(url); got != filepath.Join(h[:2], h) {
			t.Errorf("urlFileName(%q) = %q", url, got)
		}
		if !isDiskFileName(fileName(key)) {
			t.Errorf("%q is not taken for a file name", fileName(key))
		}
	}
}
