package sfu

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	ssrc    uint32
	pt      uint8
	rtxSSRC uint32 // 0 when the subscriber did not negotiate RTX
	rtxPT   uint8
	w       rtpWriter
	ready   *atomic.Bool // the subscriber's transport is up
}

// downTrack is one subscriber's copy of an UpTrack. It implements
// webrtc.TrackLocal so pion negotiates it like any local track.
type downTrack struct {
	src      *UpTrack
	id       string
	streamID string
	video    bool
	ready    *atomic.Bool // shared with the subscriber's connection

	binding       atomic.Pointer[binding]
	packets       atomic.Uint64
	bytes         atomic.Uint64
	retransmitted atomic.Uint64
	rr            reportStats // the subscriber's last receiver report (quality.go)

	// target is the layer to forward (-1: none), chosen off the packet path
	// by the subscriber's allocator; it is written under mu and read
	// anywhere.
	target atomic.Int32

	mu      sync.Mutex // held for arithmetic only, never across I/O
	current int        // layer being forwarded, -1 none
	rw      rewriter
	history sendHistory // video: what went out under each sequence number
	gaps    egressGaps  // sequence numbers skipped in what went out (quality.go)

	// Subscription settings, guarded by the subscriber's lock.
	quality  Quality
	priority int
	// lastDown is when the allocator last lowered the target; only the
	// allocator goroutine touches it.
	lastDown time.Time
}

func newDownTrack(src *UpTrack, ready *atomic.Bool) *downTrack {
	video := src.kind == webrtc.RTPCodecTypeVideo
	d := &downTrack{
		src:      src,
		id:       src.peerID + ":" + src.id,
		streamID: src.peerID,
		video:    video,
		ready:    ready,
		current:  -1,
		rw:       newRewriter(video, src.codec.ClockRate),
		quality:  QualityHigh,
	}
	d.target.Store(0)
	return d
}

// admit decides whether a packet of layer l goes to this subscriber and
// where it lands in the subscriber's stream. A layer switch happens only on
// a keyframe of the target layer; until then the current layer keeps
// flowing, so the picture never freezes or breaks.
func (d *downTrack) admit(l *layer, h *rtp.Header, keyframe bool, vp8 *vp8Desc) (rewritten, bool) {
	d.mu.Lock()
	target := int(d.target.Load())
	if target < 0 {
		if d.current >= 0 {
			d.current = -1
			d.rw.pause()
		}
		d.mu.Unlock()
		return rewritten{}, false
	}
	if l.idx != d.current {
		if l.idx != target || (d.video && !keyframe) {
			d.mu.Unlock()
			return rewritten{}, false
		}
		d.current = l.idx
	}
	out, ok := d.rw.rewrite(h.SSRC, h.SequenceNumber, h.Timestamp, keyframe, vp8)
	if ok {
		d.gaps.note(out.seq)
		if d.video {
			d.history.record(out.seq, l, h.SequenceNumber, out)
		}
	}
	d.mu.Unlock()
	return out, ok
}

// setTarget chooses the layer to forward (-1 pauses the track) and asks the
// publisher for a keyframe of a new target.
func (d *downTrack) setTarget(t int) {
	d.mu.Lock()
	changed := int(d.target.Load()) != t
	d.target.Store(int32(t))
	cur := d.current
	if t < 0 && d.current >= 0 {
		d.current = -1
		d.rw.pause()
	}
	d.mu.Unlock()
	if changed && t >= 0 && t != cur {
		if l := d.src.layer(t); l != nil {
			l.requestKeyframe()
		}
	}
	if changed {
		d.src.dyn.poke()
	}
}

// currentLayer is the layer being forwarded, -1 none.
func (d *downTrack) currentLayer() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.current
}

// Bind implements webrtc.TrackLocal.
func (d *downTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, d.src.codec.MimeType) {
			b := &binding{ssrc: uint32(ctx.SSRC()), pt: uint8(c.PayloadType), w: ctx.WriteStream(), ready: d.ready}
			for _, r := range ctx.CodecParameters() {
				if strings.EqualFold(r.MimeType, webrtc.MimeTypeRTX) &&
					strings.Contains(r.SDPFmtpLine, fmt.Sprintf("apt=%d", c.PayloadType)) && ctx.SSRCRetransmission() != 0 {
					b.rtxSSRC, b.rtxPT = uint32(ctx.SSRCRetransmission()), uint8(r.PayloadType)
				}
			}
			d.binding.Store(b)
			d.requestKeyframe()
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, fmt.Errorf("sfu: subscriber cannot receive %s: %w",
		d.src.codec.MimeType, webrtc.ErrUnsupportedCodec)
}

// requestKeyframe asks for a keyframe of the layer this subscriber needs.
func (d *downTrack) requestKeyframe() {
	t := int(d.target.Load())
	if c := d.currentLayer(); c >= 0 {
		t = c
	}
	if l := d.src.layer(t); l != nil {
		l.requestKeyframe()
	}
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
// interceptors), passes keyframe requests to the publisher (throttled there)
// and hands receiver estimates (REMB) to onREMB.
func (d *downTrack) readRTCP(sender *webrtc.RTPSender, onREMB func(bps float32)) {
	buf := make([]byte, 1500)
	var r *retransmitter
	if d.video {
		r = &retransmitter{}
	}
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
			switch p := p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				d.requestKeyframe()
			case *rtcp.ReceiverEstimatedMaximumBitrate:
				if onREMB != nil {
					onREMB(p.Bitrate)
				}
			case *rtcp.TransportLayerNack:
				d.src.totals.nacksIn.Add(nackCount(p))
				if r != nil {
					d.resend(p, r)
				}
			case *rtcp.ReceiverReport:
				d.onReports(p.Reports, time.Now())
			case *rtcp.SenderReport:
				d.onReports(p.Reports, time.Now())
			}
		}
	}
}
