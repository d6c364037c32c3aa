package httpcache

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/maphash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// DefaultDiskBytes bounds a DiskStorage made with a bound of zero or less.
const DefaultDiskBytes = 1 << 30

// maxDiskTTL bounds the expiry a DiskStorage records: a far-off one could
// not be written as Unix nanoseconds.
const maxDiskTTL = 100 * 365 * 24 * time.Hour

const (
	// diskFileMagic starts every entry file, with a version byte. Version
	// 3 follows it with the file's key (uvarint length, bytes), so that
	// the store can list its keys. Files of earlier versions, which a
	// listing could not see and so a purge could not reach, are misses,
	// removed when found.
	diskFileMagic   = "HCD"
	diskFileVersion = 3
	// diskMaxKey bounds the key a file header holds, as the entry
	// encoding bounds its strings.
	diskMaxKey = maxEncodedString
	// diskRecordHeader is a record's expiry (int64, Unix nanoseconds, 0 for
	// none), the length of its encoded entry (uint32), and a digest of the
	// key it belongs to (diskKeyDigestSize bytes of a SHA-256), checked on
	// every read: a file copied or moved to another key's path is never
	// served for that key.
	diskKeyDigestSize = 16
	diskRecordHeader  = 12 + diskKeyDigestSize
	// diskInlineBody is the largest body read into memory on a Get; larger
	// bodies stream from the file when the response is read.
	diskInlineBody = 64 << 10
	// diskReadWhole is the largest file a Get reads in one call.
	diskReadWhole = 128 << 10
	// diskTempPrefix names files being written; a scan removes those left
	// by a crash once they are older than diskTempMaxAge.
	diskTempPrefix = ".tmp-"
	diskTempMaxAge = time.Minute
	// diskDirMode and diskFileMode: the directory and its files are the
	// store's own; no other user may read or plant an entry.
	diskDirMode  = 0o700
	diskFileMode = 0o600
	// diskOldSpareDir is where an earlier version kept removed files for
	// reuse; it is removed when found. Reusing a file let a reader that
	// had opened it read another key's record, and kept deleted entries
	// readable.
	diskOldSpareDir = "spare"
)

// DiskStorage is a Storage in a directory, for caches that outlive the
// process: command-line tools, and services that restart. It is bounded by
// bytes, evicting the least recently used keys, and safe for concurrent use
// by goroutines and by processes sharing the directory.
//
// Each key is one file, named by a hash of the key and fanned out into
// subdirectories, holding the key's variants in the entry encoding (with
// checksums over metadata and body). A write goes to a temporary file that
// is renamed into place, so a reader sees a whole old file or a whole new
// one, never part of either; a file that fails its checksums is treated as
// a miss and removed.
//
// A file holds its key, so that the store can list its keys (Entries,
// purges): the URL, query included, is in the file, as are the headers
// and body, in clear. NewEncryptedDiskStorage keeps all of it, and the
// file names, secret.
//
// Durability: writes are not synced to disk. A crash may lose the latest
// entries, which costs only misses; it never leaves a corrupt entry that is
// served.
//
// The byte bound is kept for the files this process knows: those found
// when the directory was opened and those it has written or read since.
// Bodies larger than 64 KiB stream from the file when a response is read.
//
// A store in clear keeps up to 4 MiB of the small files (16 KiB at most)
// it has read decoded in memory: every Get still reads the file, and one
// that is byte for byte a file decoded before, at the same key's path, is
// answered with the entries decoded then, without decoding or parsing
// them again. Another process's write or delete shows at once.
type DiskStorage struct {
	dir      string
	maxBytes int64

	// keyLocks order the writes and deletes of one key's file in this
	// process (keyLock): each reads the file, writes a new one and
	// renames it over, so two at once would lose one's change and bring
	// back what it replaced.
	keyLocks [64]sync.Mutex

	mu sync.Mutex
	// usedBytes counts what the files and directories take on the disk
	// (diskFootprint, fanOutFiles), not their lengths alone.
	usedBytes int64
	// fanOutFiles counts the known files in each subdirectory: one that
	// holds any is counted in usedBytes as one block. An empty one, which
	// is left in place (another process may be writing into it), is not
	// counted: the 256 of them take 1 MiB at most.
	fanOutFiles [256]int32
	files       map[string]*diskFile // by path relative to dir
	recency     recencyList[*diskFile]
	secret      []byte
	keys        *Keyring // nil for a store in clear
	// decoded keeps the records of small files read before, found by the
	// file's bytes (decodedBytes): a hit on a file read whole, unchanged
	// since, decodes nothing. Nil for an encrypted store, whose reads
	// decrypt.
	decoded *decodedBytes[decodedFile]
}

// decodedFile is what a read decoded from a file read whole: its records,
// which were checked to be of the key whose digest it holds. The same bytes
// at another key's path (a file copied or moved there) are that key's
// records only if they pass that key's checks, which a read then makes.
type decodedFile struct {
	digest  keyDigest
	records []diskRecord
}

// diskDecodedBytes is how many bytes of the files it has read a store in
// clear keeps decoded in memory.
const diskDecodedBytes = 4 << 20

// diskFile is one key's file in the recency list.
type diskFile struct {
	name string
	size int64 // diskFootprint of its length
	node recencyNode[*diskFile]
}

// NewDiskStorage opens (creating it if needed) a cache directory holding at
// most maxBytes of entry files, counted as the disk counts them: each
// file as whole 4 KiB blocks and 160 bytes for its name (a tiny entry
// counts 4,256 bytes), and a block for each subdirectory that holds any
// (the empty ones, never removed, take 1 MiB at most besides); zero or
// less means DefaultDiskBytes. It
// scans the directory to rebuild its accounting, removes what a crash left
// half-written, and evicts down to the bound. It returns an error when dir
// cannot be used: not a directory, or not writable.
func NewDiskStorage(dir string, maxBytes int64) (*DiskStorage, error) {
	return openDiskStorage("NewDiskStorage", dir, maxBytes, nil)
}

// NewEncryptedDiskStorage is NewDiskStorage for a store that encrypts and
// authenticates everything it writes with keys (see Keyring): each file's
// metadata and body, in segments checked as a body streams, and file
// names that are keyed hashes, so that the directory shows no URL, header
// or body. Files written in clear are removed when the directory is
// opened; files sealed by keys the ring does not hold (another process's,
// or a mistyped key's) are left alone, never served, and evicted in turn.
func NewEncryptedDiskStorage(dir string, maxBytes int64, keys *Keyring) (*DiskStorage, error) {
	if keys == nil || keys.Len() == 0 {
		return nil, errors.New("httpcache: NewEncryptedDiskStorage: no Keyring (make one with NewKeyring)")
	}
	return openDiskStorage("NewEncryptedDiskStorage", dir, maxBytes, keys)
}

func openDiskStorage(op, dir string, maxBytes int64, keys *Keyring) (*DiskStorage, error) {
	if dir == "" {
		return nil, fmt.Errorf("httpcache: %s: empty directory name", op)
	}
	if maxBytes <= 0 {
		maxBytes = DefaultDiskBytes
	}
	if err := os.MkdirAll(dir, diskDirMode); err != nil {
		return nil, fmt.Errorf("httpcache: %s: %w", op, err)
	}
	if err := checkOwnDirectory(dir); err != nil {
		return nil, fmt.Errorf("httpcache: %s: %w", op, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("httpcache: %s: %w", op, err)
	}
	defer root.Close()
	probe, probeName, err := openTemp(root, ".")
	if err != nil {
		return nil, fmt.Errorf("httpcache: %s: directory %s is not writable: %w", op, dir, err)
	}
	probe.Close()
	root.Remove(probeName)
	// An earlier version's spare files: removed entries, still readable.
	root.RemoveAll(diskOldSpareDir)
	d := &DiskStorage{dir: dir, maxBytes: maxBytes, files: make(map[string]*diskFile), secret: newPartitionSecret(), keys: keys}
	if keys == nil {
		d.decoded = newDecodedBytes[decodedFile](diskDecodedBytes)
	}
	if err := d.scan(); err != nil {
		return nil, fmt.Errorf("httpcache: %s: scanning %s: %w", op, dir, err)
	}
	return d, nil
}

// names returns the paths, relative to dir, where key's file may be: one
// for a store in clear; for an encrypted one, its name under each key of
// the ring, the current key's first.
func (d *DiskStorage) names(key string) []string {
	if d.keys == nil {
		return []string{fileName(key)}
	}
	return sealedNames(d.keys, key)
}

// urlNames is names for the file of url's key without a partition.
func (d *DiskStorage) urlNames(url string) []string {
	if d.keys == nil {
		return []string{urlFileName(url)}
	}
	return sealedURLNames(d.keys, url)
}

// scan rebuilds the accounting from the directory, oldest files least
// recently used. It looks at links and files as they are (WalkDir does
// not follow links): only regular files with an entry file's name count;
// temporary files a crash left are removed once older than diskTempMaxAge
// (another process may be writing a younger one).
func (d *DiskStorage) scan() error {
	type found struct {
		name    string
		size    int64
		modTime time.Time
	}
	var files []found
	now := time.Now()
	root, err := d.openRoot()
	if err != nil {
		return err
	}
	defer root.Close()
	err = filepath.WalkDir(d.dir, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walk
			}
			return err
		}
		if entry.IsDir() || !entry.Type().IsRegular() {
			return nil // a directory to walk, or a link or device: never ours
		}
		info, err := entry.Info()
		if err != nil {
			return nil
		}
		name, err := filepath.Rel(d.dir, path)
		if err != nil {
			return nil
		}
		if strings.HasPrefix(entry.Name(), diskTempPrefix) {
			// A younger one is another process's write in progress: it is
			// renamed into place, or removed, by its writer.
			if now.Sub(info.ModTime()) > diskTempMaxAge {
				root.Remove(name)
			}
			return nil
		}
		if isDiskFileName(name) {
			if d.keys != nil && !d.sealedByRing(path, info.Size()) {
				root.Remove(name) // in clear, or under a key no longer held
				return nil
			}
			files = append(files, found{name, info.Size(), info.ModTime()})
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(files, func(a, b found) int { return a.modTime.Compare(b.modTime) })
	d.mu.Lock()
	for _, f := range files {
		d.touch(f.name, f.size)
	}
	victims := d.evict(nil)
	d.mu.Unlock()
	d.removeFiles(victims)
	return nil
}

// fileName returns the path, relative to dir, of key's file: a SHA-256 of
// the key's URL (KeyURL) in hex, fanned out into 256 subdirectories as
// ab/abcd…, so that any key is a safe name and no directory grows too
// large; for a key with a partition, the URL's name, a dot and a SHA-256 of
// the whole key. Every file of a URL is in one subdirectory and starts with
// its name, so that DeleteURL finds them all.
func fileName(key string) string {
	var b [diskNameSize + 1 + 2*sha256.Size]byte
	name := appendURLFileName(b[:0], KeyURL(key))
	if KeyPartition(key) != "" {
		sum := sha256.Sum256([]byte(key))
		name = hex.AppendEncode(append(name, '.'), sum[:])
	}
	return string(name) // the one allocation of a name
}

// urlFileName is the name of the file of url's key without a partition.
func urlFileName(url string) string {
	var b [diskNameSize]byte
	return string(appendURLFileName(b[:0], url))
}

// diskNameSize is the length of a key's file name without a partition:
// the fan-out directory, a separator, the SHA-256 of the URL in hex.
const diskNameSize = 2 + 1 + 2*sha256.Size

// appendURLFileName appends urlFileName(url).
func appendURLFileName(b []byte, url string) []byte {
	sum := sha256.Sum256([]byte(url))
	start := len(b)
	b = append(b, "00"...)
	b = append(b, filepath.Separator)
	b = hex.AppendEncode(b, sum[:])
	copy(b[start:start+2], b[start+3:start+5])
	return b
}

func isDiskFileName(name string) bool {
	base := filepath.Base(name)
	urlPart, keyPart, partitioned := strings.Cut(base, ".")
	if !isHexDigest(urlPart) || (partitioned && !isHexDigest(keyPart)) {
		return false
	}
	return name == filepath.Join(base[:2], base)
}

func isHexDigest(s string) bool {
	if len(s) != sha256.Size*2 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// Get returns the unexpired variants stored under key. A file that fails
// its checks is removed and counts as a miss.
func (d *DiskStorage) Get(_ context.Context, key string) ([]*Entry, error) {
	return d.read(key, false)
}

// read returns the unexpired variants stored under key. Unless it peeks,
// it marks the key's file recently used and removes one that fails its
// checks or holds nothing unexpired.
func (d *DiskStorage) read(key string, peek bool) ([]*Entry, error) {
	if d.keys == nil {
		entries, _, err := d.readName(key, fileName(key), peek)
		return entries, err
	}
	// The current key's name first; the others only on a miss, so that a
	// hit hashes one name.
	for _, rk := range d.keys.keys {
		entries, found, err := d.readName(key, sealedName(rk, key), peek)
		if found || err != nil {
			return entries, err
		}
	}
	return nil, nil
}

// readName reads key's file at name, and reports whether there was one.
func (d *DiskStorage) readName(key, name string, peek bool) (_ []*Entry, found bool, _ error) {
	path := filepath.Join(d.dir, name)
	f, err := openEntryFile(path)
	if isMissing(err) {
		d.forget(name)
		return nil, false, nil
	}
	if errors.Is(err, errNotRegular) {
		d.forget(name)
		d.removePlanted(name)
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	defer f.Close()
	records, size, info, salt, err := d.readFile(f, key)
	if errors.Is(err, ErrCorruptEntry) {
		if !peek {
			d.removeCorrupt(name, f)
		}
		return nil, true, nil
	}
	if err != nil {
		return nil, true, err
	}
	now := time.Now()
	var entries []*Entry
	for _, r := range records {
		if r.expired(now) {
			continue
		}
		if r.entry.Body == nil {
			r.entry.Body = &diskBody{path: path, info: info, offset: r.bodyOffset, size: r.bodySize,
				checksum: r.bodyChecksum, metaChecksumAt: r.metaChecksumAt, metaChecksum: r.metaChecksum,
				keys: d.keys, key: key, salt: salt, store: d, name: name}
		}
		entries = append(entries, r.entry)
	}
	if peek {
		return entries, true, nil
	}
	if len(entries) == 0 {
		d.Delete(context.Background(), key)
		return nil, true, nil
	}
	d.mu.Lock()
	d.touch(name, size)
	d.mu.Unlock()
	return entries, true, nil
}

// readFile reads the records of key's open file, with bodies of up to
// diskInlineBody bytes, through the view of an encrypted store.
// For an encrypted file it also returns its salt, which tells the file
// from any other, as the body's checks do for a file in clear.
func (d *DiskStorage) readFile(f entryFile, key string) (records []diskRecord, size int64, info os.FileInfo, salt [diskSealedSalt]byte, err error) {
	if d.keys == nil {
		records, size, info, err = readDiskFile(f, digestOf(key), d.decoded)
		return records, size, info, salt, err
	}
	return readSealedDiskFile(f, d.keys, key)
}

// entryFile is an entry file open for a Get (openEntryFile): read, asked
// for its FileInfo when bodies are left in it, and closed.
type entryFile interface {
	io.ReaderAt
	io.Closer
	Stat() (os.FileInfo, error)
}

// smallFileBuffers hold the first read of a Get: most entry files fit, and
// are then read with one call, without a stat.
var smallFileBuffers = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// readDiskFile reads the records of an open entry file, with bodies of up
// to diskInlineBody bytes, or every body of a file read whole (up to
// diskReadWhole), each checked against its checksum. info is set when the
// file is larger than a first read, for the bodies left in it. The records
// of a file read whole are those decoded kept when the file is byte for
// byte one decoded before; a file decoded now is kept there. Records that
// come from decoded may be shared: the caller must not modify them.
func readDiskFile(f entryFile, digest keyDigest, decoded *decodedBytes[decodedFile]) (records []diskRecord, size int64, info os.FileInfo, err error) {
	buffer := smallFileBuffers.Get().(*[]byte)
	defer smallFileBuffers.Put(buffer)
	n, err := f.ReadAt(*buffer, 0)
	if err == io.EOF {
		// The whole file is in the buffer. The records copy what they keep.
		data := (*buffer)[:n]
		if !decoded.keeps(data) {
			records, err = readDiskRecordsWithBodies(bytes.NewReader(data), int64(n), digest, diskReadWhole)
			return records, int64(n), nil, err
		}
		slot, kept := decoded.find(data)
		if kept != nil && kept.digest == digest {
			return kept.records, int64(n), nil, nil
		}
		records, err = readDiskRecordsWithBodies(bytes.NewReader(data), int64(n), digest, diskReadWhole)
		if err == nil {
			keepDecodedFile(decoded, slot, data, decodedFile{digest, records})
		}
		return records, int64(n), nil, err
	}
	if err != nil {
		return nil, 0, nil, err
	}
	if info, err = f.Stat(); err != nil {
		return nil, 0, nil, err
	}
	var from io.ReaderAt = f
	inline := int64(diskInlineBody)
	if info.Size() <= diskReadWhole {
		data := make([]byte, info.Size())
		if _, err := f.ReadAt(data, 0); err != nil {
			return nil, 0, nil, fmt.Errorf("%w: %v", ErrCorruptEntry, err)
		}
		// In memory already: every body is checked now, so that a damaged
		// one is a miss, not a read error for the caller.
		from, inline = bytes.NewReader(data), diskReadWhole
	}
	records, err = readDiskRecordsWithBodies(from, info.Size(), digest, inline)
	return records, info.Size(), info, err
}

// keepDecodedFile keeps the records decoded from a file read whole, data,
// when every body is in them (none is left in the file, which a later read
// would have to open).
func keepDecodedFile(decoded *decodedBytes[decodedFile], slot uint64, data []byte, file decodedFile) {
	extra := int64(cap(file.records))*int64(unsafe.Sizeof(diskRecord{})) + int64(unsafe.Sizeof(keptBytes[decodedFile]{}))
	for _, r := range file.records {
		if r.entry.Body == nil {
			return
		}
		extra += keptEntryCost(r.entry)
	}
	decoded.keep(slot, bytes.Clone(data), file, extra)
}

// Set stores entry under key, keeping the key's other variants while the
// file fits the bound: it writes the key's new file beside the old one and
// renames it into place. When the key's variants together outgrow the
// bound, the new entry is kept alone; an entry larger than the whole bound
// is not stored, and the key's file, which it supersedes, is removed.
func (d *DiskStorage) Set(ctx context.Context, key string, entry *Entry, ttl time.Duration) error {
	if entry.Body != nil && entry.Body.Size() > d.maxBytes {
		// Too big to keep: the stored response of its variant is
		// outdated, the key's other variants are not.
		return d.DeleteVariant(ctx, key, entry.Variant)
	}
	var expiry int64
	if ttl > 0 {
		// Held below what UnixNano can give (the year 2262).
		expiry = time.Now().Add(min(ttl, maxDiskTTL)).UnixNano()
	}
	lock := d.keyLock(key)
	lock.Lock()
	defer lock.Unlock()
	return d.rewrite(key, entry, entry.Variant, expiry)
}

// keyLock returns the lock that orders the changes of key's file.
func (d *DiskStorage) keyLock(key string) *sync.Mutex {
	return &d.keyLocks[maphash.String(diskKeyLockSeed, key)%uint64(len(d.keyLocks))]
}

var diskKeyLockSeed = maphash.MakeSeed()

// DeleteVariant removes the stored response of one variant of key, and
// leaves the key's others (VariantDeleter): the key's file is written
// again without it, or removed when it held nothing else.
func (d *DiskStorage) DeleteVariant(ctx context.Context, key, variant string) error {
	lock := d.keyLock(key)
	lock.Lock()
	defer lock.Unlock()
	entries, err := d.read(key, true)
	if err != nil {
		return err
	}
	ofVariant := func(e *Entry) bool { return e.Variant == variant }
	switch {
	case !slices.ContainsFunc(entries, ofVariant):
		return nil
	case !slices.ContainsFunc(entries, func(e *Entry) bool { return !ofVariant(e) }):
		return d.deleteFiles(key)
	}
	return d.rewrite(key, nil, variant, 0)
}

// rewrite writes key's file again: its records but those of variant,
// then entry's, when it is not nil, expiring at expiry.
func (d *DiskStorage) rewrite(key string, entry *Entry, variant string, expiry int64) error {
	names := d.names(key)
	name := names[0]
	path := filepath.Join(d.dir, name)
	root, err := d.openRoot()
	if err != nil {
		return err
	}
	defer root.Close()
	tmp, tmpName, err := createTemp(root, filepath.Dir(name))
	if err != nil {
		return err
	}
	// Other variants can only be in a file this store knows of; a file
	// another process wrote since the scan loses its variants, as a cache
	// may. After a rotation it may be under a previous key's name.
	var old *os.File
	for _, oldName := range names {
		d.mu.Lock()
		_, known := d.files[oldName]
		d.mu.Unlock()
		if !known {
			continue
		}
		if old, err = openRegular(filepath.Join(d.dir, oldName)); err == nil {
			defer old.Close()
			break
		}
		old = nil
	}
	size, err := d.writeFile(tmp, old, key, entry, variant, expiry)
	if err == nil && diskFootprint(size) > d.maxBytes && old != nil && entry != nil {
		// The key's variants outgrow the bound together: the new one alone.
		if _, err = tmp.Seek(0, io.SeekStart); err == nil {
			if err = tmp.Truncate(0); err == nil {
				size, err = d.writeFile(tmp, nil, key, entry, variant, expiry)
			}
		}
	}
	if err == nil && diskFootprint(size) > d.maxBytes {
		tmp.Close()
		root.Remove(tmpName)
		return d.deleteFiles(key)
	}
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = root.Rename(tmpName, name)
	}
	if err != nil {
		root.Remove(tmpName)
		return fmt.Errorf("httpcache: disk storage: writing %s: %w", path, err)
	}
	d.mu.Lock()
	d.touch(name, size)
	victims := d.evict(d.files[name])
	d.mu.Unlock()
	d.removeFiles(victims)
	// The key's file under a previous key of the ring is superseded.
	for _, previous := range names[1:] {
		d.forget(previous)
		removeFrom(root, previous)
	}
	return nil
}

// writeFile writes key's new file to f: its header, then its records (see
// writeDiskRecords), sealed for an encrypted store. It returns the file's
// size.
func (d *DiskStorage) writeFile(f *os.File, old *os.File, key string, entry *Entry, variant string, expiry int64) (int64, error) {
	out := &countingWriter{w: f}
	var oldView io.ReaderAt
	var oldSize int64
	if old != nil {
		if info, err := old.Stat(); err == nil {
			oldView, oldSize = old, info.Size()
			if d.keys != nil {
				// A damaged old file is dropped whole: the new one replaces it.
				if view, err := openSealedFile(old, oldSize, d.keys, key); err == nil {
					oldView, oldSize = view, view.Size()
				} else {
					oldView = nil
				}
			}
		}
	}
	if d.keys == nil {
		if _, err := out.Write(appendDiskFileHeader(nil, key)); err != nil {
			return out.n, err
		}
		err := writeDiskRecords(out, oldView, oldSize, key, entry, variant, expiry)
		return out.n, err
	}
	sealed, err := newSealedFileWriter(out, d.keys, key)
	if err != nil {
		return out.n, err
	}
	if err := writeDiskRecords(sealed, oldView, oldSize, key, entry, variant, expiry); err != nil {
		return out.n, err
	}
	err = sealed.Close()
	return out.n, err
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// openRoot opens the store's directory as an os.Root, creating it again
// if it was removed underneath. Every write, rename and removal goes
// through one: the Root refuses a path that leaves the directory, so a
// link planted in place of a subdirectory, or swapped in while an
// operation runs, cannot take a write or a removal outside the store.
// (Reads need no Root: what they read is checked to be the key's.)
func (d *DiskStorage) openRoot() (*os.Root, error) {
	root, err := os.OpenRoot(d.dir)
	if isMissing(err) {
		if err := os.MkdirAll(d.dir, diskDirMode); err != nil {
			return nil, fmt.Errorf("httpcache: disk storage: %w", err)
		}
		root, err = os.OpenRoot(d.dir)
	}
	if err != nil {
		return nil, fmt.Errorf("httpcache: disk storage: %w", err)
	}
	return root, nil
}

// remove deletes files that are no longer wanted, named relative to the
// store's directory. A file that is not there is not an error.
func (d *DiskStorage) remove(names ...string) error {
	root, err := d.openRoot()
	if err != nil {
		return err
	}
	defer root.Close()
	var first error
	for _, name := range names {
		if err := removeFrom(root, name); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// removeFrom removes the file at name in root; one that is not there is
// not an error.
func removeFrom(root *os.Root, name string) error {
	if err := root.Remove(name); err != nil && !isMissing(err) {
		return fmt.Errorf("httpcache: disk storage: %w", err)
	}
	return nil
}

// removePlanted removes what was planted at an entry's path (a link, a
// device, a directory with files in it), so that a write can replace it.
// It goes through an os.Root of the store's directory (openRoot): a link
// planted in place of a subdirectory must not make the removal reach
// outside.
func (d *DiskStorage) removePlanted(name string) {
	root, err := d.openRoot()
	if err != nil {
		return
	}
	defer root.Close()
	root.RemoveAll(name)
}

// isMissing reports an error that says a file of the store is not there:
// it does not exist, or its subdirectory is something else now (a file
// put in its place), which the next write replaces (createTemp).
func isMissing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// createTemp creates a temporary file in dir, one of the store's
// subdirectories (relative to root), and returns it with its name
// relative to root. It creates dir if it was removed underneath, and
// replaces what was put in its place: a file, or a link, which the Root
// follows only inside the store, but which would put the file where a
// scan does not count it.
func createTemp(root *os.Root, dir string) (*os.File, string, error) {
	if dir != "." {
		if info, err := root.Lstat(dir); err == nil && !info.IsDir() {
			root.Remove(dir)
		}
	}
	tmp, name, err := openTemp(root, dir)
	if isMissing(err) && dir != "." {
		if err := root.MkdirAll(dir, diskDirMode); err != nil {
			return nil, "", fmt.Errorf("httpcache: disk storage: %w", err)
		}
		tmp, name, err = openTemp(root, dir)
	}
	if err != nil {
		return nil, "", fmt.Errorf("httpcache: disk storage: %w", err)
	}
	return tmp, name, nil
}

// readDirNames returns the names in root's directory dir.
func readDirNames(root *os.Root, dir string) ([]string, error) {
	f, err := root.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// openTemp creates a new file with a random name that starts with
// diskTempPrefix in dir, as os.CreateTemp does, through root.
func openTemp(root *os.Root, dir string) (*os.File, string, error) {
	for try := 0; ; try++ {
		var random [8]byte
		rand.Read(random[:])
		name := filepath.Join(dir, diskTempPrefix+hex.EncodeToString(random[:]))
		f, err := root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, diskFileMode)
		if errors.Is(err, fs.ErrExist) && try < 10 {
			continue
		}
		return f, name, err
	}
}

// writeDiskRecords writes a key's records to w: the variants of the
// current file, shown by old (of oldSize bytes) when not nil, copied byte
// for byte, unexpired ones only, but those of variant (the one being
// replaced or removed); then entry's record, when entry is not nil.
func writeDiskRecords(w io.Writer, old io.ReaderAt, oldSize int64, key string, entry *Entry, variant string, expiry int64) error {
	digest := digestOf(key)
	var record []byte
	if entry != nil {
		record = make([]byte, 0, 64+entrySize(entry))
		record = binary.BigEndian.AppendUint64(record, uint64(expiry))
		record = append(record, 0, 0, 0, 0) // the encoded length, set below
		record = append(record, digest[:]...)
		var err error
		if record, err = appendEntry(record, entry); err != nil {
			return err
		}
		binary.BigEndian.PutUint32(record[8:], uint32(len(record)-diskRecordHeader))
	}
	if old != nil {
		// A damaged old file is dropped whole: the new one replaces it.
		records, _ := readDiskRecords(old, oldSize, digest)
		kept := 0
		now := time.Now()
		for _, r := range records {
			if r.entry.Variant == variant || r.expired(now) || kept >= maxVariantsPerKey-1 {
				continue
			}
			if _, err := io.Copy(w, io.NewSectionReader(old, r.offset, r.length)); err != nil {
				return err
			}
			kept++
		}
	}
	_, err := w.Write(record)
	return err
}

// Delete removes the key's file.
func (d *DiskStorage) Delete(_ context.Context, key string) error {
	lock := d.keyLock(key)
	lock.Lock()
	defer lock.Unlock()
	return d.deleteFiles(key)
}

// deleteFiles removes the key's file; its keyLock is held.
func (d *DiskStorage) deleteFiles(key string) error {
	names := d.names(key)
	for _, name := range names {
		d.forget(name)
	}
	return d.remove(names...)
}

// Size returns the bytes the entry files this DiskStorage knows of, and
// their subdirectories, take on the disk: whole blocks (diskBlockSize)
// and each file's directory entry (diskDirEntryBytes), not their lengths
// alone.
func (d *DiskStorage) Size() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.usedBytes
}

// DeleteURL removes the files of every key of url: the key without a
// partition, and every partition's, found in the URL's subdirectory, this
// process's and other processes' alike.
func (d *DiskStorage) DeleteURL(ctx context.Context, url string) error {
	var first error
	for _, name := range d.urlNames(url) {
		if err := d.deleteURLFiles(name); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// deleteURLFiles removes the files of a URL whose file without a
// partition is name: it, and those that start with its name and a dot.
func (d *DiskStorage) deleteURLFiles(name string) error {
	dir, base := filepath.Split(name)
	root, err := d.openRoot()
	if err != nil {
		return err
	}
	defer root.Close()
	names, err := readDirNames(root, filepath.Clean(dir))
	if isMissing(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("httpcache: disk storage: %w", err)
	}
	var first error
	for _, n := range names {
		if n == base || strings.HasPrefix(n, base+".") {
			file := filepath.Join(dir, n)
			d.forget(file)
			if err := removeFrom(root, file); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// PartitionSecret returns the secret generated when the store was opened
// (PartitionSecretKeeper). It is not kept in the directory, where a copy of
// the files would find it with them: processes that share the directory
// share the stored responses of requests with credentials only when each
// Transport is given the same secret (WithPartitionSecret).
func (d *DiskStorage) PartitionSecret() []byte { return d.secret }

// removeCorrupt removes a file that failed its checks, unless another
// writer has replaced it since it was opened as f.
func (d *DiskStorage) removeCorrupt(name string, f entryFile) {
	root, err := d.openRoot()
	if err != nil {
		return
	}
	defer root.Close()
	read, err := f.Stat()
	now, statErr := root.Lstat(name)
	switch {
	case isMissing(statErr):
		d.forget(name)
	case err == nil && statErr == nil && os.SameFile(now, read):
		root.Remove(name)
		d.forget(name)
	}
	// Otherwise another writer's file is there now, with its own account.
}

// touch records a file as the most recently used, with its length. d.mu
// is held.
func (d *DiskStorage) touch(name string, length int64) {
	size := diskFootprint(length)
	f := d.files[name]
	if f == nil {
		f = &diskFile{name: name}
		f.node.item = f
		d.files[name] = f
		d.countInDir(name, 1)
	}
	d.recency.touch(&f.node)
	d.usedBytes += size - f.size
	f.size = size
}

// diskBlockSize is the unit a file system gives files and directories
// space in: 4 KiB on ext4, xfs, btrfs, APFS and tmpfs by default.
const diskBlockSize = 4096

// diskDirEntryBytes is what a file's name takes in its directory (the
// name, 69 bytes or 134 with a partition, and the entry's own fields).
const diskDirEntryBytes = 160

// diskFootprint is what a file of length bytes takes on the disk, as du
// measures it: whole blocks, and its entry in its directory. A bound on
// lengths alone let a directory of tiny entries (most API responses) take
// twenty times its bound.
func diskFootprint(length int64) int64 {
	blocks := (length + diskBlockSize - 1) / diskBlockSize
	return max(blocks, 1)*diskBlockSize + diskDirEntryBytes
}

// fanOutDir returns the index of the subdirectory a file's name is in.
func fanOutDir(name string) (int, bool) {
	if len(name) < 3 || name[2] != filepath.Separator {
		return 0, false
	}
	hi, lo := fromHex(name[0]), fromHex(name[1])
	if hi < 0 || lo < 0 {
		return 0, false
	}
	return hi<<4 | lo, true
}

func fromHex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}

// evict drops least recently used files from the accounting until it is
// within the bound, sparing keep, and returns them for removal outside the
// lock. d.mu is held.
func (d *DiskStorage) evict(keep *diskFile) []*diskFile {
	var keepNode *recencyNode[*diskFile]
	if keep != nil {
		keepNode = &keep.node
	}
	var victims []*diskFile
	for d.usedBytes > d.maxBytes {
		victim := d.recency.evictionVictim(keepNode)
		if victim == nil {
			break
		}
		d.drop(victim.item)
		victims = append(victims, victim.item)
	}
	return victims
}

func (d *DiskStorage) removeFiles(victims []*diskFile) {
	if len(victims) == 0 {
		return
	}
	names := make([]string, len(victims))
	for i, f := range victims {
		names[i] = f.name
	}
	d.remove(names...)
}

func (d *DiskStorage) forget(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if f := d.files[name]; f != nil {
		d.drop(f)
	}
}

// drop removes a file from the accounting. d.mu is held.
func (d *DiskStorage) drop(f *diskFile) {
	d.recency.remove(&f.node)
	delete(d.files, f.name)
	d.usedBytes -= f.size
	d.countInDir(f.name, -1)
}

// countInDir adds n to the known files of name's subdirectory, which
// counts as one block toward the bound while it holds any. d.mu is held.
func (d *DiskStorage) countInDir(name string, n int32) {
	dir, ok := fanOutDir(name)
	if !ok {
		return
	}
	before := d.fanOutFiles[dir]
	d.fanOutFiles[dir] += n
	switch after := d.fanOutFiles[dir]; {
	case before == 0 && after > 0:
		d.usedBytes += diskBlockSize
	case before > 0 && after == 0:
		d.usedBytes -= diskBlockSize
	}
}

// diskRecord is one variant in a key's file.
type diskRecord struct {
	offset, length int64 // of the whole record in the file
	expiry         int64 // Unix nanoseconds; 0 for none
	entry          *Entry
	// Where the body is, when it was not read into entry.Body.
	bodyOffset, bodySize int64
	bodyChecksum         uint32
	// The metadata's checksum and where it is: with the body's, what a
	// body opened later checks to know the file still holds this record.
	metaChecksumAt int64
	metaChecksum   uint32
}

func (r *diskRecord) expired(now time.Time) bool {
	return r.expiry != 0 && now.UnixNano() > r.expiry
}

// readDiskRecordsWithBodies is readDiskRecords that also reads and checks
// bodies of up to diskInlineBody bytes; larger ones are left in the file
// (Entry.Body nil, the record saying where). A record whose body fails its
// check is left out.
func readDiskRecordsWithBodies(f io.ReaderAt, size int64, digest keyDigest, inline int64) ([]diskRecord, error) {
	records, err := readDiskRecords(f, size, digest)
	if err != nil {
		return nil, err
	}
	kept := records[:0]
	for i := range records {
		if records[i].readInlineBody(f, inline) == nil {
			kept = append(kept, records[i])
		}
	}
	return kept, nil
}

// readDiskRecords reads the records of a key's file, without their bodies.
// A file that is not an entry file, whose framing is damaged, or whose
// records belong to another key (digest) is an error wrapping
// ErrCorruptEntry. A record that is damaged but framed is left out, and
// the others are kept.
func readDiskRecords(f io.ReaderAt, size int64, digest keyDigest) ([]diskRecord, error) {
	_, start, err := readDiskFileHeader(f, size)
	if err != nil {
		return nil, err
	}
	var records []diskRecord
	framed := 0
	for offset := start; offset < size; {
		r, err := readDiskRecord(f, offset, size, digest)
		if r.length == 0 {
			return nil, err // the framing is lost: nothing after it can be read
		}
		offset += r.length
		if framed++; framed > maxVariantsPerKey {
			return nil, fmt.Errorf("%w: too many variants", ErrCorruptEntry)
		}
		if err == nil {
			records = append(records, r)
		}
	}
	return records, nil
}

// readDiskRecord reads the record at offset. When its framing (header,
// length, key digest) is sound, the record's length is set, even if the
// rest fails its checks; otherwise it is zero.
func readDiskRecord(f io.ReaderAt, offset, fileSize int64, digest keyDigest) (diskRecord, error) {
	corrupt := func(what string) (diskRecord, error) {
		return diskRecord{}, fmt.Errorf("%w: %s at offset %d", ErrCorruptEntry, what, offset)
	}
	var header [diskRecordHeader + entryPrefixSize]byte
	if _, err := f.ReadAt(header[:], offset); err != nil {
		return corrupt("short record header")
	}
	if keyDigest(header[12:diskRecordHeader]) != digest {
		return corrupt("a record of another key")
	}
	r := diskRecord{offset: offset, expiry: int64(binary.BigEndian.Uint64(header[:8]))}
	encodedLen := int64(binary.BigEndian.Uint32(header[8:12]))
	length := diskRecordHeader + encodedLen
	if offset+length > fileSize {
		return corrupt("record past the end of the file")
	}
	damaged := func(err error) (diskRecord, error) {
		return diskRecord{length: length}, err
	}
	metaLen := int64(binary.BigEndian.Uint32(header[diskRecordHeader+4:]))
	if metaLen > maxEncodedMeta || entryPrefixSize+metaLen+checksumSize > encodedLen {
		return damaged(fmt.Errorf("%w: metadata length out of range at offset %d", ErrCorruptEntry, offset))
	}
	encodedStart := offset + diskRecordHeader
	prefixAndMeta := make([]byte, entryPrefixSize+metaLen+checksumSize)
	if _, err := f.ReadAt(prefixAndMeta, encodedStart); err != nil {
		return damaged(fmt.Errorf("%w: short metadata at offset %d", ErrCorruptEntry, offset))
	}
	entry, bodyLen, bodyStart, err := decodeEntryMeta(prefixAndMeta)
	if err != nil {
		return damaged(err)
	}
	if int64(bodyStart)+bodyLen+checksumSize != encodedLen {
		return damaged(fmt.Errorf("%w: body length does not match the record at offset %d", ErrCorruptEntry, offset))
	}
	r.length = length
	r.entry, r.bodyOffset, r.bodySize = entry, encodedStart+int64(bodyStart), bodyLen
	r.metaChecksumAt = encodedStart + int64(bodyStart) - checksumSize
	r.metaChecksum = binary.BigEndian.Uint32(prefixAndMeta[bodyStart-checksumSize:])
	var sum [checksumSize]byte
	if _, err := f.ReadAt(sum[:], r.bodyOffset+bodyLen); err != nil {
		return damaged(fmt.Errorf("%w: short body checksum at offset %d", ErrCorruptEntry, offset))
	}
	r.bodyChecksum = binary.BigEndian.Uint32(sum[:])
	return r, nil
}

// readInlineBody reads and checks the record's body when it is no larger
// than diskInlineBody, and sets it as the entry's Body.
func (r *diskRecord) readInlineBody(f io.ReaderAt, inline int64) error {
	if r.bodySize > inline {
		return nil
	}
	body := make([]byte, r.bodySize)
	if _, err := f.ReadAt(body, r.bodyOffset); err != nil {
		return fmt.Errorf("%w: short body at offset %d", ErrCorruptEntry, r.offset)
	}
	if crc32.Checksum(body, castagnoli) != r.bodyChecksum {
		return fmt.Errorf("%w: body checksum mismatch at offset %d", ErrCorruptEntry, r.offset)
	}
	r.entry.Body = BytesBody(body)
	return nil
}

// diskBody is a body left in its file. Open checks that the file is still
// the one read: the same file, holding the same record (an inode number
// can be reused for a new file once the old one is removed), and its
// reader checks the body's checksum before it returns the last bytes: a
// mismatch is a read error, never a clean end. No file is ever rewritten
// in place (a write goes to a new file renamed over the old), so once
// open, the content cannot change.
type diskBody struct {
	path           string
	info           os.FileInfo
	offset         int64 // in the file, or in the view of an encrypted one
	size           int64
	checksum       uint32
	metaChecksumAt int64
	metaChecksum   uint32
	keys           *Keyring             // an encrypted store's, or nil
	key            string               // the storage key, which an encrypted file is sealed for
	salt           [diskSealedSalt]byte // an encrypted file's own
	store          *DiskStorage         // which removes the file when the body fails its check
	name           string               // the file's name in store
}

func (b *diskBody) Size() int64 { return b.size }

func (b *diskBody) Open() (io.ReadCloser, error) {
	f, err := openRegular(b.path)
	if err != nil {
		return nil, fmt.Errorf("httpcache: disk storage: %w", err)
	}
	if b.keys != nil {
		return b.openSealed(f)
	}
	if !b.sameRecord(f, f) {
		f.Close()
		return nil, fmt.Errorf("%w: the file was replaced", ErrCorruptEntry)
	}
	return verifiedFirst(&checkedReader{section: io.NewSectionReader(f, b.offset, b.size), file: f, body: b,
		hash: crc32.New(castagnoli), want: b.checksum, left: b.size})
}

// openSealed opens the body of an encrypted file through its view. The
// file must be the one the body was found in: the same salt, which no
// other file has (an inode number is reused once a file is replaced);
// its segments are checked as they are read, and the body's checksum at
// its end.
func (b *diskBody) openSealed(f *os.File) (io.ReadCloser, error) {
	info, err := f.Stat()
	if err != nil || info.Size() != b.info.Size() {
		f.Close()
		return nil, fmt.Errorf("%w: the file was replaced", ErrCorruptEntry)
	}
	view, err := openSealedFile(f, info.Size(), b.keys, b.key)
	if err == nil && view.salt != b.salt {
		err = fmt.Errorf("%w: the file was replaced", ErrCorruptEntry)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return verifiedFirst(&checkedReader{section: io.NewSectionReader(view, b.offset, b.size), file: f, view: view, body: b,
		hash: crc32.New(castagnoli), want: b.checksum, left: b.size})
}

// diskVerifyFirst is the largest body Open reads through and checks before
// it returns a reader: a damaged file is then an error of Open, which the
// Transport answers from the origin, instead of a read error its caller
// meets in the middle of the response. A larger body is checked as it is
// streamed only, so that its first bytes do not wait for its last.
const diskVerifyFirst = 64 << 20

// verifiedFirst checks a body of at most diskVerifyFirst bytes by reading
// it through r once, in a pooled buffer, and returns r rewound to its
// start. r still checks what it returns: the file is open, and what a
// writer in place changed since is found at the end, as before.
func verifiedFirst(r *checkedReader) (io.ReadCloser, error) {
	if r.left > diskVerifyFirst {
		return r, nil
	}
	buf := smallFileBuffers.Get().(*[]byte)
	var err error
	for err == nil {
		_, err = r.Read(*buf)
	}
	smallFileBuffers.Put(buf)
	if err == io.EOF {
		_, err = r.section.Seek(0, io.SeekStart)
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	r.hash.Reset()
	r.left = r.body.size
	return r, nil
}

// sameRecord reports whether the open file is the one the body was found
// in, still holding its record, read through records (the file, or its
// view).
func (b *diskBody) sameRecord(f *os.File, records io.ReaderAt) bool {
	info, err := f.Stat()
	if err != nil || !os.SameFile(info, b.info) || info.Size() != b.info.Size() {
		return false
	}
	var sum [checksumSize]byte
	if _, err := records.ReadAt(sum[:], b.metaChecksumAt); err != nil || binary.BigEndian.Uint32(sum[:]) != b.metaChecksum {
		return false
	}
	_, err = records.ReadAt(sum[:], b.offset+b.size)
	return err == nil && binary.BigEndian.Uint32(sum[:]) == b.checksum
}

// checkedReader reads a body section and verifies its CRC-32C before it
// returns the last bytes: a reader that stops at the body's length (as
// io.ReadFull and JSON decoders do) gets an error instead of corrupt bytes.
type checkedReader struct {
	section *io.SectionReader
	file    *os.File
	view    *sealedFileView // of an encrypted file, or nil
	body    *diskBody       // what is read, whose file goes when it fails its check
	hash    hash.Hash32
	want    uint32
	left    int64 // bytes not yet returned
	err     error // sticks once the check failed
}

func (r *checkedReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.section.Read(p)
	r.hash.Write(p[:n])
	r.left -= int64(n)
	switch {
	case r.left <= 0 && r.hash.Sum32() != r.want:
		return 0, r.corrupt(fmt.Errorf("%w: body checksum mismatch", ErrCorruptEntry)) // the last bytes are not returned
	case err == io.EOF && r.left > 0:
		return 0, r.corrupt(fmt.Errorf("%w: body shorter than its record", ErrCorruptEntry))
	case errors.Is(err, ErrCorruptEntry): // a segment of an encrypted file
		return n, r.corrupt(err)
	}
	return n, err
}

// corrupt makes err stick, and removes the file, unless it was replaced
// since it was opened: this reader fails, and the next request for the
// key goes to the origin instead of failing the same way.
func (r *checkedReader) corrupt(err error) error {
	r.err = err
	if b := r.body; b != nil && b.store != nil {
		b.store.removeCorrupt(b.name, r.file)
	}
	return err
}

func (r *checkedReader) Close() error {
	if r.view != nil {
		r.view.release()
		r.view = nil
	}
	return r.file.Close()
}

// Local reports true: a DiskStorage's calls read and write local files,
// which a context could not interrupt (LocalStorage).
func (d *DiskStorage) Local() bool { return true }

var (
	_ LocalStorage   = (*DiskStorage)(nil)
	_ VariantDeleter = (*DiskStorage)(nil)
)

// keyDigest is what a record carries of its key: the first bytes of the
// key's SHA-256.
type keyDigest [diskKeyDigestSize]byte

func digestOf(key string) keyDigest {
	sum := sha256.Sum256([]byte(key))
	return keyDigest(sum[:diskKeyDigestSize])
}

// appendDiskFileHeader appends what starts a key's file: the magic, the
// version, and the key.
func appendDiskFileHeader(b []byte, key string) []byte {
	b = append(b, diskFileMagic...)
	b = append(b, diskFileVersion)
	b = binary.AppendUvarint(b, uint64(len(key)))
	return append(b, key...)
}

// errNotEntryFile reports a file without an entry file's header; made once,
// since every Get reads a header.
var errNotEntryFile = fmt.Errorf("%w: not an entry file", ErrCorruptEntry)

// readDiskFileHeader reads the header of an entry file of size bytes:
// where the key it names is and where its records start. A file that is not an entry file is an error wrapping
// ErrCorruptEntry.
func readDiskFileHeader(f io.ReaderAt, size int64) (keyAt, start int64, err error) {
	var first [len(diskFileMagic) + 1 + binary.MaxVarintLen64]byte
	n, _ := f.ReadAt(first[:min(int64(len(first)), size)], 0)
	if n < len(diskFileMagic)+1 || string(first[:3]) != diskFileMagic {
		return 0, 0, errNotEntryFile
	}
	if first[3] != diskFileVersion {
		return 0, 0, errNotEntryFile
	}
	keyLen, lenBytes := binary.Uvarint(first[4:n])
	if lenBytes <= 0 || keyLen > diskMaxKey {
		return 0, 0, errNotEntryFile
	}
	keyAt = 4 + int64(lenBytes)
	if start = keyAt + int64(keyLen); start > size {
		return 0, 0, errNotEntryFile
	}
	return keyAt, start, nil
}

// readDiskFileKey returns the key an entry file names.
func readDiskFileKey(f io.ReaderAt, size int64) (string, error) {
	keyAt, start, err := readDiskFileHeader(f, size)
	if err != nil {
		return "", err
	}
	key := make([]byte, start-keyAt)
	if _, err := f.ReadAt(key, keyAt); err != nil {
		return "", fmt.Errorf("%w: short key", ErrCorruptEntry)
	}
	return string(key), nil
}
