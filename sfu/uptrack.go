package sfu

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// UpTrack is one track a publisher sends to the server. Its reader goroutine
// fans every packet out to the subscribers' down tracks.
type UpTrack struct {
	id       string
	peerID   string
	kind     webrtc.RTPCodecType
	codec    webrtc.RTPCodecCapability
	ssrc     uint32
	keyframe func([]byte) bool // nil for audio

	// downs is replaced whole (copy on write) so the packet path reads it
	// with one atomic load and no lock.
	downs  atomic.Pointer[[]*downTrack]
	downMu sync.Mutex

	writeRTCP  func([]rtcp.Packet) error
	minKeyGap  int64
	lastKeyReq atomic.Int64
	keyReqs    atomic.Uint64
	keyPending atomic.Bool // a request is scheduled for the end of the window

	packets atomic.Uint64
	bytes   atomic.Uint64

	// out and extBuf are scratch space owned by the reader goroutine: the
	// rewritten header handed to each subscriber's writer.
	out    rtp.Header
	extBuf [4]rtp.Extension

	done     chan struct{}
	doneOnce sync.Once
}

func newUpTrack(peerID, id string, kind webrtc.RTPCodecType, codec webrtc.RTPCodecCapability, ssrc uint32,
	writeRTCP func([]rtcp.Packet) error, keyGap time.Duration,
) *UpTrack {
	u := &UpTrack{
		id: id, peerID: peerID, kind: kind, codec: codec, ssrc: ssrc,
		writeRTCP: writeRTCP, minKeyGap: int64(keyGap), done: make(chan struct{}),
	}
	switch {
	case strings.EqualFold(codec.MimeType, webrtc.MimeTypeVP8):
		u.keyframe = isVP8Keyframe
	case strings.EqualFold(codec.MimeType, webrtc.MimeTypeH264):
		u.keyframe = isH264Keyframe
	}
	empty := []*downTrack{}
	u.downs.Store(&empty)
	return u
}

// ID is the track's identifier, unique within its publisher.
func (u *UpTrack) ID() string { return u.id }

// PeerID identifies the publisher the track belongs to.
func (u *UpTrack) PeerID() string { return u.peerID }

// Kind is "audio" or "video".
func (u *UpTrack) Kind() string { return u.kind.String() }

// Codec is the track's MIME type, e.g. "video/VP8".
func (u *UpTrack) Codec() string { return u.codec.MimeType }

// Done is closed when the publisher stops sending the track.
func (u *UpTrack) Done() <-chan struct{} { return u.done }

// Stats returns the packets and bytes received so far and the keyframe
// requests sent to the publisher.
func (u *UpTrack) Stats() (packets, bytes, keyframeRequests uint64) {
	return u.packets.Load(), u.bytes.Load(), u.keyReqs.Load()
}

// RequestKeyframe asks the publisher for a keyframe. However many
// subscribers ask, at most one request goes out per interval; a request that
// falls inside the interval is sent once at its end, so no asker waits for
// the publisher's next periodic keyframe. It reports whether a request went
// out now.
func (u *UpTrack) RequestKeyframe() bool {
	if u.keyframe == nil {
		return false
	}
	now := time.Now().UnixNano()
	last := u.lastKeyReq.Load()
	if wait := u.minKeyGap - (now - last); wait > 0 {
		if u.keyPending.CompareAndSwap(false, true) {
			time.AfterFunc(time.Duration(wait), func() {
				u.keyPending.Store(false)
				u.RequestKeyframe()
			})
		}
		return false
	}
	if !u.lastKeyReq.CompareAndSwap(last, now) {
		return false
	}
	select {
	case <-u.done:
		return false
	default:
	}
	u.keyReqs.Add(1)
	_ = u.writeRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: u.ssrc}})
	return true
}

func (u *UpTrack) addDown(d *downTrack) {
	u.downMu.Lock()
	defer u.downMu.Unlock()
	old := *u.downs.Load()
	next := make([]*downTrack, len(old), len(old)+1)
	copy(next, old)
	next = append(next, d)
	u.downs.Store(&next)
}

func (u *UpTrack) removeDown(d *downTrack) {
	u.downMu.Lock()
	defer u.downMu.Unlock()
	old := *u.downs.Load()
	next := make([]*downTrack, 0, len(old))
	for _, x := range old {
		if x != d {
			next = append(next, x)
		}
	}
	u.downs.Store(&next)
}

// run reads the publisher's packets until the track ends.
func (u *UpTrack) run(read func([]byte) (int, error)) {
	defer u.end()
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		n, err := read(buf)
		if err != nil {
			return
		}
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		u.forward(&pkt, n)
	}
}

// forward is the per-packet path: no allocation, no lock but each
// subscriber's tiny rewriter mutex, no logging.
func (u *UpTrack) forward(pkt *rtp.Packet, size int) {
	u.packets.Add(1)
	u.bytes.Add(uint64(size))
	if len(pkt.Payload) == 0 {
		return // padding-only probe: not worth a subscriber's bandwidth
	}
	key := u.keyframe != nil && u.keyframe(pkt.Payload)
	for _, d := range *u.downs.Load() {
		b := d.binding.Load()
		if b == nil || !b.ready.Load() {
			continue
		}
		seq, ts, ok := d.rewrite(&pkt.Header, key)
		if !ok {
			continue
		}
		u.out = pkt.Header
		u.out.Padding = false
		u.out.Extension = false
		u.out.Extensions = u.extBuf[:0]
		u.out.SSRC = b.ssrc
		u.out.PayloadType = b.pt
		u.out.SequenceNumber = seq
		u.out.Timestamp = ts
		if _, err := b.w.WriteRTP(&u.out, pkt.Payload); err == nil {
			d.packets.Add(1)
		}
	}
}

func (u *UpTrack) end() {
	u.doneOnce.Do(func() { close(u.done) })
}
