// Package testutil starts real Cầu parts for tests: a server on loopback,
// tokens, and pion participants.
package testutil

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/cau-bridge/cau/internal/app"
)

// Logger returns a logger that writes to the test log when CAU_TEST_LOG is
// set, and discards otherwise.
func Logger(t testing.TB) *slog.Logger {
	t.Helper()
	if os.Getenv("CAU_TEST_LOG") == "" {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// StartServer runs a server on 127.0.0.1 with ephemeral ports and a
// temporary data dir; edit may adjust the config first. It stops at the end
// of the test.
func StartServer(t testing.TB, edit func(*app.Config)) *app.App {
	t.Helper()
	cfg := app.Config{
		HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), ICEIP: "127.0.0.1",
		UDPPort: 0, TCPPort: 0, IncludeLoopback: true, DevJoin: true, Logger: Logger(t),
	}
	if edit != nil {
		edit(&cfg)
	}
	a, err := app.Start(cfg)
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Logf("shutdown: %v", err)
		}
	})
	return a
}

// Token mints a one-hour token for id in meeting.
func Token(t testing.TB, a *app.App, id, meeting string) string {
	t.Helper()
	tok, err := a.Tokens.Mint(id, "Điểm cầu "+id, meeting, "operator", time.Hour)
	if err != nil {
		t.Fatalf("mint token: %v", err)
	}
	return tok
}
