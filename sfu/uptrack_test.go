package sfu

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
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
	raw := vp8Packet(1, 0, false)
	var pkt = mustUnmarshal(t, raw)
	l.forward(&pkt, raw)
	if w.n != 0 {
		t.Fatalf("a delta frame before any keyframe was forwarded %d times", w.n)
	}
	raw = vp8Packet(2, 3000, true)
	pkt = mustUnmarshal(t, raw)
	l.forward(&pkt, raw)
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
	keyRaw := vp8Packet(0, 0, true)
	key := mustUnmarshal(t, keyRaw)
	up.forward(&key, keyRaw)
	deltaRaw := vp8Packet(1, 3000, false)
	delta := mustUnmarshal(t, deltaRaw)
	seq := uint16(1)
	allocs := testing.AllocsPerRun(200, func() {
		seq++
		delta.SequenceNumber = seq
		up.forward(&delta, deltaRaw)
	})
	if allocs != 0 {
		t.Fatalf("forwarding one packet to 200 subscribers made %.1f allocations, want 0", allocs)
	}
}

// TestLayerSwitchRewritesWithoutAllocating switches a subscriber from the
// low to the high layer: the switch waits for a high keyframe, then the
// subscriber's sequence numbers and VP8 picture IDs continue without a jump,
// and the rewriting path does not allocate.
func TestLayerSwitchRewritesWithoutAllocating(t *testing.T) {
	codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	up := newUpTrack("pub", "video", webrtc.RTPCodecTypeVideo, codec, func([]rtcp.Packet) error { return nil }, time.Hour)
	low, high := up.addLayer(0, "l", 2000), up.addLayer(2, "h", 2002)
	rec := &recordingWriter{}
	ready := &atomic.Bool{}
	ready.Store(true)
	d := newDownTrack(up, ready)
	d.binding.Store(&binding{ssrc: 9, pt: ptVP8, w: rec, ready: ready})
	up.addDown(d)
	send := func(l *layer, n int, key bool) {
		raw := vp8LayerPacket(l.idx, n, key)
		p := mustUnmarshal(t, raw)
		l.forward(&p, raw)
	}
	send(low, 0, true)
	send(low, 1, false)
	d.target.Store(2)
	send(low, 2, false)  // still low: no high keyframe yet
	send(high, 5, false) // a high delta frame cannot start the switch
	send(high, 8, true)  // switch
	send(high, 9, false)
	send(low, 3, false) // low is no longer forwarded
	if len(rec.seqs) != 5 {
		t.Fatalf("forwarded %d packets, want 5", len(rec.seqs))
	}
	for i := 1; i < len(rec.seqs); i++ {
		if rec.seqs[i] != rec.seqs[i-1]+1 {
			t.Errorf("sequence jumps from %d to %d", rec.seqs[i-1], rec.seqs[i])
		}
		if dp := (rec.pics[i] - rec.pics[i-1]) & 0x7fff; dp > 1 {
			t.Errorf("picture ID jumps from %d to %d", rec.pics[i-1], rec.pics[i])
		}
		if rec.ssrcs[i] != 9 {
			t.Errorf("SSRC %d, want the subscriber's 9", rec.ssrcs[i])
		}
	}
	d.binding.Store(&binding{ssrc: 9, pt: ptVP8, w: &countingWriter{}, ready: ready})
	n := 10
	allocs := testing.AllocsPerRun(100, func() {
		raw := vp8LayerPacket(2, n, false)
		p := mustUnmarshal(t, raw)
		n++
		high.forward(&p, raw)
	})
	// mustUnmarshal and vp8LayerPacket allocate; forward must add nothing.
	base := testing.AllocsPerRun(100, func() { _ = mustUnmarshal(t, vp8LayerPacket(2, n, false)) })
	if allocs > base {
		t.Errorf("forwarding with rewriting allocates %.1f times per packet", allocs-base)
	}
}

type recordingWriter struct {
	seqs  []uint16
	pics  []uint16
	ssrcs []uint32
}

func (w *recordingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.seqs = append(w.seqs, h.SequenceNumber)
	pic, _ := VP8PictureID(payload)
	w.pics = append(w.pics, pic)
	w.ssrcs = append(w.ssrcs, h.SSRC)
	return len(payload), nil
}

func TestPassPacerForgetsRemovedStreams(t *testing.T) {
	p := newPassPacer()
	var got []string
	w := func(name string) interceptor.RTPWriter {
		return interceptor.RTPWriterFunc(func(*rtp.Header, []byte, interceptor.Attributes) (int, error) {
			got = append(got, name)
			return 0, nil
		})
	}
	p.AddStream(1, w("one"))
	p.AddStream(2, w("two"))
	_, _ = p.Write(&rtp.Header{SSRC: 1}, nil, nil)
	_, _ = p.Write(&rtp.Header{SSRC: 99}, nil, nil) // RTX: any live stream
	p.remove(2)
	_, _ = p.Write(&rtp.Header{SSRC: 99}, nil, nil)
	if len(*p.writers.Load()) != 1 {
		t.Errorf("%d streams after a removal, want 1", len(*p.writers.Load()))
	}
	if got[0] != "one" || got[2] != "one" {
		t.Errorf("writes went to %v; RTX after the removal must use the live stream", got)
	}
	p.remove(1)
	if _, err := p.Write(&rtp.Header{SSRC: 99}, nil, nil); err == nil {
		t.Error("a write with no stream left succeeded")
	}
}
