// Package app assembles a running Cầu server from its parts (media plane,
// signaling, HTTP). cmd/cau, cmd/cau-load and end-to-end tests share it.
package app

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cau-bridge/cau/agenda"
	"github.com/cau-bridge/cau/registry"
	"github.com/cau-bridge/cau/sfu"
	"github.com/cau-bridge/cau/signaling"
	"github.com/cau-bridge/cau/storage"
	"github.com/cau-bridge/cau/storage/objstore"
	"github.com/cau-bridge/cau/web"
)

// Config is everything a server needs; cmd/cau fills it from flags.
type Config struct {
	HTTPAddr  string
	DataDir   string
	ICEIP     string // address the ICE ports bind to; empty for all
	UDPPort   int
	TCPPort   int
	PublicIPs []string
	// IncludeLoopback offers 127.0.0.1 ICE candidates.
	IncludeLoopback bool
	TLSCert         string
	TLSKey          string
	// TokenSecret signs meeting tokens. Empty reads (or creates)
	// <DataDir>/token.secret.
	TokenSecret string
	DevJoin     bool
	VideoCodec  string
	// DBPath is the SQLite metadata database. Default <DataDir>/cau.db.
	DBPath string
	// AdminPassword is the first IT admin's password, used only when no
	// account exists; empty makes a random one, written to
	// <DataDir>/admin.password.
	AdminPassword string
	// ObjectStore is where documents and manifests go: MinIO when Endpoint
	// is set, else local disk under <DataDir>/objects.
	ObjectStore objstore.Config
	// TrustedRoots is a folder of PEM root certificates for document
	// signatures; default <DataDir>/trusted-roots if it exists.
	TrustedRoots string
	// SealCert and SealKey (PEM) are the organisation seal; optional.
	SealCert, SealKey string
	// MaxUpload caps one document (default 200 MiB).
	MaxUpload int64
	// PresignTTL, when positive, offers presigned MinIO URLs.
	PresignTTL time.Duration
	// MetricsToken guards /metrics and /debug/stats (else loopback only).
	MetricsToken string
	// PprofAddr, if set, serves net/http/pprof there (profiling under load).
	PprofAddr string
	Logger    *slog.Logger
	// Signaling overrides signaling defaults (keepalive, limits) in tests.
	Signaling signaling.Config
}

// App is a running server.
type App struct {
	Tokens    *signaling.Tokens
	DB        *storage.DB
	Registry  *registry.Registry
	Agenda    *agenda.Service
	SFU       *sfu.SFU
	Signaling *signaling.Server

	cfg      Config
	log      *slog.Logger
	ln       net.Listener
	http     *http.Server
	handler  *web.Handler
	tls      bool
	served   chan error
	presence *presenceRecorder
	paper    *paperless
	pprof    *http.Server
}

// Start binds every port and serves until Shutdown.
func Start(cfg Config) (*App, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	secret, err := tokenSecret(cfg)
	if err != nil {
		return nil, err
	}
	tokens, err := signaling.NewTokens(secret)
	if err != nil {
		return nil, err
	}
	db, reg, err := openRegistry(cfg)
	if err != nil {
		return nil, err
	}
	paper, err := openPaperless(cfg, db)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	media, err := sfu.New(sfu.Config{
		ListenIP: cfg.ICEIP, UDPPort: cfg.UDPPort, TCPPort: cfg.TCPPort,
		PublicIPs: cfg.PublicIPs, IncludeLoopback: cfg.IncludeLoopback, Logger: cfg.Logger,
	})
	if err != nil {
		_ = paper.close()
		_ = db.Close()
		return nil, err
	}
	sc := cfg.Signaling
	sc.Media, sc.Tokens, sc.Logger = media, tokens, cfg.Logger
	presence := newPresenceRecorder(reg, cfg.Logger)
	sc.OnPresence = presence.note
	if sc.Meetings == nil { // tests may bring their own meetings
		sc.Meetings = registryMeetings{reg}
	}
	if cfg.VideoCodec != "" {
		sc.VideoCodec = cfg.VideoCodec
	}
	sig := signaling.NewServer(sc)
	h := web.New(web.Config{Signaling: sig, Tokens: tokens, DevJoin: cfg.DevJoin, Logger: cfg.Logger,
		Stats: func() any { return media.Totals() }, Registry: reg, Live: live{sig}, Agenda: paper.svc,
		Metrics: web.MetricsHandler(media, sig), EndMeeting: sig.EndMeeting,
		MetricsToken: cfg.MetricsToken})
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		_ = media.Close()
		_ = paper.close()
		_ = db.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	a := &App{
		DB: db, Registry: reg, presence: presence, paper: paper, Agenda: paper.svc,
		Tokens: tokens, SFU: media, Signaling: sig, cfg: cfg, log: cfg.Logger, ln: ln, handler: h,
		served: make(chan error, 1),
		http: &http.Server{
			Handler: h, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		},
	}
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			_ = ln.Close()
			_ = media.Close()
			_ = paper.close()
			_ = db.Close()
			return nil, fmt.Errorf("load TLS certificate: %w", err)
		}
		a.http.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		a.ln = tls.NewListener(ln, a.http.TLSConfig)
		a.tls = true
	}
	go func() { a.served <- a.http.Serve(a.ln) }()
	if cfg.PprofAddr != "" {
		pm := http.NewServeMux()
		pm.HandleFunc("/debug/pprof/", pprof.Index)
		pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
		pm.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		pm.HandleFunc("/debug/pprof/trace", pprof.Trace)
		ps := &http.Server{Addr: cfg.PprofAddr, Handler: pm, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = ps.ListenAndServe() }()
		a.pprof = ps
	}
	h.SetReady(true)
	cfg.Logger.Info("cau is serving", "url", a.URL(), "ice_udp", media.UDPAddr().String(),
		"ice_tcp", fmt.Sprint(media.TCPAddr()), "dev_join", cfg.DevJoin)
	if cfg.DevJoin {
		cfg.Logger.Warn("development join is on: anyone who reaches the page can join; turn it off with --dev-join=false")
	}
	return a, nil
}

// URL is the server's base URL, e.g. http://127.0.0.1:8080.
func (a *App) URL() string {
	scheme := "http"
	if a.tls {
		scheme = "https"
	}
	addr := a.ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "localhost"
	}
	return fmt.Sprintf("%s://%s", scheme, net.JoinHostPort(host, fmt.Sprint(addr.Port)))
}

// WSURL is the signaling WebSocket URL.
func (a *App) WSURL() string {
	return "ws" + strings.TrimPrefix(a.URL(), "http") + "/ws"
}

// Wait returns when the HTTP server stops by itself (an error) or ctx ends.
func (a *App) Wait(ctx context.Context) error {
	select {
	case err := <-a.served:
		return err
	case <-ctx.Done():
		return nil
	}
}

// Shutdown stops accepting, tells every client the server is going away and
// releases the media ports.
func (a *App) Shutdown(ctx context.Context) error {
	a.handler.SetReady(false)
	if a.pprof != nil {
		_ = a.pprof.Close()
	}
	errs := []error{a.http.Shutdown(ctx), a.Signaling.Close(ctx), a.SFU.Close()}
	a.presence.close()
	errs = append(errs, a.paper.close(), a.DB.Close())
	return errors.Join(errs...)
}

// openRegistry opens the metadata database and makes sure an IT admin
// account exists.
func openRegistry(cfg Config) (*storage.DB, *registry.Registry, error) {
	path := cfg.DBPath
	if path == "" {
		path = filepath.Join(cfg.DataDir, "cau.db")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := storage.Open(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	reg := registry.New(db)
	pw, generated := cfg.AdminPassword, false
	if pw == "" {
		pw, generated = hex.EncodeToString(randomBytes(12)), true
	}
	created, err := reg.EnsureAdmin(ctx, pw)
	if err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("create the first admin account: %w", err)
	}
	if created && generated {
		file := filepath.Join(cfg.DataDir, "admin.password")
		if err := os.WriteFile(file, []byte(pw+"\n"), 0o600); err != nil {
			_ = db.Close()
			return nil, nil, fmt.Errorf("write %s: %w", file, err)
		}
		cfg.Logger.Warn("created the IT admin account \"admin\"; its password is in "+file, "file", file)
	}
	return db, reg, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func tokenSecret(cfg Config) ([]byte, error) {
	if cfg.TokenSecret != "" {
		return []byte(cfg.TokenSecret), nil
	}
	return LoadOrCreateSecret(cfg.DataDir)
}

// LoadOrCreateSecret returns the token secret kept in dataDir, creating a
// random one on first use, so `cau token` and the server agree.
func LoadOrCreateSecret(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, "token.secret")
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < 32 {
			return nil, fmt.Errorf("token secret in %s is too short", path)
		}
		return []byte(s), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read token secret: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	s := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write token secret: %w", err)
	}
	return []byte(s), nil
}
