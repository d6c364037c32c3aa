//go:build unix

package httpcache_test

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
)

var damagePaths = []struct {
	path string
	size int
}{
	{"/s0", 1 << 10}, {"/s1", 1 << 10}, {"/s2", 3000},
	{"/m0", 100 << 10}, {"/m1", 100 << 10},
	{"/h0", 200 << 10}, {"/l0", 300 << 10}, {"/l1", 300 << 10},
}

// damageBody is the body of path, size bytes that name the path and their
// offsets, so that a byte out of place shows; made once per path.
func damageBody(path string, size int) []byte {
	if b, ok := damageBodies.Load(path); ok && len(b.([]byte)) == size {
		return b.([]byte)
	}
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "%s:%d;", path, i)
	}
	damageBodies.Store(path, b.Bytes()[:size])
	return b.Bytes()[:size]
}

var damageBodies sync.Map

func damageDiskOrigin(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	sizes := map[string]int{}
	for _, p := range damagePaths {
		sizes[p.path] = p.size
	}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("ETag", `"`+r.URL.Path+`"`)
		w.Write(damageBody(r.URL.Path, sizes[r.URL.Path]))
	}))
	t.Cleanup(s.Close)
	return s, &hits
}

// damageDiskPass opens a new store on dir and GETs every path; every answer
// must be 200 with the whole, right body. It returns the number of hits.
func damageDiskPass(t *testing.T, dir, base string) int {
	t.Helper()
	disk, err := httpcache.NewDiskStorage(dir, 64<<20)
	if err != nil {
		t.Fatalf("NewDiskStorage on the damaged directory: %v", err)
	}
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithStorage(disk), httpcache.WithSynchronousWrites(true))
	defer tr.Close()
	client := &http.Client{Transport: tr}
	hits := 0
	for _, p := range damagePaths {
		resp, err := client.Get(base + p.path)
		if err != nil {
			t.Errorf("GET %s: %v", p.path, err)
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		st, _ := httpcache.StatusOf(resp)
		if st.Hit {
			hits++
		}
		if err != nil {
			t.Errorf("GET %s (hit=%v): read error %v after %d bytes", p.path, st.Hit, err, len(body))
			continue
		}
		if resp.StatusCode != 200 || !bytes.Equal(body, damageBody(p.path, p.size)) {
			t.Errorf("GET %s (hit=%v): status %d, %d bytes, want %d: wrong body", p.path, st.Hit, resp.StatusCode, len(body), p.size)
		}
	}
	return hits
}

func damageEntryFiles(t *testing.T, dir string) []string {
	var files []string
	filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			files = append(files, path)
		}
		return nil
	})
	if len(files) == 0 {
		t.Fatal("no entry files")
	}
	return files
}

// TestDiskDamage damages a populated directory in the ways an
// operator meets, then opens a new store on it: every answer is a correct
// hit or a miss answered by the origin.
func TestDiskDamage(t *testing.T) {
	damages := map[string]func(t *testing.T, dir string, files []string){
		"truncated": func(t *testing.T, dir string, files []string) {
			for _, f := range files {
				info, _ := os.Stat(f)
				os.Truncate(f, rand.Int64N(info.Size()))
			}
		},
		"truncated-by-one": func(t *testing.T, dir string, files []string) {
			for _, f := range files {
				info, _ := os.Stat(f)
				os.Truncate(f, info.Size()-1)
			}
		},
		"extended": func(t *testing.T, dir string, files []string) {
			for _, f := range files {
				fh, _ := os.OpenFile(f, os.O_APPEND|os.O_WRONLY, 0)
				fh.Write(bytes.Repeat([]byte{0}, 5000))
				fh.Close()
			}
		},
		"random-bytes": func(t *testing.T, dir string, files []string) {
			for _, f := range files {
				data, _ := os.ReadFile(f)
				for range 1 + rand.IntN(4) {
					data[rand.IntN(len(data))] ^= byte(1 + rand.IntN(255))
				}
				os.WriteFile(f, data, 0o600)
			}
		},
		"all-random": func(t *testing.T, dir string, files []string) {
			for _, f := range files {
				info, _ := os.Stat(f)
				data := make([]byte, info.Size())
				for i := range data {
					data[i] = byte(rand.IntN(256))
				}
				os.WriteFile(f, data, 0o600)
			}
		},
		"other-key-copied-over": func(t *testing.T, dir string, files []string) {
			datas := make([][]byte, len(files))
			for i, f := range files {
				datas[i], _ = os.ReadFile(f)
			}
			for i, f := range files {
				os.WriteFile(f, datas[(i+1)%len(files)], 0o600)
			}
		},
		"empty-directory-at-entry-path": func(t *testing.T, dir string, files []string) {
			for _, f := range files {
				os.Remove(f)
				os.Mkdir(f, 0o700)
			}
		},
		"symlinks": func(t *testing.T, dir string, files []string) {
			for i, f := range files {
				os.Remove(f)
				os.Symlink(files[(i+1)%len(files)], f)
			}
		},
		"symlink-to-dev-zero": func(t *testing.T, dir string, files []string) {
			for _, f := range files {
				os.Remove(f)
				os.Symlink("/dev/zero", f)
			}
		},
		"fifos": func(t *testing.T, dir string, files []string) {
			for _, f := range files {
				os.Remove(f)
				syscall.Mkfifo(f, 0o600)
			}
		},
		"empty": func(t *testing.T, dir string, files []string) {
			for _, f := range files {
				os.WriteFile(f, nil, 0o600)
			}
		},
		"kill-9-leftovers": func(t *testing.T, dir string, files []string) {
			for i, f := range files {
				data, _ := os.ReadFile(f)
				half := data[:len(data)/2]
				old := time.Now().Add(-2 * time.Hour)
				tmp := filepath.Join(filepath.Dir(f), fmt.Sprintf(".tmp-%d", i))
				os.WriteFile(tmp, half, 0o600)
				os.Chtimes(tmp, old, old)
				young := filepath.Join(filepath.Dir(f), fmt.Sprintf(".tmp-young-%d", i))
				os.WriteFile(young, data, 0o600)
				if i%2 == 0 {
					os.WriteFile(f, half, 0o600) // a half-written file in place
				}
			}
		},
	}
	damageRunDamages(t, damages)
}

// TestDiskPlantedObstaclesRepaired: README promises that a directory
// planted at an entry's path "is a miss at once and is removed, and a write
// replaces it", and that a removed directory is recreated on the next
// write. A non-empty directory at an entry's path, or a file in place of a
// fan-out subdirectory, stops caching of those keys for good.
func TestDiskPlantedObstaclesRepaired(t *testing.T) {
	damageRunDamages(t, map[string]func(t *testing.T, dir string, files []string){
		"non-empty-directory-at-entry-path": func(t *testing.T, dir string, files []string) {
			for _, f := range files {
				os.Remove(f)
				os.Mkdir(f, 0o700)
				os.WriteFile(filepath.Join(f, "x"), []byte("x"), 0o600)
			}
		},
		"fanout-dir-replaced-by-file": func(t *testing.T, dir string, files []string) {
			for _, f := range files {
				sub := filepath.Dir(f)
				os.RemoveAll(sub)
				os.WriteFile(sub, []byte("junk"), 0o600)
			}
		},
	})
}

func damageRunDamages(t *testing.T, damages map[string]func(t *testing.T, dir string, files []string)) {
	origin, _ := damageDiskOrigin(t)
	for name, damage := range damages {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cache")
			damageDiskPass(t, dir, origin.URL)
			if h := damageDiskPass(t, dir, origin.URL); h != len(damagePaths) {
				t.Fatalf("undamaged: %d hits of %d", h, len(damagePaths))
			}
			damage(t, dir, damageEntryFiles(t, dir))
			damageDiskPass(t, dir, origin.URL) // damaged: misses or correct hits
			damageDiskPass(t, dir, origin.URL) // after the repairs
			if h := damageDiskPass(t, dir, origin.URL); h != len(damagePaths) {
				t.Errorf("after damage and repair: %d hits of %d", h, len(damagePaths))
			}
		})
	}
}

// TestDiskChangedWhileRead changes files while a store reads them:
// appended to, replaced by another key's file, flipped bytes in place.
// Every answer that ends cleanly must be the right body.
func TestDiskChangedWhileRead(t *testing.T) {
	origin, _ := damageDiskOrigin(t)
	dir := filepath.Join(t.TempDir(), "cache")
	damageDiskPass(t, dir, origin.URL)
	files := damageEntryFiles(t, dir)
	datas := make([][]byte, len(files))
	for i, f := range files {
		datas[i], _ = os.ReadFile(f)
	}
	disk, err := httpcache.NewDiskStorage(dir, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithStorage(disk), httpcache.WithSynchronousWrites(true))
	defer tr.Close()
	client := &http.Client{Transport: tr}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			j := rand.IntN(len(files))
			switch i % 3 {
			case 0: // grow in place
				if fh, err := os.OpenFile(files[j], os.O_APPEND|os.O_WRONLY, 0); err == nil {
					fh.Write([]byte("garbage"))
					fh.Close()
				}
			case 1: // another key's file copied over, in place
				if fh, err := os.OpenFile(files[j], os.O_WRONLY|os.O_TRUNC, 0); err == nil {
					fh.Write(datas[(j+1)%len(files)])
					fh.Close()
				}
			case 2: // restore
				os.WriteFile(files[j], datas[j], 0o600)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	var readErrs, wrong int
	for range 300 {
		p := damagePaths[rand.IntN(len(damagePaths))]
		resp, err := client.Get(origin.URL + p.path)
		if err != nil {
			t.Fatalf("GET %s: %v", p.path, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			readErrs++
			continue
		}
		if !bytes.Equal(body, damageBody(p.path, p.size)) {
			wrong++
			st, _ := httpcache.StatusOf(resp)
			t.Errorf("GET %s (hit=%v): %d bytes, wrong body %.40q", p.path, st.Hit, len(body), body)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("read errors (files rewritten in place under a reader): %d; wrong clean bodies: %d", readErrs, wrong)
}
