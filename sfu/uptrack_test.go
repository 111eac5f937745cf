package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

func TestKeyframeRequestsAreThrottledPerPublisher(t *testing.T) {
	var sent []rtcp.Packet
	up := newUpTrack("pub", "cam", webrtc.RTPCodecTypeVideo,
		webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, 42,
		func(p []rtcp.Packet) error { sent = append(sent, p...); return nil }, 100*time.Millisecond)
	for i := 0; i < 10; i++ { // ten subscribers asking at once
		up.RequestKeyframe()
	}
	if len(sent) != 1 {
		t.Fatalf("%d requests reached the publisher, want 1", len(sent))
	}
	if pli, ok := sent[0].(*rtcp.PictureLossIndication); !ok || pli.MediaSSRC != 42 {
		t.Fatalf("sent %#v, want a PLI for SSRC 42", sent[0])
	}
	time.Sleep(150 * time.Millisecond)
	if !up.RequestKeyframe() || len(sent) != 2 {
		t.Fatalf("after the interval a new request must go out; sent %d", len(sent))
	}
	audio := newUpTrack("pub", "mic", webrtc.RTPCodecTypeAudio,
		webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000}, 43,
		func(p []rtcp.Packet) error { t.Fatal("audio never needs a keyframe"); return nil }, 0)
	audio.RequestKeyframe()
}

func TestForwardSkipsUnboundAndStartsOnKeyframe(t *testing.T) {
	up, w := benchUpTrack(t, 2)
	unbound := newDownTrack(up)
	up.addDown(unbound) // negotiated but not bound yet
	var pkt = mustUnmarshal(t, vp8Packet(1, 0, false))
	up.forward(&pkt, 100)
	if w.n != 0 {
		t.Fatalf("a delta frame before any keyframe was forwarded %d times", w.n)
	}
	pkt = mustUnmarshal(t, vp8Packet(2, 3000, true))
	up.forward(&pkt, 100)
	if w.n != 2 {
		t.Fatalf("keyframe forwarded %d times, want 2 (bound subscribers only)", w.n)
	}
	up.removeDown(unbound)
	if got := len(*up.downs.Load()); got != 2 {
		t.Fatalf("%d down tracks after removal, want 2", got)
	}
}

// TestForwardDoesNotAllocate guards the per-packet path: fanning a packet out
// to 200 subscribers, keyframe detection and rewriting included, must not
// allocate.
func TestForwardDoesNotAllocate(t *testing.T) {
	up, _ := benchUpTrack(t, 200)
	key := mustUnmarshal(t, vp8Packet(0, 0, true))
	up.forward(&key, 1200)
	delta := mustUnmarshal(t, vp8Packet(1, 3000, false))
	seq := uint16(1)
	allocs := testing.AllocsPerRun(200, func() {
		seq++
		delta.SequenceNumber = seq
		up.forward(&delta, 1200)
	})
	if allocs != 0 {
		t.Fatalf("forwarding one packet to 200 subscribers made %.1f allocations, want 0", allocs)
	}
}
