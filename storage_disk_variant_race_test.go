package httpcache

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

func variantQueueEntry(variant, body string, at time.Time) *Entry {
	return &Entry{StatusCode: 200, Header: http.Header{"Vary": {"Accept-Language"}, "Cache-Control": {"max-age=600"}},
		Body: BytesBody(body), Variant: variant, RequestTime: at, ResponseTime: at}
}

// DiskStorage: a Set of variant fr and a DeleteVariant of en of the same
// key, at once, leave fr's new entry (and no en): each reads the key's
// file and renames a new one over it, under the key's lock (keyLock), so
// that neither's rename lands over the other's and brings back the fr
// entry the Set replaced.
func TestDiskConcurrentSetAndDeleteVariant(t *testing.T) {
	ctx := context.Background()
	d := must(NewDiskStorage(t.TempDir(), 0))
	key := "http://origin.example/doc"
	base := time.Now()
	for i := 0; i < 3000; i++ {
		at := base.Add(time.Duration(i) * time.Second)
		if err := d.Set(ctx, key, variantQueueEntry("fr", "fr-old", at), time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := d.Set(ctx, key, variantQueueEntry("en", "en-old", at), time.Hour); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(2)
		start := make(chan struct{})
		go func() {
			defer wg.Done()
			<-start
			d.Set(ctx, key, variantQueueEntry("fr", "fr-new", at.Add(time.Millisecond)), time.Hour)
		}()
		go func() {
			defer wg.Done()
			<-start
			d.DeleteVariant(ctx, key, "en")
		}()
		close(start)
		wg.Wait()
		entries, err := d.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			b, _ := readBody(e.Body)
			got = append(got, e.Variant+"="+string(b))
		}
		for _, g := range got {
			if g == "fr=fr-old" {
				t.Fatalf("round %d: after Set(fr-new) || DeleteVariant(en) the key holds %v: fr-new was lost and the fr-old it replaced is stored again", i, got)
			}
		}
	}
}

func readBody(b Body) ([]byte, error) {
	rc, err := b.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
