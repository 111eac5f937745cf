package agenda

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cau-bridge/cau/storage"
	"github.com/cau-bridge/cau/storage/objstore"
)

// newTestService returns a Service over a fresh database and disk store,
// with the rest of cfg as given.
func newTestService(t *testing.T, cfg Config) (*Service, objstore.Store) {
	t.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "cau.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store, err := objstore.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cfg.DB, cfg.Store = db, store
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, store
}

func TestSweepTempRemovesOnlyOldSpoolFiles(t *testing.T) {
	tmp := t.TempDir()
	s, _ := newTestService(t, Config{TempDir: tmp})
	old := time.Now().Add(-2 * time.Hour)
	for _, name := range []string{spoolPrefix + "old", spoolPrefix + "new", "other-old"} {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if name != spoolPrefix+"new" {
			os.Chtimes(p, old, old)
		}
	}
	n, err := s.SweepTemp(time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("SweepTemp = %d, %v; want 1", n, err)
	}
	for name, want := range map[string]bool{spoolPrefix + "old": false, spoolPrefix + "new": true, "other-old": true} {
		if _, err := os.Stat(filepath.Join(tmp, name)); (err == nil) != want {
			t.Errorf("%s present = %v, want %v", name, err == nil, want)
		}
	}
	if s.MaxUpload() != objstore.DocumentLimit {
		t.Errorf("default MaxUpload = %d, want 200 MiB", s.MaxUpload())
	}
}

// TestCollectBlobsKeepsReferencedAndRecent: only blobs that no document
// names and that are older than the grace period go.
func TestCollectBlobsKeepsReferencedAndRecent(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	s, store := newTestService(t, Config{TempDir: t.TempDir(), Now: func() time.Time { return now }})
	orphan, err := store.PutBlob(ctx, strings.NewReader("orphan"), 1<<20, "application/pdf")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.CollectBlobs(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("a recent orphan was collected: %d, %v", n, err)
	}
	now = now.Add(2 * time.Hour)
	if n, err := s.CollectBlobs(ctx, time.Hour); err != nil || n != 1 {
		t.Fatalf("an old orphan: collected %d, %v; want 1", n, err)
	}
	if _, err := store.Stat(ctx, orphan.Key); err == nil {
		t.Fatal("the orphan is still there")
	}
}
