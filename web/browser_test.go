package web_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cau-bridge/cau/internal/testutil"
)

type mediaStats struct {
	FramesDecoded int    `json:"framesDecoded"`
	AudioPackets  int    `json:"audioPackets"`
	FrameWidth    int    `json:"frameWidth"`
	State         string `json:"state"`
}

const statsJS = `(async () => {
  const out = {framesDecoded: 0, audioPackets: 0, frameWidth: 0, state: (window.cau && window.cau.state) || ''};
  if (!window.cau || !window.cau.sub) return out;
  const stats = await window.cau.sub.getStats();
  stats.forEach(r => {
    if (r.type !== 'inbound-rtp') return;
    if (r.kind === 'video') { out.framesDecoded = Math.max(out.framesDecoded, r.framesDecoded || 0); out.frameWidth = Math.max(out.frameWidth, r.frameWidth || 0); }
    if (r.kind === 'audio') out.audioPackets = Math.max(out.audioPackets, r.packetsReceived || 0);
  });
  return out;
})()`

func pageStats(ctx context.Context) (mediaStats, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[mediaStats](statsJS, chromedp.EvalAwaitPromise))
}

// TestTwoBrowsersSeeAndHearEachOther joins two headless Chromium tabs with
// fake camera and microphone through the embedded page.
func TestTwoBrowsersSeeAndHearEachOther(t *testing.T) {
	a := testutil.StartServer(t, nil)
	browser := testutil.Browser(t)
	tabs := []context.Context{browser, testutil.NewTab(t, browser)}
	for i, tab := range tabs {
		url := fmt.Sprintf("%s/?name=Tab%%20%d&meeting=browser&autojoin=1", a.URL(), i)
		if err := chromedp.Do(tab, chromedp.Navigate(url)); err != nil {
			t.Fatalf("tab %d: open %s: %v", i, url, err)
		}
	}
	deadline := time.Now().Add(45 * time.Second)
	for i, tab := range tabs {
		var last mediaStats
		for {
			s, err := pageStats(tab)
			if err != nil {
				t.Fatalf("tab %d: getStats: %v", i, err)
			}
			last = s
			if s.FramesDecoded > 30 && s.AudioPackets > 50 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("tab %d: only %d video frames decoded and %d audio packets received (state %q)",
					i, s.FramesDecoded, s.AudioPackets, s.State)
			}
			time.Sleep(250 * time.Millisecond)
		}
		t.Logf("tab %d: %d frames decoded (%d px wide), %d audio packets", i, last.FramesDecoded, last.FrameWidth, last.AudioPackets)
	}
	if n := len(a.Signaling.RoomPeers("browser")); n != 2 {
		t.Errorf("room has %d peers, want 2", n)
	}
}
