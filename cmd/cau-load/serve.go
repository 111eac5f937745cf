package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/cau-bridge/cau/internal/app"
)

// secretEnv passes the token secret to the child server, adminEnv the IT
// admin's password (also --admin-password's default, with --url).
const (
	secretEnv = "CAU_LOAD_SECRET"
	adminEnv  = "CAU_LOAD_ADMIN_PASSWORD"
)

// serveChild runs a server on loopback for the parent cau-load, prints its
// URL on stdout, and stops when stdin closes.
func serveChild(args []string) error {
	fs := flag.NewFlagSet("cau-load serve", flag.ContinueOnError)
	codec := fs.String("codec", "vp8", "vp8 or h264")
	pprofAddr := fs.String("pprof", "", "pprof address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "cau-load-server-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	level := slog.LevelWarn
	if v := os.Getenv("CAU_LOAD_SERVER_LOG"); v != "" {
		_ = level.UnmarshalText([]byte(v))
	}
	a, err := startServer(dir, os.Getenv(secretEnv), os.Getenv(adminEnv), *codec, *pprofAddr,
		slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	if err != nil {
		return err
	}
	fmt.Println(a.URL())
	_, _ = io.Copy(io.Discard, os.Stdin) // the parent closes stdin to stop us
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return a.Shutdown(ctx)
}

func startServer(dir, secret, adminPassword, codec, pprofAddr string, log *slog.Logger) (*app.App, error) {
	mime := "video/VP8"
	if codec == "h264" {
		mime = "video/H264"
	}
	return app.Start(app.Config{
		HTTPAddr: "127.0.0.1:0", DataDir: dir, ICEIP: "127.0.0.1", UDPPort: 0, TCPPort: 0,
		IncludeLoopback: true, TokenSecret: secret, AdminPassword: adminPassword, VideoCodec: mime, PprofAddr: pprofAddr, Logger: log,
	})
}
