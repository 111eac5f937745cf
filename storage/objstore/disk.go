package objstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Disk is the local-directory store, the embedded default. Its root holds
// three trees:
//
//	objects/<key>   the bytes, one plain file per object
//	meta/<key>      JSON sidecar: content type and SHA-256
//	staging/<name>  uploads in progress
//
// Every file operation goes through an os.Root, so no key or symlink can
// reach outside the directory. A key that is also the "directory" of another
// key (a and a/b) cannot exist on disk; the second Put fails.
type Disk struct {
	root *os.Root
	// mu serialises commits only where hard links are unavailable.
	mu sync.Mutex
}

// meta is the sidecar written next to each object.
type meta struct {
	ContentType string `json:"content_type"`
	SHA256      string `json:"sha256"`
}

// NewDisk opens (creating if needed) a disk store rooted at dir.
func NewDisk(dir string) (*Disk, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("objstore: create %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("objstore: open %s: %w", dir, err)
	}
	for _, sub := range []string{"objects", "meta", "staging"} {
		if err := root.MkdirAll(sub, 0o750); err != nil {
			root.Close()
			return nil, fmt.Errorf("objstore: create %s/%s: %w", dir, sub, err)
		}
	}
	return &Disk{root: root}, nil
}

// Close releases the directory handle.
func (d *Disk) Close() error { return d.root.Close() }

// Put implements Store.
func (d *Disk) Put(ctx context.Context, key string, r io.Reader, limit int64, contentType string) (Info, error) {
	if err := validPutKey(key); err != nil {
		return Info{}, err
	}
	if err := checkLimit(limit); err != nil {
		return Info{}, err
	}
	if _, err := d.root.Stat("objects/" + key); err == nil {
		return Info{}, fmt.Errorf("put %s: %w", key, ErrExists)
	}
	tmp, m, err := d.stage(ctx, r, limit)
	if err != nil {
		return Info{}, fmt.Errorf("put %s: %w", key, err)
	}
	defer d.root.Remove(tmp)
	created, err := d.commit(tmp, key, meta{ContentType: contentType, SHA256: m.hex()})
	if err != nil {
		return Info{}, fmt.Errorf("put %s: %w", key, err)
	}
	if !created {
		return Info{}, fmt.Errorf("put %s: %w", key, ErrExists)
	}
	return d.Stat(ctx, key)
}

// PutBlob implements Store.
func (d *Disk) PutBlob(ctx context.Context, r io.Reader, limit int64, contentType string) (Info, error) {
	if err := checkLimit(limit); err != nil {
		return Info{}, err
	}
	tmp, m, err := d.stage(ctx, r, limit)
	if err != nil {
		return Info{}, fmt.Errorf("put blob: %w", err)
	}
	defer d.root.Remove(tmp)
	sum := m.hex()
	key := BlobPrefix + sum
	if _, err := d.commit(tmp, key, meta{ContentType: contentType, SHA256: sum}); err != nil {
		return Info{}, fmt.Errorf("put blob %s: %w", key, err)
	}
	return d.Stat(ctx, key)
}

// stage streams r into a new staging file, synced to disk, and returns its
// name. On failure the file is gone.
func (d *Disk) stage(ctx context.Context, r io.Reader, limit int64) (_ string, _ *meter, err error) {
	name := stagingPrefix + stagingName()
	f, err := d.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return "", nil, fmt.Errorf("create staging file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			d.root.Remove(name)
		}
	}()
	m := newMeter(ctx, r, limit)
	if _, err = io.Copy(f, m); err != nil {
		return "", nil, err
	}
	if err = f.Sync(); err != nil {
		return "", nil, fmt.Errorf("sync staging file: %w", err)
	}
	if err = f.Close(); err != nil {
		return "", nil, fmt.Errorf("close staging file: %w", err)
	}
	return name, m, nil
}

// commit makes the staged file tmp visible as key unless key exists, and
// reports whether it did. A hard link fails on an existing name, so two
// racing commits cannot both win. The winner then writes the sidecar.
func (d *Disk) commit(tmp, key string, md meta) (created bool, err error) {
	dst := "objects/" + key
	if err := d.root.MkdirAll(path.Dir(dst), 0o750); err != nil {
		return false, fmt.Errorf("create directory: %w", err)
	}
	err = d.root.Link(tmp, dst)
	switch {
	case errors.Is(err, fs.ErrExist):
		return false, nil
	case err != nil:
		// Some filesystems have no hard links: fall back to a rename, which
		// is atomic but would replace, so check under the lock first.
		if created, err = d.renameIfAbsent(tmp, dst); err != nil || !created {
			return created, err
		}
	}
	d.syncDir(path.Dir(dst))
	if err := d.writeMeta(key, md); err != nil {
		return true, err
	}
	return true, nil
}

func (d *Disk) renameIfAbsent(tmp, dst string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.root.Lstat(dst); err == nil {
		return false, nil
	}
	if err := d.root.Rename(tmp, dst); err != nil {
		return false, fmt.Errorf("rename into place: %w", err)
	}
	return true, nil
}

// writeMeta writes the sidecar atomically (staging file, sync, rename).
func (d *Disk) writeMeta(key string, md meta) error {
	b, err := json.Marshal(md)
	if err != nil {
		return err
	}
	tmp := stagingPrefix + stagingName()
	f, err := d.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	dst := "meta/" + key
	if err == nil {
		err = d.root.MkdirAll(path.Dir(dst), 0o750)
	}
	if err == nil {
		err = d.root.Rename(tmp, dst)
	}
	if err != nil {
		d.root.Remove(tmp)
		return fmt.Errorf("write metadata: %w", err)
	}
	return nil
}

// syncDir makes a new directory entry durable; failure only weakens
// durability, never correctness, so it is not reported.
func (d *Disk) syncDir(dir string) {
	if f, err := d.root.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}

// Get implements Store.
func (d *Disk) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	f, info, err := d.open(key)
	if err != nil {
		return nil, Info{}, err
	}
	return f, info, nil
}

// GetRange implements Store.
func (d *Disk) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	f, info, err := d.open(key)
	if err != nil {
		return nil, err
	}
	n, err = checkRange(off, n, info.Size)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return sectionCloser{io.NewSectionReader(f, off, n), f}, nil
}

// sectionCloser reads a section of a file and closes the file.
type sectionCloser struct {
	*io.SectionReader
	io.Closer
}

func (d *Disk) open(key string) (*os.File, Info, error) {
	if err := validKey(key); err != nil {
		return nil, Info{}, err
	}
	f, err := d.root.Open("objects/" + key)
	if err != nil {
		return nil, Info{}, d.notFound(key, err)
	}
	info, err := d.describe(key, f.Stat)
	if err != nil {
		f.Close()
		return nil, Info{}, err
	}
	return f, info, nil
}

// Stat implements Store.
func (d *Disk) Stat(ctx context.Context, key string) (Info, error) {
	if err := validKey(key); err != nil {
		return Info{}, err
	}
	return d.describe(key, func() (fs.FileInfo, error) { return d.root.Stat("objects/" + key) })
}

// describe builds Info from the file's stat and the sidecar; a sidecar lost
// in a crash leaves the defaults.
func (d *Disk) describe(key string, stat func() (fs.FileInfo, error)) (Info, error) {
	fi, err := stat()
	if err != nil {
		return Info{}, d.notFound(key, err)
	}
	if !fi.Mode().IsRegular() {
		return Info{}, fmt.Errorf("stat %s: %w", key, ErrNotFound)
	}
	info := Info{Key: key, Size: fi.Size(), Modified: fi.ModTime(), SHA256: blobHash(key),
		ContentType: "application/octet-stream"}
	if b, err := d.root.ReadFile("meta/" + key); err == nil {
		var md meta
		if json.Unmarshal(b, &md) == nil {
			if md.ContentType != "" {
				info.ContentType = md.ContentType
			}
			if info.SHA256 == "" {
				info.SHA256 = md.SHA256
			}
		}
	}
	return info, nil
}

func (d *Disk) notFound(key string, err error) error {
	// ENOTDIR: a path component is a file, so the key cannot exist either.
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", key, err)
}

// List implements Store.
func (d *Disk) List(ctx context.Context, prefix string) ([]Info, error) {
	if err := validPrefix(prefix); err != nil {
		return nil, err
	}
	// Walk the deepest directory the prefix names, then filter by prefix.
	start := "objects"
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start += "/" + prefix[:i]
	}
	var out []Info
	err := fs.WalkDir(d.root.FS(), start, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p == start && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		key := strings.TrimPrefix(p, "objects/")
		if !e.Type().IsRegular() || !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return nil // deleted while walking
		}
		out = append(out, Info{Key: key, Size: fi.Size(), Modified: fi.ModTime(), SHA256: blobHash(key)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	// Directory order is not byte order ("a/b" sorts after "a-c" in S3).
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete implements Store. Empty directories are left in place: removing
// them would race with a Put creating a file in them.
func (d *Disk) Delete(ctx context.Context, key string) error {
	if err := validKey(key); err != nil {
		return err
	}
	if err := d.root.Remove("objects/" + key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if err := d.root.Remove("meta/" + key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete metadata of %s: %w", key, err)
	}
	return nil
}

// PresignGet implements Store; a directory has no URLs.
func (d *Disk) PresignGet(ctx context.Context, key string, ttl time.Duration, filename string) (string, error) {
	if err := validKey(key); err != nil {
		return "", err
	}
	return "", fmt.Errorf("presign %s: %w", key, ErrUnsupported)
}

// SweepStaging implements Store.
func (d *Disk) SweepStaging(ctx context.Context, olderThan time.Duration) (int, error) {
	entries, err := fs.ReadDir(d.root.FS(), "staging")
	if err != nil {
		return 0, fmt.Errorf("sweep staging: %w", err)
	}
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		fi, err := e.Info()
		if err != nil || olderThan > 0 && !fi.ModTime().Before(cutoff) {
			continue
		}
		if err := d.root.RemoveAll("staging/" + e.Name()); err == nil {
			removed++
		}
	}
	return removed, nil
}
