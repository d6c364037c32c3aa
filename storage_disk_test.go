package httpcache_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/storagetest"
)

func newDiskStorage(t testing.TB, dir string, maxBytes int64) *httpcache.DiskStorage {
	t.Helper()
	s, err := httpcache.NewDiskStorage(dir, maxBytes)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDiskStorageAcceptance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, maxBytes int64) httpcache.Storage {
		return newDiskStorage(t, t.TempDir(), maxBytes)
	})
}

func TestEncryptedDiskStorageAcceptance(t *testing.T) {
	keys, err := httpcache.NewKeyring(httpcache.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	storagetest.Run(t, func(t *testing.T, maxBytes int64) httpcache.Storage {
		s, err := httpcache.NewEncryptedDiskStorage(t.TempDir(), maxBytes, keys)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// entryFiles lists the entry files under dir (not temporary or spare ones).
func entryFiles(dir string) []string {
	var files []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), ".tmp-") && filepath.Base(filepath.Dir(path)) != "spare" {
			files = append(files, path)
		}
		return nil
	})
	return files
}

func TestDiskStorageSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	first := newDiskStorage(t, dir, 0)
	ctx := context.Background()
	for i := range 10 {
		if err := first.Set(ctx, "https://example.com/"+strconv.Itoa(i), storagetest.NewEntry("", "e"+strconv.Itoa(i), 100*i), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	second := newDiskStorage(t, dir, 0)
	if second.Size() != first.Size() || second.Size() == 0 {
		t.Fatalf("reopened store counts %d bytes, the first %d", second.Size(), first.Size())
	}
	for i := range 10 {
		got, err := second.Get(ctx, "https://example.com/"+strconv.Itoa(i))
		if err != nil || len(got) != 1 {
			t.Fatalf("entry %d after reopening: %d entries, %v", i, len(got), err)
		}
		storagetest.CheckEntry(t, got[0], storagetest.NewEntry("", "e"+strconv.Itoa(i), 100*i))
	}
}

// TestDiskStorageServesANewProcess runs two Transports on one directory,
// standing for a process and the one after it: the second's first request
// is a hit.
func TestDiskStorageServesANewProcess(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		fmt.Fprint(w, strings.Repeat("z", 300<<10)) // streamed from the file on a hit
	}))
	defer origin.Close()
	dir := t.TempDir()
	for i, wantHit := range []bool{false, true} {
		upstream := &http.Transport{}
		tr := httpcache.New(httpcache.WithStorage(newDiskStorage(t, dir, 0)), httpcache.WithTransport(upstream))
		resp, err := (&http.Client{Transport: tr}).Get(origin.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.Close()
		upstream.CloseIdleConnections()
		if err != nil || len(body) != 300<<10 {
			t.Fatalf("process %d: %d bytes, %v", i, len(body), err)
		}
		if st, _ := httpcache.StatusOf(resp); st.Hit != wantHit {
			t.Fatalf("process %d: Cache-Status %q", i, resp.Header.Get("Cache-Status"))
		}
	}
}

func TestDiskStorageCorruptFilesAreMisses(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		size    int
		corrupt func(data []byte) []byte
	}{
		{"flipped metadata byte", 100, func(b []byte) []byte { b[30] ^= 1; return b }},
		{"flipped body byte", 100, func(b []byte) []byte { b[len(b)-10] ^= 1; return b }},
		{"truncated", 100, func(b []byte) []byte { return b[:len(b)-7] }},
		{"empty", 100, func(b []byte) []byte { return nil }},
		{"garbage", 100, func(b []byte) []byte { return []byte("not an entry file at all") }},
		{"trailing bytes", 100, func(b []byte) []byte { return append(b, 1, 2, 3) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := newDiskStorage(t, dir, 0)
			if err := s.Set(ctx, "k", storagetest.NewEntry("", "x", tt.size), time.Hour); err != nil {
				t.Fatal(err)
			}
			files := entryFiles(dir)
			if len(files) != 1 {
				t.Fatalf("%d files", len(files))
			}
			data, _ := os.ReadFile(files[0])
			os.WriteFile(files[0], tt.corrupt(data), 0o644)
			got, err := s.Get(ctx, "k")
			if err != nil || len(got) != 0 {
				t.Fatalf("corrupt file: %d entries, %v; want a miss", len(got), err)
			}
			if _, err := os.Stat(files[0]); !os.IsNotExist(err) {
				t.Fatal("the corrupt file was not removed")
			}
		})
	}
}

func TestDiskStorageLargeBodyStreams(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := newDiskStorage(t, dir, 0)
	want := storagetest.NewEntry("", "big", 256<<10)
	if err := s.Set(ctx, "k", want, time.Hour); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, "k")
	if len(got) != 1 {
		t.Fatalf("%d entries", len(got))
	}
	if _, inMemory := got[0].Body.(httpcache.BytesBody); inMemory {
		t.Fatal("a 256 KiB body was read into memory on Get")
	}
	storagetest.CheckEntry(t, got[0], want)

	// Damage the body after Get: Open reads it through first and refuses
	// it, so that no caller meets the damage in the middle of a response.
	file := entryFiles(dir)[0]
	f, _ := os.OpenFile(file, os.O_RDWR, 0)
	f.WriteAt([]byte{'!'}, 5000)
	f.Close()
	got, _ = s.Get(ctx, "k")
	if r, err := got[0].Body.Open(); !errors.Is(err, httpcache.ErrCorruptEntry) {
		if err == nil {
			r.Close()
		}
		t.Fatalf("Open of a damaged body: %v, want ErrCorruptEntry", err)
	}
	// The damaged file goes: the next Get is a miss, not the same error.
	if got, err := s.Get(ctx, "k"); err != nil || len(got) != 0 {
		t.Fatalf("after a damaged body: %d entries, %v; want a miss", len(got), err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatal("the damaged file was not removed")
	}
	if s.Size() != 0 {
		t.Fatalf("Size() = %d after the damaged file went", s.Size())
	}
}

// TestDiskStorageDamagedBodyKeepsAReplacement: a streamed body that fails
// its check removes its file only while it is the file that was read: a
// file written since, with a good body, stays. The damage is made in
// place after Open checked the body, and found as the reader ends.
func TestDiskStorageDamagedBodyKeepsAReplacement(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := newDiskStorage(t, dir, 0)
	s.Set(ctx, "k", storagetest.NewEntry("", "old", 256<<10), time.Hour)
	file := entryFiles(dir)[0]
	got, _ := s.Get(ctx, "k")
	r, err := got[0].Body.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f, _ := os.OpenFile(file, os.O_RDWR, 0)
	f.WriteAt([]byte{'!'}, 5000)
	f.Close()
	want := storagetest.NewEntry("", "new", 256<<10)
	s.Set(ctx, "k", want, time.Hour) // replaces the file while it is read
	if _, err := io.ReadAll(r); err == nil {
		t.Fatal("a damaged body read without error")
	}
	got, err = s.Get(ctx, "k")
	if err != nil || len(got) != 1 {
		t.Fatalf("the replacement: %d entries, %v", len(got), err)
	}
	storagetest.CheckEntry(t, got[0], want)
}

func TestDiskStorageReplacedFileIsNotMixed(t *testing.T) {
	ctx := context.Background()
	s := newDiskStorage(t, t.TempDir(), 0)
	s.Set(ctx, "k", storagetest.NewEntry("", "old", 200<<10), time.Hour)
	got, _ := s.Get(ctx, "k")
	s.Set(ctx, "k", storagetest.NewEntry("", "new", 200<<10), time.Hour)
	if r, err := got[0].Body.Open(); err == nil {
		r.Close()
		t.Fatal("a body was opened from a file that had since been replaced")
	}
}

func TestDiskStorageEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	// Four files of 32 KiB on the disk and their subdirectories fit; a
	// fifth does not.
	const bound = 160 << 10
	s := newDiskStorage(t, t.TempDir(), bound)
	for i := range 4 {
		s.Set(ctx, strconv.Itoa(i), storagetest.NewEntry("", strconv.Itoa(i), 30<<10), time.Hour)
	}
	s.Get(ctx, "0") // 0 is now the most recently used
	for i := 4; i < 6; i++ {
		s.Set(ctx, strconv.Itoa(i), storagetest.NewEntry("", strconv.Itoa(i), 30<<10), time.Hour)
	}
	if got, _ := s.Get(ctx, "0"); len(got) != 1 {
		t.Fatal("the most recently used key was evicted")
	}
	if got, _ := s.Get(ctx, "1"); len(got) != 0 {
		t.Fatal("the least recently used key was kept")
	}
	if s.Size() > bound {
		t.Fatalf("store counts %d bytes, over its bound", s.Size())
	}
}

func TestDiskStorageBadDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	for _, dir := range []string{"", file, filepath.Join(file, "sub")} {
		if _, err := httpcache.NewDiskStorage(dir, 0); err == nil {
			t.Errorf("NewDiskStorage(%q) did not fail", dir)
		}
	}
}

func TestDiskStorageDirectoryRemovedUnderneath(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cache")
	s := newDiskStorage(t, dir, 0)
	s.Set(ctx, "k", storagetest.NewEntry("", "x", 10), time.Hour)
	os.RemoveAll(dir)
	if got, err := s.Get(ctx, "k"); err != nil || len(got) != 0 {
		t.Fatalf("Get after the directory was removed: %d, %v", len(got), err)
	}
	if err := s.Set(ctx, "k", storagetest.NewEntry("", "y", 10), time.Hour); err != nil {
		t.Fatalf("Set after the directory was removed: %v", err)
	}
	if got, _ := s.Get(ctx, "k"); len(got) != 1 {
		t.Fatal("the entry written after the removal is not there")
	}
}

func TestDiskStorageKeysStayInside(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := newDiskStorage(t, dir, 0)
	keys := []string{"../../../etc/passwd", "https://example.com/" + strings.Repeat("a", 10000), "\x00/\\:*?\"<>|", ""}
	for _, key := range keys {
		if err := s.Set(ctx, key, storagetest.NewEntry("", "x", 10), time.Hour); err != nil {
			t.Fatalf("Set(%.40q): %v", key, err)
		}
		if got, _ := s.Get(ctx, key); len(got) != 1 {
			t.Fatalf("Get(%.40q) lost the entry", key)
		}
	}
	if n := len(entryFiles(dir)); n != len(keys) {
		t.Fatalf("%d files under the directory for %d keys", n, len(keys))
	}
}

// crashKeys are the keys the crash test's child writes.
var crashKeys = []string{"a", "b", "c", "d", "e", "f"}

// TestDiskStorageCrashChild is the writer the crash test kills; it does
// nothing unless started by that test.
func TestDiskStorageCrashChild(t *testing.T) {
	dir := os.Getenv("HTTPCACHE_DISK_CRASH_DIR")
	if dir == "" {
		t.Skip("run by TestDiskStorageSurvivesSIGKILL")
	}
	s := newDiskStorage(t, dir, 256<<10) // small, so that it also evicts
	ctx := context.Background()
	var deadline time.Time
	if d, err := time.ParseDuration(os.Getenv("HTTPCACHE_DISK_CHILD_FOR")); err == nil {
		deadline = time.Now().Add(d)
	}
	for i := 0; deadline.IsZero() || time.Now().Before(deadline); i++ {
		key := crashKeys[rand.IntN(len(crashKeys))]
		size := []int{0, 10, 1000, 70 << 10, 150 << 10}[rand.IntN(5)]
		variant := []string{"", "v1", "v2"}[rand.IntN(3)]
		e := storagetest.NewEntry(variant, fmt.Sprintf("%s-%d", key, i), size)
		if rand.IntN(10) == 0 {
			s.Delete(ctx, key)
		} else if err := s.Set(ctx, key, e, time.Hour); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			fmt.Println(crashChildWriting) // the parent starts its clock now
		}
	}
}

// crashChildWriting is the line the crash test's child prints once it has
// written, so that the parent's random delay before the kill measures
// writing time, not the start of a process (slow under the race detector).
const crashChildWriting = "httpcache-crash-child: writing"

// TestDiskStorageSurvivesSIGKILL kills a writing child process at random
// moments, many times, and after each kill reads everything back: every
// entry served is whole.
func TestDiskStorageSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	served := 0
	for round := range crashRounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDiskStorageCrashChild$")
		cmd.Env = append(os.Environ(), "HTTPCACHE_DISK_CRASH_DIR="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitForLine(t, stdout, crashChildWriting)
		time.Sleep(time.Duration(20+rand.IntN(80)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if status, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !status.Signaled() {
			t.Fatalf("round %d: the child was not killed but exited: %v", round, cmd.ProcessState)
		}
		served += readCrashKeys(t, dir)
	}
	var temporary int
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".tmp-") {
			temporary++
		}
		return nil
	})
	t.Logf("%d files left half-written by the kills", temporary)
	if served == 0 {
		t.Fatalf("nothing survived any of %d kills of the writer", crashRounds)
	}
	t.Logf("%d whole entries served after %d kills", served, crashRounds)
}

// readCrashKeys opens the crash test's directory as a new process would,
// checks that every entry of the crash keys is whole, and returns how many
// there were.
func readCrashKeys(t *testing.T, dir string) int {
	t.Helper()
	s := newDiskStorage(t, dir, 256<<10)
	served := 0
	for _, key := range crashKeys {
		entries, err := s.Get(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			size, _ := strconv.Atoi(e.Header.Get("X-Body-Length"))
			storagetest.CheckEntry(t, e, storagetest.NewEntry(e.Variant, e.Header.Get("X-Entry"), size))
			served++
		}
	}
	return served
}

// waitForLine reads r until a line equal to want, and then drains the rest
// in the background, so that the writer never blocks on a full pipe.
func waitForLine(t *testing.T, r io.Reader, want string) {
	t.Helper()
	lines := bufio.NewScanner(r)
	for lines.Scan() {
		if lines.Text() == want {
			go io.Copy(io.Discard, r)
			return
		}
	}
	t.Fatalf("the child ended before it printed %q: %v", want, lines.Err())
}

// crashRounds is how many times the crash test kills its writer.
const crashRounds = 40

// TestDiskStorageSharedByProcesses runs four writer processes on one
// directory while this one reads: every read is a whole entry or a miss.
func TestDiskStorageSharedByProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	var children []*exec.Cmd
	for range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDiskStorageCrashChild$")
		cmd.Env = append(os.Environ(), "HTTPCACHE_DISK_CRASH_DIR="+dir, "HTTPCACHE_DISK_CHILD_FOR=1s")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children = append(children, cmd)
	}
	s := newDiskStorage(t, dir, 256<<10)
	ctx := context.Background()
	reads, whole := 0, 0
	deadline := time.Now().Add(900 * time.Millisecond)
	for time.Now().Before(deadline) {
		for _, key := range crashKeys {
			entries, err := s.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			reads++
			for _, e := range entries {
				size, _ := strconv.Atoi(e.Header.Get("X-Body-Length"))
				r, err := e.Body.Open()
				if err != nil {
					continue // replaced since the Get: the caller would go to the network
				}
				body, err := io.ReadAll(r)
				r.Close()
				if err != nil {
					t.Fatalf("reading a body: %v", err)
				}
				want := storagetest.NewEntry(e.Variant, e.Header.Get("X-Entry"), size)
				wantBody, _ := io.ReadAll(must(want.Body.Open()))
				if string(body) != string(wantBody) {
					t.Fatalf("entry %s: body of %d bytes is not the one written", e.Header.Get("X-Entry"), len(body))
				}
				whole++
			}
		}
	}
	for _, cmd := range children {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("a writer failed: %v", err)
		}
	}
	if whole == 0 {
		t.Fatal("the reader saw no entry")
	}
	t.Logf("%d reads, %d whole entries, no partial one", reads, whole)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// FuzzDiskFile feeds arbitrary bytes to the disk store as a key's file: Get
// and Peek return whole entries or a miss, and Keys lists the key or
// nothing, never panicking.
func FuzzDiskFile(f *testing.F) {
	dir := f.TempDir()
	seed := newDiskStorage(f, dir, 0)
	seed.Set(context.Background(), "k", storagetest.NewEntry("v", "x", 100), time.Hour)
	seed.Set(context.Background(), "k", storagetest.NewEntry("w", "y", 70<<10), time.Hour)
	for _, file := range entryFiles(dir) {
		data, _ := os.ReadFile(file)
		f.Add(data)
	}
	f.Add([]byte("HCD\x01"))
	f.Add([]byte("HCD\x03\x01k"))
	f.Add([]byte("HCD\x03\xff\xff\xff\xff\x0fk"))
	f.Add([]byte("HCD\x02"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		s := newDiskStorage(t, dir, 0)
		s.Set(context.Background(), "k", storagetest.NewEntry("", "z", 1), time.Hour)
		file := entryFiles(dir)[0]
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		s.Keys(context.Background(), "", func(key string) bool {
			if key != "k" {
				t.Fatalf("listed %q", key)
			}
			return true
		})
		peeked, _ := s.Peek(context.Background(), "k")
		entries, _ := s.Get(context.Background(), "k")
		for _, e := range append(peeked, entries...) {
			if r, err := e.Body.Open(); err == nil {
				io.Copy(io.Discard, r)
				r.Close()
			}
		}
	})
}

// TestDiskStorageHoldsItsBound: no entry larger than the whole bound is
// kept (and the older one it supersedes is removed), and the variants of
// one key outgrowing the bound leave the newest alone (a 1 MiB store kept a
// 4 MiB entry, and 28 MiB of one key's variants, before).
func TestDiskStorageHoldsItsBound(t *testing.T) {
	const bound = 1 << 20
	s, err := httpcache.NewDiskStorage(t.TempDir(), bound)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Set(ctx, "k", storagetest.NewEntry("", "small", 100), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "k", storagetest.NewEntry("", "big", 4<<20), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, "k"); len(got) != 0 || s.Size() != 0 {
		t.Fatalf("after an entry over the bound: %d entries, Size %d; want the older one gone too", len(got), s.Size())
	}
	for i := range 32 {
		if err := s.Set(ctx, "v", storagetest.NewEntry("v"+strconv.Itoa(i), "x", 300<<10), time.Hour); err != nil {
			t.Fatal(err)
		}
		if s.Size() > bound {
			t.Fatalf("after %d variants: Size %d over the bound", i+1, s.Size())
		}
	}
	got, _ := s.Get(ctx, "v")
	if len(got) == 0 || got[len(got)-1].Variant != "v31" {
		t.Fatalf("the newest variant is not kept: %d entries", len(got))
	}
	// An entry whose body is within the bound but whose file is not.
	if err := s.Set(ctx, "edge", storagetest.NewEntry("", "edge", bound-10), time.Hour); err != nil {
		t.Fatal(err)
	}
	if s.Size() > bound {
		t.Fatalf("Size %d over the bound after an entry whose file outgrows it", s.Size())
	}
}

// TestDiskStorageDamagedMidSizeBodyIsAMiss: a body between the inline
// size and the size of a file read whole is checked at Get, so that a
// damaged byte makes a miss rather than a read error for the caller.
func TestDiskStorageDamagedMidSizeBodyIsAMiss(t *testing.T) {
	dir := t.TempDir()
	s, err := httpcache.NewDiskStorage(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Set(ctx, "k", storagetest.NewEntry("", "x", 70<<10), time.Hour); err != nil {
		t.Fatal(err)
	}
	var path string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && info.Size() > 70<<10 {
			path = p
		}
		return nil
	})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-1000] ^= 0xff // in the body
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, "k"); len(got) != 0 {
		t.Fatalf("a damaged body was returned: %d entries", len(got))
	}
}
