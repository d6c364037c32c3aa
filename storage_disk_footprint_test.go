//go:build unix

package httpcache

import (
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"syscall"
	"testing"
)

// DiskStorage counts a file's length against maxBytes; the disk counts
// the blocks it takes (4 KiB at least on ext4, xfs, tmpfs) and the
// directories that hold them. Tiny responses, the shape of most API
// answers (and what any origin can send), make the directory take many
// times its bound, as du measures it.
func TestDiskStorageFootprintAsMeasured(t *testing.T) {
	const bound = 1 << 20
	dir := t.TempDir()
	store, err := NewDiskStorage(dir, bound)
	if err != nil {
		t.Fatal(err)
	}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "{}")
	}))
	defer origin.Close()
	tr := New(WithStorage(store), WithSynchronousWrites(true))
	defer tr.Close()
	client := &http.Client{Transport: tr}
	for i := range 8000 {
		resp, err := client.Get(fmt.Sprintf("%s/i/%d", origin.URL, i))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	var files, dirs, length, onDisk int64
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if d.IsDir() {
			dirs++
		} else {
			files++
			length += info.Size()
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			onDisk += st.Blocks * 512
		}
		return nil
	})
	t.Logf("bound %d B; %d files of %d B in all (%.0f B each), %d directories; on disk (st_blocks) %d B = %.1fx the bound",
		bound, files, length, float64(length)/float64(max(files, 1)), dirs, onDisk, float64(onDisk)/bound)
	if length > bound {
		t.Errorf("file lengths %d B over the %d B bound", length, bound)
	}
	if onDisk > 2*bound {
		t.Errorf("the directory takes %d B on disk, %.1fx its %d B bound: file lengths are counted, not the blocks the disk gives them", onDisk, float64(onDisk)/bound, bound)
	}
}
