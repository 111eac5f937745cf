package sfu

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// countingWriter stands in for the socket: BenchmarkForward measures the
// forwarding work, not the kernel.
type countingWriter struct{ n int }

func (w *countingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.n++
	return len(payload), nil
}

func benchUpTrack(b testing.TB, subscribers int) (*layer, *countingWriter) {
	b.Helper()
	codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	up := newUpTrack("pub", "video", webrtc.RTPCodecTypeVideo, codec,
		func([]rtcp.Packet) error { return nil }, time.Second)
	l := up.addLayer(0, "", 1111)
	w := &countingWriter{}
	ready := &atomic.Bool{}
	ready.Store(true)
	for i := 0; i < subscribers; i++ {
		d := newDownTrack(up, ready)
		d.binding.Store(&binding{ssrc: uint32(5000 + i), pt: ptVP8, w: w, ready: ready})
		up.addDown(d)
	}
	return l, w
}

// vp8Packet is a marshalled VP8 RTP packet with a picture ID, audio-level
// style extension and a 1,100-byte payload, like a camera's.
func vp8Packet(seq uint16, ts uint32, key bool) []byte {
	payload := make([]byte, 1100)
	payload[0] = 0x90 // X, S, PID 0
	payload[1] = 0x80 // I
	payload[2] = 0x80 | byte(seq>>8&0x7f)
	payload[3] = byte(seq)
	if !key {
		payload[4] = 0x01
	}
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, SSRC: 1111}, Payload: payload}
	_ = p.SetExtension(3, []byte{0x01, 0x02, 0x03})
	raw, err := p.Marshal()
	if err != nil {
		panic(err)
	}
	return raw
}

// BenchmarkForward measures one incoming RTP packet fanned out to N
// subscribers, socket writes excluded. Run: go test ./sfu -bench Forward -benchmem
func BenchmarkForward(b *testing.B) {
	for _, n := range []int{1, 10, 200} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			up, w := benchUpTrack(b, n)
			raws := make([][]byte, 64)
			for i := range raws {
				raws[i] = vp8Packet(uint16(i), uint32(i/4)*3000, i == 0)
			}
			var pkt rtp.Packet
			// Warm up: the layer's retransmission cache takes its slab on the
			// first packet, once.
			_ = pkt.Unmarshal(raws[0])
			up.forward(&pkt, raws[0])
			w.n = 0
			b.ReportAllocs()
			b.ResetTimer()
			seq := uint16(1)
			for i := 0; i < b.N; i++ {
				raw := raws[i%len(raws)]
				if err := pkt.Unmarshal(raw); err != nil {
					b.Fatal(err)
				}
				pkt.SequenceNumber = seq // keep the stream continuous across loops
				seq++
				up.forward(&pkt, raw)
			}
			b.StopTimer()
			if want := b.N * n; w.n != want {
				b.Fatalf("forwarded %d packets, want %d", w.n, want)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/fwd-pkt")
		})
	}
}

func mustUnmarshal(t testing.TB, raw []byte) rtp.Packet {
	t.Helper()
	var p rtp.Packet
	if err := p.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	return p
}

// vp8LayerPacket is a packet of simulcast layer idx: each layer has its own
// SSRC, sequence numbers, timestamps and picture IDs, as an encoder sends.
func vp8LayerPacket(idx int, n int, key bool) []byte {
	seq := uint16(1000*idx + n)
	raw := vp8Packet(seq, uint32(n/4)*3000+uint32(idx)*777, key)
	var p rtp.Packet
	_ = p.Unmarshal(raw)
	p.SSRC = uint32(2000 + idx)
	pic := uint16(300*idx+n/4) & 0x7fff
	p.Payload[2] = 0x80 | byte(pic>>8)
	p.Payload[3] = byte(pic)
	out, _ := p.Marshal()
	return out
}

// BenchmarkForwardSimulcast forwards a three-layer VP8 track to 200
// subscribers, half on the low layer and half on the high one, swapping
// halves every 600 packets: layer switches on keyframes with SSRC,
// sequence, timestamp and picture ID rewriting. ns/op is per incoming
// packet (of any layer), socket writes excluded.
func BenchmarkForwardSimulcast(b *testing.B) {
	codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	up := newUpTrack("pub", "video", webrtc.RTPCodecTypeVideo, codec, func([]rtcp.Packet) error { return nil }, time.Hour)
	var layers [3]*layer
	for i := range layers {
		layers[i] = up.addLayer(i, []string{"l", "m", "h"}[i], uint32(2000+i))
	}
	w := &countingWriter{}
	ready := &atomic.Bool{}
	ready.Store(true)
	var downs []*downTrack
	for i := 0; i < 200; i++ {
		d := newDownTrack(up, ready)
		d.binding.Store(&binding{ssrc: uint32(5000 + i), pt: ptVP8, w: w, ready: ready})
		d.target.Store(int32(2 * (i % 2)))
		up.addDown(d)
		downs = append(downs, d)
	}
	const loop = 120 // packets per layer in the pattern; keyframe every 30
	var raws [3][loop][]byte
	for i := range raws {
		for n := range raws[i] {
			raws[i][n] = vp8LayerPacket(i, n, n%30 == 0)
		}
	}
	var pkt rtp.Packet
	var seq [3]uint16
	for i := range layers { // warm up each layer's retransmission cache
		_ = pkt.Unmarshal(raws[i][0])
		layers[i].forward(&pkt, raws[i][0])
		seq[i] = 1
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 && i%600 == 0 {
			for j, d := range downs { // swap halves, off the packet path
				d.target.Store(int32(2 * ((j + i/600) % 2)))
			}
		}
		idx := i % 3
		n := (i / 3) % loop
		if err := pkt.Unmarshal(raws[idx][n]); err != nil {
			b.Fatal(err)
		}
		pkt.SequenceNumber = seq[idx]
		seq[idx]++
		layers[idx].forward(&pkt, raws[idx][n])
	}
	b.StopTimer()
	if w.n == 0 {
		b.Fatal("nothing forwarded")
	}
	var switches uint32
	for _, d := range downs {
		switches += d.rw.switches
	}
	if b.N > 2000 && switches == 0 {
		b.Fatal("no layer switch happened")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(w.n), "ns/fwd-pkt")
	b.ReportMetric(float64(switches)/float64(len(downs)), "switches/sub")
}
