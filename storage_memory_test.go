package httpcache_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/storagetest"
)

func TestMemoryStorageAcceptance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, maxBytes int64) httpcache.Storage {
		return httpcache.NewMemoryStorage(maxBytes)
	})
}

func TestMemoryStorageEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	entry := storagetest.NewEntry("", "x", 1000)
	one := int64(0)
	{
		probe := httpcache.NewMemoryStorage(1 << 20)
		probe.Set(ctx, "k0", entry, 0)
		one = probe.Size()
	}
	s := httpcache.NewMemoryStorage(3*one + one/2) // room for three entries
	for i := 0; i < 3; i++ {
		s.Set(ctx, "k"+strconv.Itoa(i), entry, 0)
	}
	s.Get(ctx, "k0") // k0 is now the most recently used; k1 the least
	s.Set(ctx, "k3", entry, 0)
	tests := []struct {
		key  string
		kept bool
	}{
		{"k0", true}, {"k1", false}, {"k2", true}, {"k3", true},
	}
	for _, tt := range tests {
		got, _ := s.Get(ctx, tt.key)
		if (len(got) == 1) != tt.kept {
			t.Errorf("%s kept = %v, want %v", tt.key, len(got) == 1, tt.kept)
		}
	}
	if s.Size() > 3*one+one/2 || s.Len() != 3 {
		t.Errorf("Size %d Len %d after eviction", s.Size(), s.Len())
	}
}

func TestMemoryStorageRejectsEntryLargerThanBound(t *testing.T) {
	s := httpcache.NewMemoryStorage(1000)
	if err := s.Set(context.Background(), "k", storagetest.NewEntry("", "big", 5000), time.Hour); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 0 || s.Size() != 0 {
		t.Fatalf("an entry larger than the bound was kept: Len %d Size %d", s.Len(), s.Size())
	}
}

func TestMemoryStorageBoundsVariants(t *testing.T) {
	s := httpcache.NewMemoryStorage(0)
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		s.Set(ctx, "k", storagetest.NewEntry("v"+strconv.Itoa(i), "x", 10), 0)
	}
	got, _ := s.Get(ctx, "k")
	if len(got) != 32 || got[len(got)-1].Variant != "v99" {
		t.Fatalf("kept %d variants, newest %q", len(got), got[len(got)-1].Variant)
	}
}

// TestMemoryStorageBoundsTheVariantsOfOneKey: the variants of one key count
// against the bound: a key whose variants outgrow it keeps its newest ones
// that fit, never more than the bound (32 variants of 24 KiB in a 64 KiB
// store held 768 KiB before).
func TestMemoryStorageBoundsTheVariantsOfOneKey(t *testing.T) {
	const bound = 64 << 10
	s := httpcache.NewMemoryStorage(bound)
	ctx := context.Background()
	for i := range 32 {
		if err := s.Set(ctx, "k", storagetest.NewEntry("v"+strconv.Itoa(i), "x", 24<<10), time.Hour); err != nil {
			t.Fatal(err)
		}
		if s.Size() > bound {
			t.Fatalf("after %d variants: Size %d over the bound %d", i+1, s.Size(), bound)
		}
	}
	got, _ := s.Get(ctx, "k")
	if len(got) != 2 || got[1].Variant != "v31" || got[0].Variant != "v30" {
		t.Fatalf("kept %d variants, want the newest two, which fit", len(got))
	}
	// Variants that fit together are all kept.
	s = httpcache.NewMemoryStorage(64 << 10)
	for i := range 8 {
		s.Set(ctx, "k", storagetest.NewEntry("v"+strconv.Itoa(i), "x", 1<<10), time.Hour)
	}
	if got, _ := s.Get(ctx, "k"); len(got) != 8 {
		t.Fatalf("kept %d of 8 variants that fit", len(got))
	}
}

// TestMemoryStorageTooLargeSupersedes: an entry too large to keep removes
// the older one of its key, which it supersedes; a nil entry is an error.
func TestMemoryStorageTooLargeSupersedes(t *testing.T) {
	s := httpcache.NewMemoryStorage(64 << 10)
	ctx := context.Background()
	s.Set(ctx, "k", storagetest.NewEntry("", "small", 100), time.Hour)
	s.Set(ctx, "k", storagetest.NewEntry("", "big", 1<<20), time.Hour)
	if got, _ := s.Get(ctx, "k"); len(got) != 0 {
		t.Fatalf("the older entry is still served: %d entries", len(got))
	}
	if err := s.Set(ctx, "k", nil, time.Hour); err == nil {
		t.Error("a nil entry was accepted")
	}
}
