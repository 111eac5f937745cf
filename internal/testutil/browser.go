package testutil

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// chromiumPaths are where Debian and other distributions put Chromium.
var chromiumPaths = []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}

// Browser starts headless Chromium with fake camera and microphone and
// returns a context for its first tab. It fails (never skips) when Chromium
// is missing: the test command installs it.
func Browser(t testing.TB) context.Context {
	t.Helper()
	path := os.Getenv("CAU_CHROMIUM")
	if path == "" {
		for _, p := range chromiumPaths {
			if _, err := exec.LookPath(p); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		t.Fatalf("Chromium not found (looked in %v and $CAU_CHROMIUM); install it with: apt-get install chromium", chromiumPaths)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", "new"),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-features", "WebRtcHideLocalIpsWithMdns"),
	}
	// Chromium now and then fails to start on a busy machine ("chrome
	// failed to start"); a second attempt, with a fresh profile, succeeds.
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		opts[1] = chromedp.UserDataDir(t.TempDir())
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(allocCtx)
		if err = chromedp.Do(ctx); err == nil {
			t.Cleanup(func() { cancel(); cancelAlloc() })
			return ctx
		}
		cancel()
		cancelAlloc()
		t.Logf("start Chromium (attempt %d): %v", attempt+1, err)
	}
	t.Fatalf("start Chromium at %s: %v", path, err)
	return nil
}

// NewTab opens another tab in the same browser.
func NewTab(t testing.TB, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	return ctx
}
