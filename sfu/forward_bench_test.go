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
			b.ReportAllocs()
			b.ResetTimer()
			seq := uint16(0)
			for i := 0; i < b.N; i++ {
				raw := raws[i%len(raws)]
				if err := pkt.Unmarshal(raw); err != nil {
					b.Fatal(err)
				}
				pkt.SequenceNumber = seq // keep the stream continuous across loops
				seq++
				up.forward(&pkt, len(raw))
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
