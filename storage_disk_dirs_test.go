package httpcache_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/storagetest"
)

// A fan-out subdirectory counts toward the bound (one block) while it
// holds a file the store knows. When they counted from the first file
// written into them and for ever (subdirectories are never removed), once
// bound/4096 had been used (16 for a 64 KiB store, 256 for 1 MiB) the
// count stayed above the bound whatever was evicted: every Set evicted
// every other entry, and Size() stayed over the bound.
func TestSmallDiskStoreKeepsMoreThanOneEntry(t *testing.T) {
	ctx := context.Background()
	const bound = 64 << 10
	s, err := httpcache.NewDiskStorage(t.TempDir(), bound)
	if err != nil {
		t.Fatal(err)
	}
	// 100 tiny entries (about 1 KiB each): their keys fan out over
	// dozens of subdirectories.
	const n = 100
	for i := range n {
		key := "https://example.com/item/" + strconv.Itoa(i)
		if err := s.Set(ctx, key, storagetest.NewEntry("", strconv.Itoa(i), 100), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	kept := 0
	for i := range n {
		key := "https://example.com/item/" + strconv.Itoa(i)
		if got, _ := s.Peek(ctx, key); len(got) > 0 {
			kept++
		}
	}
	t.Logf("bound %d B: %d of %d tiny entries kept, Size() = %d", bound, kept, n, s.Size())
	if s.Size() > bound {
		t.Errorf("Size() = %d, over the %d B bound, after eviction: the subdirectories' blocks are never uncounted", s.Size(), bound)
	}
	// Each entry takes one block and a directory entry (4256 B); even
	// with a block for each one's subdirectory, 7 fit in 64 KiB.
	if kept < 4 {
		t.Errorf("a %d B store keeps %d tiny entries: the counted subdirectories alone fill the bound, so each write evicts every other", bound, kept)
	}
}

// The same with the 1 MiB bound of the commit's own footprint test: 256
// subdirectories are 1 MiB, all of the bound.
func TestOneMiBDiskStoreKeepsMoreThanOneEntry(t *testing.T) {
	ctx := context.Background()
	const bound = 1 << 20
	s, err := httpcache.NewDiskStorage(t.TempDir(), bound)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	for i := range n {
		key := "https://example.com/item/" + strconv.Itoa(i)
		if err := s.Set(ctx, key, storagetest.NewEntry("", strconv.Itoa(i), 100), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	kept := 0
	for i := range n {
		key := "https://example.com/item/" + strconv.Itoa(i)
		if got, _ := s.Peek(ctx, key); len(got) > 0 {
			kept++
		}
	}
	t.Logf("bound %d B: %d of %d tiny entries kept, Size() = %d", bound, kept, n, s.Size())
	if s.Size() > bound {
		t.Errorf("Size() = %d, over the %d B bound", s.Size(), bound)
	}
	if kept < 50 {
		t.Errorf("a 1 MiB store keeps %d tiny entries after %d writes", kept, n)
	}
}

// Deleting every entry leaves Size() counting subdirectories that hold no
// file, which a reopened store over the very same directory counts as 0:
// the running and the reopened accounts of one directory disagree.
func TestSizeAfterDeletingAllAgreesWithReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := httpcache.NewDiskStorage(dir, 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		key := "https://example.com/d/" + strconv.Itoa(i)
		s.Set(ctx, key, storagetest.NewEntry("", strconv.Itoa(i), 100), time.Hour)
	}
	for i := range 50 {
		s.Delete(ctx, "https://example.com/d/"+strconv.Itoa(i))
	}
	reopened, err := httpcache.NewDiskStorage(dir, 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	if s.Size() != reopened.Size() {
		t.Errorf("after deleting every entry: Size() = %d in the running store, %d reopened over the same directory", s.Size(), reopened.Size())
	}
}

// At open, the scan counts a block for every subdirectory that holds a
// file, then evicts with no entry spared: reopening a directory whose
// files span all 256 subdirectories under a 1 MiB bound (an operator
// lowering the bound, or the store's own earlier runs) removes every file.
func TestReopenUnderOneMiBKeepsSomething(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	big, err := httpcache.NewDiskStorage(dir, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	for i := range n {
		big.Set(ctx, "https://example.com/r/"+strconv.Itoa(i), storagetest.NewEntry("", strconv.Itoa(i), 100), time.Hour)
	}
	s, err := httpcache.NewDiskStorage(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	for i := range n {
		if got, _ := s.Peek(ctx, "https://example.com/r/"+strconv.Itoa(i)); len(got) > 0 {
			kept++
		}
	}
	t.Logf("reopened under 1 MiB: %d of %d entries kept, Size() = %d", kept, n, s.Size())
	if kept == 0 {
		t.Errorf("reopening under a 1 MiB bound removed all %d entries (Size() = %d): the subdirectories alone are counted as the whole bound", n, s.Size())
	}
}
