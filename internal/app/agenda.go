package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cau-bridge/cau/agenda"
	"github.com/cau-bridge/cau/agenda/sigverify"
	"github.com/cau-bridge/cau/storage"
	"github.com/cau-bridge/cau/storage/objstore"
)

// paperless is the agenda half of the server: the object store, the
// agenda service and their janitor.
type paperless struct {
	store objstore.Store
	svc   *agenda.Service
	stop  context.CancelFunc
	done  chan struct{}
}

// openPaperless opens the object store (MinIO when an endpoint is set,
// else <DataDir>/objects), the trusted roots and the seal, and starts the
// janitor that sweeps abandoned uploads at start and hourly.
func openPaperless(cfg Config, db *storage.DB) (*paperless, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	oc := cfg.ObjectStore
	if oc.Endpoint == "" && oc.Dir == "" {
		oc.Dir = filepath.Join(cfg.DataDir, "objects")
	}
	if oc.Bucket == "" {
		oc.Bucket = "cau"
	}
	if oc.Dir != "" {
		if err := os.MkdirAll(oc.Dir, 0o750); err != nil {
			return nil, fmt.Errorf("create object dir: %w", err)
		}
	}
	store, err := objstore.Open(ctx, oc, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("open object store: %w", err)
	}
	roots, err := trustedRoots(cfg)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	var sealer *agenda.Sealer
	if cfg.SealCert != "" || cfg.SealKey != "" {
		if sealer, err = agenda.LoadSealer(cfg.SealCert, cfg.SealKey); err != nil {
			_ = store.Close()
			return nil, fmt.Errorf("load the organisation seal: %w", err)
		}
	}
	tmp := filepath.Join(cfg.DataDir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		_ = store.Close()
		return nil, fmt.Errorf("create spool dir: %w", err)
	}
	svc, err := agenda.New(agenda.Config{DB: db, Store: store, Roots: roots, Sealer: sealer, MaxUpload: cfg.MaxUpload,
		TempDir: tmp, PresignTTL: cfg.PresignTTL, Logger: cfg.Logger})
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	jctx, stop := context.WithCancel(context.Background())
	p := &paperless{store: store, svc: svc, stop: stop, done: make(chan struct{})}
	go p.janitor(jctx, cfg)
	return p, nil
}

// trustedRoots loads --trusted-roots, or <DataDir>/trusted-roots when that
// folder exists. With neither, no document signature can be valid.
func trustedRoots(cfg Config) (*x509.CertPool, error) {
	dir := cfg.TrustedRoots
	if dir == "" {
		def := filepath.Join(cfg.DataDir, "trusted-roots")
		if _, err := os.Stat(def); err != nil {
			cfg.Logger.Warn("no trusted roots configured (--trusted-roots): every document signature will show as invalid")
			return nil, nil
		}
		dir = def
	}
	roots, err := sigverify.LoadRoots(dir)
	if err != nil {
		return nil, fmt.Errorf("trusted roots: %w", err)
	}
	return roots, nil
}

func (p *paperless) janitor(ctx context.Context, cfg Config) {
	defer close(p.done)
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := p.store.SweepStaging(ctx, 24*time.Hour); err != nil && !errors.Is(err, context.Canceled) {
			cfg.Logger.Warn("sweep abandoned uploads", "err", err)
		} else if n > 0 {
			cfg.Logger.Info("swept abandoned uploads", "objects", n)
		}
		if _, err := p.svc.SweepTemp(time.Hour); err != nil {
			cfg.Logger.Warn("sweep spooled uploads", "err", err)
		}
		if _, err := p.svc.CollectBlobs(ctx, 24*time.Hour); err != nil && !errors.Is(err, context.Canceled) {
			cfg.Logger.Warn("collect unreferenced blobs", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *paperless) close() error {
	p.stop()
	<-p.done
	return p.store.Close()
}
