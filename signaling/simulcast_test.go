package signaling_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cau-bridge/cau/internal/app"
	"github.com/cau-bridge/cau/internal/netem"
	"github.com/cau-bridge/cau/internal/testutil"
	"github.com/cau-bridge/cau/sfu"
	"github.com/cau-bridge/cau/signaling"
)

func askQuality(t *testing.T, p *testutil.Participant, track, q string) time.Time {
	t.Helper()
	at := time.Now()
	if err := p.Send(signaling.TypeQuality, signaling.QualityData{Track: track, Quality: q}); err != nil {
		t.Fatal(err)
	}
	return at
}

// videoState is what the server forwards of a subscriber's (first) video
// track; Current is -2 when there is none.
func videoState(a *app.App, meeting, peer string) sfu.TrackState {
	for _, tr := range a.Signaling.SubscriberTracks(meeting, peer) {
		if tr.Kind == "video" {
			return tr
		}
	}
	return sfu.TrackState{Current: -2}
}

// TestSimulcastLayerSwitching: a subscriber asking for low, then high, then
// low gets that layer each time (told apart by picture size), starting on a
// keyframe, with no gap in sequence numbers or VP8 picture IDs.
func TestSimulcastLayerSwitching(t *testing.T) {
	a := testutil.StartServer(t, nil)
	pub := testutil.Join(t, a, "pub", "sim")
	pub.PublishSimulcast(t)
	sub := testutil.Join(t, a, "sub", "sim")
	testutil.Eventually(t, 15*time.Second, "video", func() bool {
		r := sub.Track("pub", "video")
		return r != nil && r.Width() > 0
	})
	r := sub.Track("pub", "video")
	track := "pub:camera"
	for _, step := range []struct {
		quality string
		width   int
	}{{"low", 320}, {"high", 1280}, {"low", 320}, {"medium", 640}} {
		at := askQuality(t, sub, track, step.quality)
		testutil.Eventually(t, 5*time.Second, "a "+step.quality+" keyframe", func() bool {
			return r.KeyframeSince(at, testutil.WidthIs(step.width))
		})
		// Stay a moment so packets of the new layer flow after the switch.
		n := r.Count()
		testutil.Eventually(t, 3*time.Second, "media after the switch", func() bool { return r.Count() > n+20 })
	}
	testutil.Eventually(t, 3*time.Second, "no sequence gap", func() bool { return r.Missing() == 0 })
	if j := r.PictureIDJumps(); j != 0 {
		t.Errorf("%d jumps in VP8 picture IDs across layer switches", j)
	}
	if !r.StartedOnKeyframe() {
		t.Error("video did not start on a keyframe")
	}
	// Unknown track and bad quality are refused with a clear code.
	if err := sub.Send(signaling.TypeQuality, signaling.QualityData{Track: "nobody:camera", Quality: "low"}); err != nil {
		t.Fatal(err)
	}
	if e := nextError(t, sub); e.Code != signaling.CodeUnknownTrack {
		t.Errorf("unknown track: code %q", e.Code)
	}
	if err := sub.Send(signaling.TypeQuality, signaling.QualityData{Track: track, Quality: "ultra"}); err != nil {
		t.Fatal(err)
	}
	if e := nextError(t, sub); e.Code != signaling.CodeBadMessage {
		t.Errorf("bad quality: code %q", e.Code)
	}
}

// TestCongestionMovesSubscriberDownAndUp: a subscriber whose downlink is
// capped below the high layer is moved down within 5 s, and back up within
// 15 s once the cap is lifted.
func TestCongestionMovesSubscriberDownAndUp(t *testing.T) {
	a := testutil.StartServer(t, nil)
	pub := testutil.Join(t, a, "pub", "cc")
	pub.PublishSimulcast(t)
	th := netem.NewThrottle()
	sub := testutil.JoinWith(t, a, "weak", "cc", testutil.ThrottledAPI(t, th))
	testutil.Eventually(t, 20*time.Second, "the high layer", func() bool {
		r := sub.Track("pub", "video")
		return r != nil && r.Width() == 1280
	})
	r := sub.Track("pub", "video")
	current := func() int { return videoState(a, "cc", "weak").Current }
	th.SetRate(800_000)
	capped := time.Now()
	testutil.Eventually(t, 5*time.Second, "the server to forward a lower layer", func() bool {
		c := current()
		return c >= 0 && c < 2
	})
	t.Logf("moved down after %v", time.Since(capped).Round(100*time.Millisecond))
	testutil.Eventually(t, 5*time.Second, "a lower-layer keyframe at the subscriber", func() bool {
		return r.KeyframeSince(capped, testutil.WidthBelow(1280))
	})
	time.Sleep(3 * time.Second) // short probes on the weak link must not stick
	if c := current(); c == 2 {
		t.Errorf("back on the high layer while the link is still capped")
	}
	th.SetRate(0)
	lifted := time.Now()
	testutil.Eventually(t, 15*time.Second, "the server to forward the high layer again", func() bool { return current() == 2 })
	t.Logf("back up after %v", time.Since(lifted).Round(100*time.Millisecond))
	testutil.Eventually(t, 5*time.Second, "a high keyframe at the subscriber", func() bool { return r.KeyframeSince(lifted, testutil.WidthIs(1280)) })
}

// TestDynacastPausesUnneededLayers: with nobody on the high layer, the
// publisher is told to pause it; when someone asks for it, it resumes and the
// subscriber gets a keyframe within 2 s.
func TestDynacastPausesUnneededLayers(t *testing.T) {
	a := testutil.StartServer(t, nil)
	pub := testutil.Join(t, a, "pub", "dyn")
	pub.PublishSimulcast(t)
	sub := testutil.Join(t, a, "sub", "dyn")
	testutil.Eventually(t, 15*time.Second, "video", func() bool {
		r := sub.Track("pub", "video")
		return r != nil && r.Width() > 0
	})
	r := sub.Track("pub", "video")
	askQuality(t, sub, "pub:camera", "low")
	testutil.Eventually(t, 6*time.Second, "high and medium paused at the publisher", func() bool {
		return pub.LayerPaused("h") && pub.LayerPaused("m") && !pub.LayerPaused("l")
	})
	at := askQuality(t, sub, "pub:camera", "high")
	testutil.Eventually(t, 2*time.Second, "a high keyframe after resuming", func() bool { return r.KeyframeSince(at, testutil.WidthIs(1280)) })
	if pub.LayerPaused("h") {
		t.Error("high layer still paused")
	}
}

// TestSpeakerDetectionAndLargeRoomAudio: the loudest publisher becomes the
// active speaker, a 200 ms burst does not steal the floor, and a room over
// the size limit forwards only the speakers' audio.
func TestSpeakerDetectionAndLargeRoomAudio(t *testing.T) {
	a := testutil.StartServer(t, func(c *app.Config) {
		c.Signaling.Policy = signaling.DefaultPolicy{LargeRoom: 3, SpeakerAudio: 1}
	})
	var pubs []*testutil.Participant
	for _, id := range []string{"a", "b", "c"} {
		p := testutil.Join(t, a, id, "spk")
		p.PublishSimulcast(t)
		pubs = append(pubs, p)
	}
	listener := testutil.Join(t, a, "listener", "spk")
	active := func() string {
		last := ""
		for {
			select {
			case env := <-listener.Events():
				if env.Type == signaling.TypeSpeaker {
					var d signaling.SpeakerData
					_ = json.Unmarshal(env.Data, &d)
					last = d.Active
				}
			default:
				return last
			}
		}
	}
	var current string
	waitActive := func(want string, within time.Duration) {
		t.Helper()
		testutil.Eventually(t, within, "active speaker "+want, func() bool {
			if a := active(); a != "" || current != "" {
				if a != "" {
					current = a
				}
			}
			return current == want
		})
	}
	pubs[0].Audio.SetLevel(30) // about -30 dBov: speech
	pubs[1].Audio.SetLevel(90) // background
	waitActive("a", 5*time.Second)
	// In a room over the limit only the speaker's audio is forwarded.
	testutil.Eventually(t, 5*time.Second, "a's audio only", func() bool {
		ra := listener.Track("a", "audio")
		return ra != nil && ra.Count() > 20 && listener.Track("b", "audio") == nil
	})
	// A 200 ms cough from b does not take the floor.
	pubs[1].Audio.SetLevel(5)
	time.Sleep(200 * time.Millisecond)
	pubs[1].Audio.SetLevel(90)
	time.Sleep(1500 * time.Millisecond)
	if got := active(); got != "" && got != "a" {
		t.Fatalf("a 200 ms burst made %q the active speaker", got)
	}
	// b speaking for real, a falling quiet, hands over the floor and the
	// audio.
	pubs[1].Audio.SetLevel(20)
	pubs[0].Audio.SetLevel(100)
	waitActive("b", 5*time.Second)
	testutil.Eventually(t, 5*time.Second, "b's audio forwarded", func() bool {
		rb := listener.Track("b", "audio")
		return rb != nil && rb.Count() > 20
	})
}

// TestLossyLinkRepairedByRetransmission: a subscriber losing 5% of what it
// receives gets every video packet in the end, through the SFU's own
// retransmissions from its per-track cache, on the RTX stream it negotiated.
func TestLossyLinkRepairedByRetransmission(t *testing.T) {
	a := testutil.StartServer(t, nil)
	pub := testutil.Join(t, a, "pub", "nack")
	pub.PublishSimulcast(t)
	th := netem.NewThrottle()
	sub := testutil.JoinWith(t, a, "lossy", "nack", testutil.ThrottledAPI(t, th))
	testutil.Eventually(t, 15*time.Second, "video", func() bool {
		r := sub.Track("pub", "video")
		return r != nil && r.Count() > 30
	})
	r := sub.Track("pub", "video")
	th.SetLoss(0.05)
	time.Sleep(4 * time.Second)
	th.SetLoss(0)
	_, dropped := th.Stats()
	if dropped == 0 {
		t.Fatal("the link lost nothing; the test proves nothing")
	}
	testutil.Eventually(t, 5*time.Second, "every lost video packet to be repaired", func() bool { return r.Missing() == 0 })
	video := videoState(a, "nack", "lossy")
	if video.Retransmitted == 0 || !video.RTX {
		t.Errorf("retransmitted %d packets, RTX %v; want some, on RTX", video.Retransmitted, video.RTX)
	}
	t.Logf("%d packets dropped on the link, %d retransmitted", dropped, video.Retransmitted)
}

// TestH264Simulcast: an H.264 meeting switches a subscriber between
// simulcast layers on keyframes, with no gap in sequence numbers.
func TestH264Simulcast(t *testing.T) {
	a := testutil.StartServer(t, func(c *app.Config) { c.VideoCodec = "video/H264" })
	pub := testutil.Join(t, a, "pub", "h264sim")
	pub.PublishSimulcastCodec(t, "video/H264")
	sub := testutil.Join(t, a, "sub", "h264sim")
	testutil.Eventually(t, 15*time.Second, "H.264 video", func() bool {
		r := sub.Track("pub", "video")
		return r != nil && r.Count() > 30
	})
	r := sub.Track("pub", "video")
	current := func() int { return videoState(a, "h264sim", "sub").Current }
	for _, step := range []struct {
		quality string
		layer   int
	}{{"low", 0}, {"high", 2}, {"medium", 1}} {
		at := askQuality(t, sub, "pub:camera", step.quality)
		testutil.Eventually(t, 5*time.Second, "the "+step.quality+" layer", func() bool { return current() == step.layer })
		testutil.Eventually(t, 3*time.Second, "a keyframe after the switch", func() bool { return r.KeyframeAfter(at) })
	}
	testutil.Eventually(t, 3*time.Second, "no sequence gap", func() bool { return r.Missing() == 0 })
}
