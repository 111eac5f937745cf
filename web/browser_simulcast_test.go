package web_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cau-bridge/cau/internal/testutil"
)

// simStats is what one tab receives (inbound video on window.cau.sub) and
// sends (outbound simulcast encodings on window.cau.pub, by RID).
type simStats struct {
	State         string          `json:"state"`
	FramesDecoded int             `json:"framesDecoded"`
	FrameWidth    int             `json:"frameWidth"`
	SentWidth     map[string]int  `json:"sentWidth"`  // rid -> frameWidth being encoded
	SentActive    map[string]bool `json:"sentActive"` // rid -> encoding active
	Asked         map[string]bool `json:"asked"`      // rid -> active, as the last "layers" message asked
}

const simStatsJS = `(async () => {
  const out = {state: (window.cau && window.cau.state) || '', framesDecoded: 0, frameWidth: 0, sentWidth: {}, sentActive: {}, asked: {}};
  if (!window.cau) return out;
  for (const a of Object.values(window.cau.layers || {})) Object.assign(out.asked, a); // one video track

  if (window.cau.sub) {
    (await window.cau.sub.getStats()).forEach(r => {
      if (r.type !== 'inbound-rtp' || r.kind !== 'video') return;
      if ((r.framesDecoded || 0) >= out.framesDecoded) { out.framesDecoded = r.framesDecoded || 0; out.frameWidth = r.frameWidth || 0; }
    });
  }
  if (window.cau.pub) {
    (await window.cau.pub.getStats()).forEach(r => {
      if (r.type === 'outbound-rtp' && r.kind === 'video' && r.rid) out.sentWidth[r.rid] = r.frameWidth || 0;
    });
    for (const s of window.cau.pub.getSenders()) {
      if (!s.track || s.track.kind !== 'video') continue;
      for (const e of s.getParameters().encodings || []) if (e.rid) out.sentActive[e.rid] = e.active;
    }
  }
  return out;
})()`

func tabSimStats(ctx context.Context) (simStats, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[simStats](simStatsJS, chromedp.EvalAwaitPromise))
}

// TestBrowserSimulcastQuality: two Chromium tabs publish their camera as
// simulcast (l, m, h). Tab A asks for every remote video at low quality, tab
// B at high: A must receive B's lowest layer, B a large layer of A's, so A's
// picture is strictly narrower than B's.
func TestBrowserSimulcastQuality(t *testing.T) {
	a := testutil.StartServer(t, nil)
	browser := testutil.Browser(t)
	tabA, tabB := browser, testutil.NewTab(t, browser)
	for _, tab := range []struct {
		ctx           context.Context
		name, quality string
	}{{tabA, "A", "low"}, {tabB, "B", "high"}} {
		url := fmt.Sprintf("%s/?name=%s&meeting=sim&autojoin=1&quality=%s", a.URL(), tab.name, tab.quality)
		if err := chromedp.Do(tab.ctx, chromedp.Navigate(url)); err != nil {
			t.Fatalf("tab %s: open %s: %v", tab.name, url, err)
		}
	}

	deadline := time.Now().Add(40 * time.Second)
	var sa, sb simStats
	for {
		var err error
		if sa, err = tabSimStats(tabA); err != nil {
			t.Fatalf("tab A: getStats: %v", err)
		}
		if sb, err = tabSimStats(tabB); err != nil {
			t.Fatalf("tab B: getStats: %v", err)
		}
		// A gets the l layer B encodes; B gets more than that from A.
		lowB := sb.SentWidth["l"]
		ok := sa.FramesDecoded > 30 && sb.FramesDecoded > 30 &&
			sa.FrameWidth > 0 && sa.FrameWidth <= 400 && sa.FrameWidth == lowB &&
			sb.FrameWidth >= 640 && sa.FrameWidth < sb.FrameWidth
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 40 s: A (asks low) receives %d px wide, %d frames decoded, state %q; B (asks high) receives %d px wide, %d frames decoded, state %q; B sends %v (active %v); A sends %v (active %v); want A <= 400 px and equal to B's l layer, B >= 640 px",
				sa.FrameWidth, sa.FramesDecoded, sa.State, sb.FrameWidth, sb.FramesDecoded, sb.State,
				sb.SentWidth, sb.SentActive, sa.SentWidth, sa.SentActive)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("A (low) receives %d px wide (%d frames); B (high) receives %d px wide (%d frames)",
		sa.FrameWidth, sa.FramesDecoded, sb.FrameWidth, sb.FramesDecoded)
	t.Logf("A sends %v (active %v); B sends %v (active %v)", sa.SentWidth, sa.SentActive, sb.SentWidth, sb.SentActive)

	// Dynacast: nobody watches B above its l layer, so the server asks B
	// (a "layers" message, after 2 s unneeded) to pause m, and h too if B's h
	// reached the server (Chromium adds layers as its send-side estimate
	// grows), and the page turns those encodings off. What A is asked
	// depends on the layer B's congestion control picks; whatever it is, A's
	// page applies it, and A keeps getting video.
	framesA := sa.FramesDecoded
	deadline = time.Now().Add(15 * time.Second)
	for {
		var err error
		if sa, err = tabSimStats(tabA); err != nil {
			t.Fatalf("tab A: getStats: %v", err)
		}
		if sb, err = tabSimStats(tabB); err != nil {
			t.Fatalf("tab B: getStats: %v", err)
		}
		applied := len(sb.Asked) > 0
		for rid, on := range sb.Asked {
			applied = applied && sb.SentActive[rid] == on
		}
		for rid, on := range sa.Asked {
			applied = applied && sa.SentActive[rid] == on
		}
		h, hNamed := sb.Asked["h"]
		if applied && sb.Asked["l"] && !sb.Asked["m"] && (!hNamed || !h) && sa.FramesDecoded > framesA+30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dynacast: B was asked %v and its encodings are active %v (want l on, m and h off, applied); A was asked %v, active %v (want applied); A decoded %d frames since, want > 30",
				sb.Asked, sb.SentActive, sa.Asked, sa.SentActive, sa.FramesDecoded-framesA)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("dynacast: B asked %v, active %v; A asked %v, active %v; A still receives %d px wide",
		sb.Asked, sb.SentActive, sa.Asked, sa.SentActive, sa.FrameWidth)

	// No request was refused (an error frame shows in the status line).
	const statusJS = `(() => { const s = document.getElementById('status'); return s.classList.contains('error') ? s.textContent : ''; })()`
	for _, tab := range []struct {
		ctx  context.Context
		name string
	}{{tabA, "A"}, {tabB, "B"}} {
		msg, err := chromedp.Run(tab.ctx, chromedp.Evaluate[string](statusJS))
		if err != nil {
			t.Fatalf("tab %s: status: %v", tab.name, err)
		}
		if msg != "" {
			t.Errorf("tab %s shows an error: %s", tab.name, msg)
		}
		// The fake microphone beeps; log what the speaker detector made of it.
		sp, err := chromedp.Run(tab.ctx, chromedp.Evaluate[string](
			`JSON.stringify({speaker: window.cau.speaker, highlighted: document.querySelectorAll('.tile.speaking').length})`))
		if err == nil {
			t.Logf("tab %s: %s", tab.name, sp)
		}
	}
}
