package objstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cau-bridge/cau/storage/objstore"
)

// A symlink planted inside the store cannot lead reads or writes outside it.
func TestDiskStaysInsideRoot(t *testing.T) {
	ctx := context.Background()
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := objstore.NewDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := os.Symlink(outside, filepath.Join(dir, "objects", "evil")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Get(ctx, "evil/secret"); err == nil {
		t.Error("read through a symlink out of the root")
	}
	if _, err := d.Put(ctx, "evil/planted", strings.NewReader("x"), 10, ""); err == nil {
		t.Error("wrote through a symlink out of the root")
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); err == nil {
		t.Error("file created outside the root")
	}
}

// Staging files a crash left behind go at the next sweep once old enough;
// recent ones (an upload in progress) stay.
func TestDiskSweepStaging(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := objstore.NewDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	old, fresh := filepath.Join(dir, "staging", "old"), filepath.Join(dir, "staging", "fresh")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	n, err := d.SweepStaging(ctx, time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old staging file still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh staging file removed: %v", err)
	}
	// A lost metadata sidecar (crash between link and sidecar) leaves
	// defaults, and blobs keep their hash from the key.
	info, err := d.PutBlob(ctx, strings.NewReader("doc"), 10, "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "meta", filepath.FromSlash(info.Key))); err != nil {
		t.Fatal(err)
	}
	got, err := d.Stat(ctx, info.Key)
	if err != nil || got.SHA256 != info.SHA256 || got.ContentType != "application/octet-stream" {
		t.Errorf("stat without sidecar = %+v, %v", got, err)
	}
}
