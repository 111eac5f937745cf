package sfu

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

func TestKeyframeRequestsAreThrottledPerPublisher(t *testing.T) {
	var mu sync.Mutex
	var sent []rtcp.Packet
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(sent) }
	up := newUpTrack("pub", "cam", webrtc.RTPCodecTypeVideo,
		webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
		func(p []rtcp.Packet) error { mu.Lock(); sent = append(sent, p...); mu.Unlock(); return nil }, 100*time.Millisecond)
	up.addLayer(0, "", 42)
	for i := 0; i < 10; i++ { // ten subscribers asking at once
		up.RequestKeyframe()
	}
	if count() != 1 {
		t.Fatalf("%d requests reached the publisher, want 1", count())
	}
	mu.Lock()
	first := sent[0]
	mu.Unlock()
	if pli, ok := first.(*rtcp.PictureLossIndication); !ok || pli.MediaSSRC != 42 {
		t.Fatalf("sent %#v, want a PLI for SSRC 42", first)
	}
	// The requests that fell inside the window are served once, at its end.
	time.Sleep(150 * time.Millisecond)
	if count() != 2 {
		t.Fatalf("after the interval the deferred request must go out once; sent %d", count())
	}
	time.Sleep(150 * time.Millisecond)
	if count() != 2 {
		t.Fatalf("deferred request sent more than once; sent %d", count())
	}
	audio := newUpTrack("pub", "mic", webrtc.RTPCodecTypeAudio,
		webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000},
		func(p []rtcp.Packet) error { t.Fatal("audio never needs a keyframe"); return nil }, 0)
	audio.addLayer(0, "", 43)
	audio.RequestKeyframe()
}

func TestForwardSkipsUnboundAndStartsOnKeyframe(t *testing.T) {
	l, w := benchUpTrack(t, 2)
	up := l.up
	unbound := newDownTrack(up, &atomic.Bool{})
	up.addDown(unbound) // negotiated but not bound yet
	var pkt = mustUnmarshal(t, vp8Packet(1, 0, false))
	l.forward(&pkt, 100)
	if w.n != 0 {
		t.Fatalf("a delta frame before any keyframe was forwarded %d times", w.n)
	}
	pkt = mustUnmarshal(t, vp8Packet(2, 3000, true))
	l.forward(&pkt, 100)
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
