package httpcache

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// Review (issue 18): after a rotation, storing one variant of a key whose
// file was sealed by the previous key keeps the key's other variants, as
// a Set keeps them without a rotation ("rotation without a cold cache").
func TestEncReviewEncryptedDiskRotationKeepsOtherVariants(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	oldKey, newKey := NewKey(), NewKey()
	key := "https://a.example/vary"
	before := must(NewEncryptedDiskStorage(dir, 0, testKeyring(t, oldKey)))
	for _, v := range []string{"a", "b"} {
		if err := before.Set(ctx, key, sealedEntry(v, 100), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := before.Get(ctx, key); len(got) != 2 {
		t.Fatalf("%d variants before the rotation", len(got))
	}
	rotated := must(NewEncryptedDiskStorage(dir, 0, testKeyring(t, newKey, oldKey)))
	if err := rotated.Set(ctx, key, sealedEntry("c", 100), time.Hour); err != nil {
		t.Fatal(err)
	}
	got, _ := rotated.Get(ctx, key)
	var variants []string
	for _, e := range got {
		variants = append(variants, e.Variant)
	}
	slices.Sort(variants)
	if !slices.Equal(variants, []string{"gzip-a", "gzip-b", "gzip-c"}) {
		t.Fatalf("after a rotation and one Set, the key holds %q; want the two earlier variants kept", variants)
	}
}

// Review (issue 18): sealing a large record is linear in its size. The
// sealed writer appended every write to its pending bytes and shifted them
// down after each 64 KiB segment, so a record of n bytes cost n²/128 KiB
// of copying (a 128 MiB body: ~9 s) and a second copy of the record. It
// holds at most one segment, and seals each as it fills.
func TestEncReviewSealedWriterIsLinear(t *testing.T) {
	keys := testKeyring(t, NewKey())
	var out bytes.Buffer
	w, err := newSealedFileWriter(&out, keys, "https://a.example/big")
	if err != nil {
		t.Fatal(err)
	}
	headerLen := out.Len()
	if _, err := w.Write(make([]byte, 7*diskSegment/2)); err != nil {
		t.Fatal(err)
	}
	if cap(w.pending) > diskSegment || w.segment != 3 {
		t.Fatalf("after 3.5 segments: %d sealed, %d bytes held", w.segment, cap(w.pending))
	}
	if sealed := out.Len() - headerLen; sealed != 3*(diskSegment+diskSegmentTag) {
		t.Fatalf("%d bytes sealed out", sealed)
	}
	if err := w.Close(); err != nil || w.segment != 4 {
		t.Fatalf("Close: %v, %d segments", err, w.segment)
	}
}

// Review (issue 18): a body left in its file (larger than 64 KiB) is
// opened only from the file it was found in, still holding its record.
// The clear store checks the record (sameRecord: metadata and body
// checksums) because an inode number is reused once a replaced file is
// removed; the encrypted store checked only the inode and the size, so
// after the key was stored again (same size; on ext4 the inode comes
// back within a few Sets) an old entry's body streamed the new file's
// bytes, and failed only at its end, its wrong bytes already returned.
// The file is rewritten in place here, which is what inode reuse looks
// like to Open (and what an attacker with write access can do).
func TestEncReviewStreamedBodyOfAReplacedFile(t *testing.T) {
	ctx := context.Background()
	keys := testKeyring(t, NewKey())
	for name, open := range map[string]func(dir string) *DiskStorage{
		"clear":     func(dir string) *DiskStorage { return must(NewDiskStorage(dir, 0)) },
		"encrypted": func(dir string) *DiskStorage { return must(NewEncryptedDiskStorage(dir, 0, keys)) },
	} {
		t.Run(name, func(t *testing.T) {
			key := "https://a.example/replaced"
			version := func(marker string) *Entry {
				e := sealedEntry(marker, 200<<10)
				e.Variant = "v"
				return e
			}
			dir := t.TempDir()
			s := open(dir)
			if err := s.Set(ctx, key, version("old"), time.Hour); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(ctx, key)
			if err != nil || len(got) != 1 {
				t.Fatal(got, err)
			}
			// The key stored again, as another process or a later Set does.
			other := t.TempDir()
			if err := open(other).Set(ctx, key, version("new"), time.Hour); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, s.names(key)[0])
			newer := must(os.ReadFile(filepath.Join(other, s.names(key)[0])))
			if info := must(os.Stat(path)); info.Size() != int64(len(newer)) {
				t.Skipf("sizes differ: %d, %d", info.Size(), len(newer))
			}
			if err := os.WriteFile(path, newer, 0o600); err != nil { // same inode, same size
				t.Fatal(err)
			}
			r, err := got[0].Body.Open()
			if err != nil {
				return // refused: the file no longer holds the record
			}
			defer r.Close()
			body, err := io.ReadAll(r)
			want := must(bodyBytes(version("old").Body))
			if !bytes.HasPrefix(want, body) {
				t.Fatalf("the old entry's body streamed %d bytes that are not its own (then %v)", len(body), err)
			}
		})
	}
}
