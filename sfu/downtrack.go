package sfu

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// rtpWriter is where a down track's packets go: pion's track writer in
// production, a counter in benchmarks.
type rtpWriter interface {
	WriteRTP(header *rtp.Header, payload []byte) (int, error)
}

// binding is what the packet path needs once the subscriber's connection has
// negotiated the track.
type binding struct {
	ssrc  uint32
	pt    uint8
	w     rtpWriter
	ready *atomic.Bool // the subscriber's transport is up
}

// downTrack is one subscriber's copy of an UpTrack. It implements
// webrtc.TrackLocal so pion negotiates it like any local track.
type downTrack struct {
	src      *UpTrack
	id       string
	streamID string
	ready    *atomic.Bool // shared with the subscriber's connection

	binding atomic.Pointer[binding]
	packets atomic.Uint64

	mu sync.Mutex // guards rw; held for arithmetic only, never across I/O
	rw rewriter
}

func newDownTrack(src *UpTrack, ready *atomic.Bool) *downTrack {
	video := src.kind == webrtc.RTPCodecTypeVideo
	return &downTrack{
		src:      src,
		ready:    ready,
		id:       src.peerID + ":" + src.id,
		streamID: src.peerID,
		rw:       newRewriter(video, src.codec.ClockRate),
	}
}

func (d *downTrack) rewrite(h *rtp.Header, keyframe bool) (uint16, uint32, bool) {
	d.mu.Lock()
	seq, ts, ok := d.rw.rewrite(h.SSRC, h.SequenceNumber, h.Timestamp, keyframe)
	d.mu.Unlock()
	return seq, ts, ok
}

// Bind implements webrtc.TrackLocal.
func (d *downTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, d.src.codec.MimeType) {
			d.binding.Store(&binding{ssrc: uint32(ctx.SSRC()), pt: uint8(c.PayloadType), w: ctx.WriteStream(), ready: d.ready})
			d.src.RequestKeyframe()
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, fmt.Errorf("sfu: subscriber cannot receive %s: %w",
		d.src.codec.MimeType, webrtc.ErrUnsupportedCodec)
}

// Unbind implements webrtc.TrackLocal.
func (d *downTrack) Unbind(webrtc.TrackLocalContext) error {
	d.binding.Store(nil)
	return nil
}

// ID implements webrtc.TrackLocal.
func (d *downTrack) ID() string { return d.id }

// RID implements webrtc.TrackLocal.
func (d *downTrack) RID() string { return "" }

// StreamID implements webrtc.TrackLocal: the publisher's peer ID, so a
// client groups a publisher's audio and video in one MediaStream.
func (d *downTrack) StreamID() string { return d.streamID }

// Kind implements webrtc.TrackLocal.
func (d *downTrack) Kind() webrtc.RTPCodecType { return d.src.kind }

// readRTCP drains the subscriber's RTCP for this track (which also feeds the
// interceptors) and passes keyframe requests to the publisher, throttled there.
func (d *downTrack) readRTCP(sender *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		n, _, err := sender.Read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				d.src.RequestKeyframe()
			}
		}
	}
}
