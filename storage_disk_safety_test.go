//go:build unix

package httpcache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/storagetest"
)

// The disk store under concurrency and hostile directories (issue 13).

// entryFor is the entry the stress tests store under a key: its id names
// the key, so that a reader can tell an entry of another key.
func entryFor(key string, n, size int) *httpcache.Entry {
	return storagetest.NewEntry("", key+"#"+strconv.Itoa(n), size)
}

// checkBelongs fails unless e is an entry stored for key, whole.
func checkBelongs(t *testing.T, key string, e *httpcache.Entry) error {
	id := e.Header.Get("X-Entry")
	if owner, _, _ := strings.Cut(id, "#"); owner != key {
		return fmt.Errorf("Get(%q) returned an entry of %q", key, owner)
	}
	size, _ := strconv.Atoi(e.Header.Get("X-Body-Length"))
	r, err := e.Body.Open()
	if err != nil {
		return nil // the file went: a miss, not a wrong entry
	}
	defer r.Close()
	body, err := io.ReadAll(r)
	if err != nil {
		return nil // a read error is allowed; wrong bytes are not
	}
	if want := storagetest.NewEntry("", id, size).Body.(httpcache.BytesBody); !bytes.Equal(body, want) {
		return fmt.Errorf("Get(%q): body of %d bytes does not match entry %s", key, len(body), id)
	}
	return nil
}

// TestDiskStorageNeverServesAnotherKeysEntry: writers, deleters and readers
// on a store small enough to evict all the time; every entry read is the
// one stored for its key (before, a file recycled between a reader's open
// and its read could hold another key's record).
func TestDiskStorageNeverServesAnotherKeysEntry(t *testing.T) {
	s := newDiskStorage(t, t.TempDir(), 256<<10)
	keys := make([]string, 40)
	for i := range keys {
		keys[i] = "https://example.com/k" + strconv.Itoa(i)
	}
	sizes := []int{10, 900, 8 << 10, 30 << 10, 90 << 10} // inline and streamed bodies
	ctx := context.Background()
	deadline := time.Now().Add(time.Second)
	var wg sync.WaitGroup
	var reads, wrong atomic.Int64
	var firstErr atomic.Value
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 1))
			for n := 0; time.Now().Before(deadline); n++ {
				key := keys[rnd.IntN(len(keys))]
				if rnd.IntN(8) == 0 {
					s.Delete(ctx, key)
					continue
				}
				s.Set(ctx, key, entryFor(key, n, sizes[rnd.IntN(len(sizes))]), time.Hour)
			}
		}()
	}
	for r := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(r), 2))
			for time.Now().Before(deadline) {
				key := keys[rnd.IntN(len(keys))]
				entries, err := s.Get(ctx, key)
				if err != nil {
					continue
				}
				for _, e := range entries {
					reads.Add(1)
					if err := checkBelongs(t, key, e); err != nil {
						wrong.Add(1)
						firstErr.CompareAndSwap(nil, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if wrong.Load() > 0 {
		t.Fatalf("%d of %d entries read were wrong; first: %v", wrong.Load(), reads.Load(), firstErr.Load())
	}
	if reads.Load() == 0 {
		t.Fatal("no entry was read")
	}
	t.Logf("%d entries read, all of their own key", reads.Load())
}

// TestDiskStorageFileCopiedToAnotherKey: a valid file copied or moved to
// another key's path is a miss for that key, never its entry, even once
// the store has read the file at its own key's path and keeps it decoded.
func TestDiskStorageFileCopiedToAnotherKey(t *testing.T) {
	dir := t.TempDir()
	s := newDiskStorage(t, dir, 0)
	ctx := context.Background()
	if err := s.Set(ctx, "https://example.com/a", entryFor("https://example.com/a", 1, 100), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "https://example.com/b", entryFor("https://example.com/b", 1, 100), time.Hour); err != nil {
		t.Fatal(err)
	}
	for range 2 { // decoded, then kept decoded
		if got, err := s.Get(ctx, "https://example.com/a"); err != nil || len(got) != 1 {
			t.Fatalf("a: %d entries, %v", len(got), err)
		}
	}
	a, b := fileOf(t, dir, s, "https://example.com/a"), fileOf(t, dir, s, "https://example.com/b")
	data, _ := os.ReadFile(a)
	if err := os.WriteFile(b, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "https://example.com/b"); err != nil || len(got) != 0 {
		t.Fatalf("b's path holds a's file: %d entries, %v; want a miss", len(got), err)
	}
}

// fileOf returns the path of key's entry file: the one file that appears
// when key alone is stored in an empty store.
func fileOf(t *testing.T, dir string, s *httpcache.DiskStorage, key string) string {
	t.Helper()
	probeDir := t.TempDir()
	probe := newDiskStorage(t, probeDir, 0)
	probe.Set(context.Background(), key, storagetest.NewEntry("", "probe", 1), time.Hour)
	files := entryFiles(probeDir)
	if len(files) != 1 {
		t.Fatalf("%d files for one key", len(files))
	}
	rel, _ := filepath.Rel(probeDir, files[0])
	return filepath.Join(dir, rel)
}

// TestDiskStorageCorruptStreamedBodyAtExactLength: a reader that stops at
// the body's length, as io.ReadFull and JSON decoders do, gets an error
// for a corrupt streamed body, never its bytes.
func TestDiskStorageCorruptStreamedBodyAtExactLength(t *testing.T) {
	dir := t.TempDir()
	s := newDiskStorage(t, dir, 0)
	ctx := context.Background()
	const size = 200 << 10 // streamed from the file
	key := "https://example.com/large"
	if err := s.Set(ctx, key, storagetest.NewEntry("", "large", size), time.Hour); err != nil {
		t.Fatal(err)
	}
	entries, err := s.Get(ctx, key)
	if err != nil || len(entries) != 1 {
		t.Fatalf("%d entries, %v", len(entries), err)
	}
	path := fileOf(t, dir, s, key)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := f.Stat()
	f.WriteAt([]byte{'!'}, info.Size()-100) // a body byte near the end
	f.Close()
	r, err := entries[0].Body.Open()
	if err != nil {
		return // refused at once: fine
	}
	defer r.Close()
	buf := make([]byte, size)
	if _, err := io.ReadFull(r, buf); err == nil {
		t.Fatal("io.ReadFull of the exact length read a corrupt body without an error")
	}
}

// TestDiskStorageDeletedIsGone: a deleted entry's bytes are nowhere in the
// directory (an earlier version kept removed files for reuse, readable).
func TestDiskStorageDeletedIsGone(t *testing.T) {
	dir := t.TempDir()
	s := newDiskStorage(t, dir, 0)
	ctx := context.Background()
	secret := storagetest.NewEntry("", "SECRET-payload", 4<<10)
	s.Set(ctx, "https://example.com/p", secret, time.Hour)
	s.Delete(ctx, "https://example.com/p")
	s.Set(ctx, "https://example.com/q", storagetest.NewEntry("", "other", 100), time.Hour)
	s.DeleteURL(ctx, "https://example.com/q")
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := os.ReadFile(path)
			if bytes.Contains(data, []byte("SECRET-payload")) || bytes.Contains(data, []byte("other.")) {
				t.Errorf("%s still holds a deleted entry", path)
			}
		}
		return nil
	})
}

// TestDiskStorageRefusesOthersDirectories: a directory others may write to,
// or owned by another user, is refused with a clear error; a new one is
// created for the owner alone.
func TestDiskStorageRefusesOthersDirectories(t *testing.T) {
	open := t.TempDir()
	os.Chmod(open, 0o777)
	if _, err := httpcache.NewDiskStorage(open, 0); err == nil || !strings.Contains(err.Error(), "other users") {
		t.Fatalf("a 0777 directory: %v", err)
	}
	fresh := filepath.Join(t.TempDir(), "cache")
	newDiskStorage(t, fresh, 0)
	if info, _ := os.Stat(fresh); info.Mode().Perm() != 0o700 {
		t.Fatalf("a new cache directory has mode %#o, want 0700", info.Mode().Perm())
	}
	if os.Getuid() != 0 {
		t.Log("not root: the other-owner case needs chown")
		return
	}
	theirs := t.TempDir()
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Skipf("chown: %v", err)
	}
	if _, err := httpcache.NewDiskStorage(theirs, 0); err == nil || !strings.Contains(err.Error(), "owned by user") {
		t.Fatalf("a directory owned by another user: %v", err)
	}
}

// TestDiskStorageNeverFollowsLinks: a link planted at an entry's path is
// never read through (a miss) nor written through (the file it names is
// left as it was), and a link among the entry files is not counted.
func TestDiskStorageNeverFollowsLinks(t *testing.T) {
	dir := t.TempDir()
	s := newDiskStorage(t, dir, 0)
	ctx := context.Background()
	key := "https://example.com/linked"
	victim := filepath.Join(t.TempDir(), "authorized_keys")
	os.WriteFile(victim, []byte("ssh-ed25519 AAAA owner"), 0o600)
	path := fileOf(t, dir, s, key)
	os.MkdirAll(filepath.Dir(path), 0o700)
	if err := os.Symlink(victim, path); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, key); err != nil || len(got) != 0 {
		t.Fatalf("Get through a link: %d entries, %v", len(got), err)
	}
	// A link to a valid entry file the attacker made for the key, kept
	// outside the directory, is not served either.
	planted := filepath.Join(t.TempDir(), "planted")
	plantDir := t.TempDir()
	plant := newDiskStorage(t, plantDir, 0)
	plant.Set(ctx, key, storagetest.NewEntry("", "planted", 10), time.Hour)
	data, _ := os.ReadFile(entryFiles(plantDir)[0])
	os.WriteFile(planted, data, 0o600)
	os.Remove(path)
	os.Symlink(planted, path)
	if got, _ := s.Get(ctx, key); len(got) != 0 {
		t.Fatal("an entry planted behind a link was served")
	}
	os.Remove(path)
	os.Symlink(victim, path)
	if err := s.Set(ctx, key, storagetest.NewEntry("", "new", 10), time.Hour); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(victim); string(data) != "ssh-ed25519 AAAA owner" {
		t.Fatalf("the linked file was written: %q", data)
	}
	if info, err := os.Lstat(path); err != nil || !info.Mode().IsRegular() {
		t.Fatalf("the entry is not a regular file of the store's: %v", err)
	}
	// A link with an entry file's name is not taken for one when a store
	// opens the directory.
	other := fileOf(t, dir, s, "https://example.com/other")
	os.MkdirAll(filepath.Dir(other), 0o700)
	os.Symlink(victim, other)
	reopened := newDiskStorage(t, dir, 0)
	if got, _ := reopened.Get(ctx, "https://example.com/other"); len(got) != 0 {
		t.Fatal("a planted link was served")
	}
}

// TestDiskStorageNeverBlocksOnAPlantedFIFO: a FIFO, a directory or a
// device at an entry's path is a miss, at once (an open that waited for a
// writer would hang the request), and is removed.
func TestDiskStorageNeverBlocksOnAPlantedFIFO(t *testing.T) {
	dir := t.TempDir()
	s := newDiskStorage(t, dir, 0)
	key := "https://example.com/fifo"
	path := fileOf(t, dir, s, key)
	os.MkdirAll(filepath.Dir(path), 0o700)
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		got, err := s.Get(context.Background(), key)
		if err == nil && len(got) != 0 {
			err = fmt.Errorf("%d entries", len(got))
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Get on a FIFO: %v, want a miss", err)
		}
	case <-time.After(5 * time.Second):
		if w, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
			w.Close() // lets the blocked open return, so that the test ends
		}
		<-done
		t.Fatal("Get blocked on a FIFO planted at the entry's path")
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the FIFO is still there: %v", err)
	}
}

// TestDiskStorageRefusesUndecodableEntries: an entry the decoder would not
// read back is not written (an error), and the key's other variants stay.
func TestDiskStorageRefusesUndecodableEntries(t *testing.T) {
	s := newDiskStorage(t, t.TempDir(), 0)
	ctx := context.Background()
	key := "https://example.com/v"
	good := storagetest.NewEntry("good", "good", 10)
	if err := s.Set(ctx, key, good, time.Hour); err != nil {
		t.Fatal(err)
	}
	huge := storagetest.NewEntry("huge", "huge", 10)
	for i := range 5000 {
		huge.Header["X-F"+strconv.Itoa(i)] = []string{"v"}
	}
	if err := s.Set(ctx, key, huge, time.Hour); !errors.Is(err, httpcache.ErrEntryTooLarge) {
		t.Fatalf("Set of an entry with 5,000 fields: %v, want ErrEntryTooLarge", err)
	}
	got, err := s.Get(ctx, key)
	if err != nil || len(got) != 1 || got[0].Variant != "good" {
		t.Fatalf("after the refused Set: %d entries, %v", len(got), err)
	}
}

// TestDiskStorageOneDamagedVariant: a damaged record drops itself, not the
// key's other variants.
func TestDiskStorageOneDamagedVariant(t *testing.T) {
	dir := t.TempDir()
	s := newDiskStorage(t, dir, 0)
	ctx := context.Background()
	key := "https://example.com/vv"
	s.Set(ctx, key, storagetest.NewEntry("first", "first-variant", 50), time.Hour)
	s.Set(ctx, key, storagetest.NewEntry("second", "second-variant", 50), time.Hour)
	path := fileOf(t, dir, s, key)
	data, _ := os.ReadFile(path)
	i := bytes.Index(data, []byte("first-variant"))
	if i < 0 {
		t.Fatal("no first variant in the file")
	}
	data[i] ^= 1 // a byte of the first variant's header: its metadata checksum fails
	os.WriteFile(path, data, 0o600)
	got, err := s.Get(ctx, key)
	if err != nil || len(got) != 1 || got[0].Variant != "second" {
		t.Fatalf("%d entries, %v; want the second variant alone", len(got), err)
	}
}

// TestDiskStorageCrashLeftovers: temporary files a crash left are removed
// when a store opens the directory once they are a minute old; a younger
// one, which another process may be writing, is left to its writer.
func TestDiskStorageCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	newDiskStorage(t, dir, 0)
	sub := filepath.Join(dir, "ab")
	os.MkdirAll(sub, 0o700)
	old, young := filepath.Join(sub, ".tmp-old"), filepath.Join(sub, ".tmp-young")
	os.WriteFile(old, make([]byte, 1000), 0o600)
	os.WriteFile(young, make([]byte, 700), 0o600)
	past := time.Now().Add(-2 * time.Minute)
	os.Chtimes(old, past, past)
	newDiskStorage(t, dir, 0)
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatal("a leftover two minutes old was kept")
	}
	if _, err := os.Stat(young); err != nil {
		t.Fatal("a temporary file another process may be writing was removed")
	}
}

// TestDiskStoreUnderLoadThroughTheTransport: many goroutines on a small
// disk store (constant eviction), with invalidations, through the
// Transport: every body served is the origin's for its URL, byte for
// byte, and no request fails.
func TestDiskStoreUnderLoadThroughTheTransport(t *testing.T) {
	if testing.Short() {
		t.Skip("a second of load")
	}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		size := 100 + len(r.URL.Path)*997%(120<<10) // inline and streamed bodies
		w.Write(bodyOf(r.URL.Path, size))
	}))
	defer origin.Close()
	upstream := &http.Transport{MaxIdleConnsPerHost: 64}
	defer upstream.CloseIdleConnections()
	tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithStorage(newDiskStorage(t, t.TempDir(), 1<<20)))
	defer tr.Close()
	client := &http.Client{Transport: tr}
	deadline := time.Now().Add(time.Second)
	var requests, hits, wrong, failed atomic.Int64
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(g), 3))
			for time.Now().Before(deadline) {
				path := "/u" + strconv.Itoa(rnd.IntN(300))
				method := http.MethodGet
				if rnd.IntN(50) == 0 {
					method = http.MethodPost
				}
				req, _ := http.NewRequest(method, origin.URL+path, nil)
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				requests.Add(1)
				if method == http.MethodPost {
					continue
				}
				if status, _ := httpcache.StatusOf(resp); status.Hit {
					hits.Add(1)
				}
				if err != nil || !bytes.Equal(body, bodyOf(path, len(body))) || len(body) != 100+len(path)*997%(120<<10) {
					wrong.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d requests, %d hits, %d wrong, %d failed", requests.Load(), hits.Load(), wrong.Load(), failed.Load())
	if wrong.Load() > 0 || failed.Load() > 0 {
		t.Fatalf("%d wrong bodies and %d failed requests", wrong.Load(), failed.Load())
	}
	if hits.Load() == 0 {
		t.Fatal("no hit: the test measured nothing")
	}
}

// bodyOf is the origin's body for path in the load test.
func bodyOf(path string, size int) []byte {
	return bytes.Repeat([]byte(path+"."), size/(len(path)+1)+1)[:size]
}

// rewritingStore is a DiskStorage whose file for a key is rewritten right
// after each Get has read it: the race in which a body found by Get can no
// longer be opened when the response is served.
type rewritingStore struct {
	*httpcache.DiskStorage
	gets atomic.Int64
}

func (s *rewritingStore) Get(ctx context.Context, key string) ([]*httpcache.Entry, error) {
	entries, err := s.DiskStorage.Get(ctx, key)
	if len(entries) > 0 {
		s.gets.Add(1)
		old := entries[0] // the same response, in a new file
		e := &httpcache.Entry{Variant: old.Variant, StatusCode: old.StatusCode, Header: old.Header,
			RequestTime: old.RequestTime, ResponseTime: old.ResponseTime, Body: storagetest.NewEntry("", "rewritten", 100<<10).Body}
		s.DiskStorage.Set(ctx, key, e, time.Hour)
	}
	return entries, err
}

// TestRewrittenFileIsFetchedAnew: a stored body whose file was rewritten
// since Get, on a hit and after a 304, is fetched anew: the request never
// waits on itself (it used to join its own shared request until the
// coalescing timeout) and gets the origin's body.
func TestRewrittenFileIsFetchedAnew(t *testing.T) {
	var requests atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Cache-Control", "max-age="+r.URL.Query().Get("max-age"))
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write(bodyOf(r.URL.Path, 100<<10)) // streamed from the file
	}))
	defer origin.Close()
	for _, maxAge := range []string{"3600", "0"} { // a hit, then a 304
		t.Run("max-age="+maxAge, func(t *testing.T) {
			store := &rewritingStore{DiskStorage: newDiskStorage(t, t.TempDir(), 0)}
			tr := httpcache.New(httpcache.WithStorage(store), httpcache.WithSynchronousWrites(true))
			defer tr.Close()
			url := origin.URL + "/doc?max-age=" + maxAge
			get := func() []byte {
				resp, err := tr.RoundTrip(must(http.NewRequest(http.MethodGet, url, nil)))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				return body
			}
			get()
			done := make(chan []byte)
			go func() { done <- get() }()
			select {
			case body := <-done:
				if !bytes.Equal(body, bodyOf("/doc", 100<<10)) {
					t.Fatalf("a body of %d bytes that is not the origin's", len(body))
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the request waited on itself")
			}
			if store.gets.Load() == 0 {
				t.Fatal("the race was not staged")
			}
		})
	}
}

// TestDiskStorageAttackerChild plants a link in the directory it is given,
// as the attacker of TestDiskStorageOtherUserCannotPlant; it does nothing
// unless started by that test.
func TestDiskStorageAttackerChild(t *testing.T) {
	dir := os.Getenv("HTTPCACHE_ATTACK_DIR")
	if dir == "" {
		t.Skip("run by TestDiskStorageOtherUserCannotPlant")
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "planted")); err != nil {
		fmt.Println("refused:", err)
		return
	}
	fmt.Println("attack: link planted")
}

// TestDiskStorageOtherUserCannotPlant runs the attacker's step as another
// user (nobody), where the machine allows: the store's directory is its
// own, so a link cannot be planted in it.
func TestDiskStorageOtherUserCannotPlant(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a child as another user")
	}
	base := t.TempDir()
	for d := base; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755) // the attacker may reach the cache, not write in it
	}
	dir := filepath.Join(base, "cache")
	newDiskStorage(t, dir, 0)
	// The test binary, where the attacker may run it.
	binary := filepath.Join(base, "attacker.test")
	if data, err := os.ReadFile(os.Args[0]); err != nil || os.WriteFile(binary, data, 0o755) != nil {
		t.Skip("cannot copy the test binary")
	}
	cmd := exec.Command(binary, "-test.run=^TestDiskStorageAttackerChild$")
	cmd.Env = append(os.Environ(), "HTTPCACHE_ATTACK_DIR="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil && !strings.Contains(string(out), "refused") {
		t.Skipf("could not run a child as nobody: %v: %s", err, out)
	}
	if strings.Contains(string(out), "attack: link planted") {
		t.Fatal("another user planted a link in the cache directory")
	}
	if !strings.Contains(string(out), "refused") {
		t.Fatalf("the attacker's step did not run: %s", out)
	}
}

// TestDamagedLargeBodyIsFetchedAnew: a stored body too large to be read
// whole on Get, damaged on disk, fails no request: the Transport finds the
// damage before it answers (Open reads the body through) and answers from
// the origin, with the origin's bytes.
func TestDamagedLargeBodyIsFetchedAnew(t *testing.T) {
	const size = 300 << 10 // streamed from the file
	var requests atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Write(bodyOf(r.URL.Path, size))
	}))
	defer origin.Close()
	dir := t.TempDir()
	tr := httpcache.New(httpcache.WithStorage(newDiskStorage(t, dir, 0)), httpcache.WithSynchronousWrites(true))
	defer tr.Close()
	get := func() ([]byte, httpcache.CacheStatus) {
		resp, err := tr.RoundTrip(must(http.NewRequest(http.MethodGet, origin.URL+"/big", nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("the request failed because of the cache: %v", err)
		}
		status, _ := httpcache.StatusOf(resp)
		return body, status
	}
	get()
	if _, status := get(); !status.Hit {
		t.Fatalf("not stored: %+v", status)
	}
	files := entryFiles(dir)
	if len(files) != 1 {
		t.Fatalf("%d files", len(files))
	}
	f, err := os.OpenFile(files[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := f.Stat()
	f.WriteAt([]byte{'!'}, info.Size()/2) // a body byte
	f.Close()
	body, status := get()
	if !bytes.Equal(body, bodyOf("/big", size)) {
		t.Fatalf("a body of %d bytes that is not the origin's", len(body))
	}
	if status.Hit || requests.Load() != 2 {
		t.Fatalf("the damaged body was answered with %+v after %d origin requests, want a miss", status, requests.Load())
	}
}

// TestDiskStorageKeptDecodedFollowsTheFile: a store keeps the files it has
// read decoded, but a file another process has rewritten (another version,
// of the same size) or removed is read anew: the kept records answer only
// the very bytes they were decoded from.
func TestDiskStorageKeptDecodedFollowsTheFile(t *testing.T) {
	dir := t.TempDir()
	reader, writer := newDiskStorage(t, dir, 0), newDiskStorage(t, dir, 0)
	ctx := context.Background()
	const key = "https://example.com/profile"
	version := func(n int) {
		t.Helper()
		if err := writer.Set(ctx, key, entryFor(key, n, 100), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	read := func() string {
		t.Helper()
		got, err := reader.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 {
			return fmt.Sprintf("%d entries", len(got))
		}
		if err := checkBelongs(t, key, got[0]); err != nil {
			t.Fatal(err)
		}
		return got[0].Header.Get("X-Entry")
	}
	version(1)
	for range 2 { // decoded, then kept decoded
		if got := read(); got != key+"#1" {
			t.Fatalf("got %s, want version 1", got)
		}
	}
	version(2)
	if got := read(); got != key+"#2" {
		t.Fatalf("after another process's write: got %s, want version 2", got)
	}
	if err := writer.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "0 entries" {
		t.Fatalf("after another process's delete: got %s", got)
	}
}

// TestDiskStorageRepairsWhatIsPlantedInItsPlace: a directory with files in
// it at an entry's path, or a file where a subdirectory of the store goes,
// is a miss, and the next write replaces it: caching the key stopped for
// good, every write failing (found by an operator probe).
func TestDiskStorageRepairsWhatIsPlantedInItsPlace(t *testing.T) {
	ctx := context.Background()
	const key = "https://example.com/planted"
	for name, plant := range map[string]func(path string){
		"a directory with files at the entry's path": func(path string) {
			os.Remove(path)
			os.Mkdir(path, 0o700)
			os.WriteFile(filepath.Join(path, "x"), []byte("x"), 0o600)
		},
		"a file in place of the subdirectory": func(path string) {
			os.RemoveAll(filepath.Dir(path))
			os.WriteFile(filepath.Dir(path), []byte("junk"), 0o600)
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := newDiskStorage(t, dir, 0)
			if err := s.Set(ctx, key, storagetest.NewEntry("", "first", 10), time.Hour); err != nil {
				t.Fatal(err)
			}
			plant(fileOf(t, dir, s, key))
			if got, err := s.Get(ctx, key); err != nil || len(got) != 0 {
				t.Fatalf("Get of what was planted: %d entries, %v", len(got), err)
			}
			if err := s.Set(ctx, key, storagetest.NewEntry("", "second", 10), time.Hour); err != nil {
				t.Fatalf("the write after the plant: %v", err)
			}
			got, err := s.Get(ctx, key)
			if err != nil || len(got) != 1 {
				t.Fatalf("Get after the write: %d entries, %v", len(got), err)
			}
			r, _ := got[0].Body.Open()
			body, _ := io.ReadAll(r)
			r.Close()
			if !strings.HasPrefix(string(body), "second") {
				t.Fatalf("body %q, want the second write's", body)
			}
		})
	}
}
