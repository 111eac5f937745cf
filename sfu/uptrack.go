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

// UpTrack is one track a publisher sends to the server, with up to three
// simulcast layers. Each layer has its own reader goroutine that fans its
// packets out to the subscribers' down tracks.
type UpTrack struct {
	id       string
	peerID   string
	kind     webrtc.RTPCodecType
	codec    webrtc.RTPCodecCapability
	keyframe func([]byte) bool // nil for audio
	vp8      bool

	mu     sync.Mutex
	layers [maxLayers]*layer
	rids   []string

	// downs is replaced whole (copy on write) so the packet path reads it
	// with one atomic load and no lock.
	downs  atomic.Pointer[[]*downTrack]
	downMu sync.Mutex

	writeRTCP func([]rtcp.Packet) error
	minKeyGap int64
	totals    *counters // the SFU's, never nil

	// Audio only: the RFC 6464 extension ID and the meter it feeds.
	levelExt uint8
	meter    LevelMeter

	dyn dynacast

	done     chan struct{}
	doneOnce sync.Once
}

// layer is one simulcast encoding (or the only encoding) of an UpTrack.
type layer struct {
	up   *UpTrack
	idx  int
	rid  string
	ssrc uint32

	packets atomic.Uint64
	bytes   atomic.Uint64
	// bitrate is the measured rate in bit/s, refreshed by sampleBitrates;
	// nominal remembers the last non-zero one for a paused layer.
	bitrate atomic.Int64
	nominal atomic.Int64

	lastKeyReq atomic.Int64
	keyPending atomic.Bool
	keyReqs    atomic.Uint64

	cache *packetCache // video only: answers subscribers' NACKs

	// Scratch space owned by the layer's reader goroutine: the rewritten
	// header and payload handed to each subscriber's writer.
	out     rtp.Header
	extBuf  [4]rtp.Extension
	scratch [1500]byte

	sampledBytes uint64
	sampledAt    time.Time

	// Owned by the reader goroutine: ingress sequence tracking.
	inStarted bool
	inHighest uint16
	// Sequence numbers skipped on arrival and packets that came late, for
	// the quality monitor (quality.go).
	inLost atomic.Uint64
	inLate atomic.Uint64
}

// defaultLayerRate is assumed for a layer not measured yet (bit/s).
var defaultLayerRate = [maxLayers]int64{150_000, 500_000, 1_500_000}

func newUpTrack(peerID, id string, kind webrtc.RTPCodecType, codec webrtc.RTPCodecCapability,
	writeRTCP func([]rtcp.Packet) error, keyGap time.Duration,
) *UpTrack {
	u := &UpTrack{
		id: id, peerID: peerID, kind: kind, codec: codec,
		writeRTCP: writeRTCP, minKeyGap: int64(keyGap), done: make(chan struct{}),
		totals: &counters{},
	}
	switch {
	case strings.EqualFold(codec.MimeType, webrtc.MimeTypeVP8):
		u.keyframe, u.vp8 = isVP8Keyframe, true
	case strings.EqualFold(codec.MimeType, webrtc.MimeTypeH264):
		u.keyframe = isH264Keyframe
	}
	empty := []*downTrack{}
	u.downs.Store(&empty)
	return u
}

// addLayer registers an encoding; it returns nil if that layer exists.
func (u *UpTrack) addLayer(idx int, rid string, ssrc uint32) *layer {
	u.mu.Lock()
	defer u.mu.Unlock()
	if idx < 0 || idx >= maxLayers || u.layers[idx] != nil {
		return nil
	}
	l := &layer{up: u, idx: idx, rid: rid, ssrc: ssrc, sampledAt: time.Now()}
	if u.kind == webrtc.RTPCodecTypeVideo {
		l.cache = &packetCache{}
	}
	l.nominal.Store(defaultLayerRate[idx])
	u.layers[idx] = l
	if rid != "" {
		u.rids = append(u.rids, rid)
	}
	return l
}

func (u *UpTrack) layer(idx int) *layer {
	if idx < 0 || idx >= maxLayers {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.layers[idx]
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

// Meter is the audio level meter fed from the track's RFC 6464 extension.
func (u *UpTrack) Meter() *LevelMeter { return &u.meter }

// LayerInfo describes one simulcast layer.
type LayerInfo struct {
	Index   int    // 0 lowest
	RID     string // "" without simulcast
	SSRC    uint32
	Bitrate int64 // measured, bit/s
	Packets uint64
	Active  bool // not paused by dynacast
	KeyReqs uint64
}

// Layers describes the track's layers, lowest first.
func (u *UpTrack) Layers() []LayerInfo {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []LayerInfo
	paused := u.dyn.paused.Load()
	for _, l := range u.layers {
		if l != nil {
			out = append(out, LayerInfo{Index: l.idx, RID: l.rid, SSRC: l.ssrc, Bitrate: l.bitrate.Load(),
				Packets: l.packets.Load(), Active: paused&(1<<l.idx) == 0, KeyReqs: l.keyReqs.Load()})
		}
	}
	return out
}

// RequestKeyframe asks for a keyframe on every layer.
func (u *UpTrack) RequestKeyframe() {
	for i := 0; i < maxLayers; i++ {
		if l := u.layer(i); l != nil {
			l.requestKeyframe()
		}
	}
}

// requestKeyframe asks the publisher for a keyframe on this layer. However
// many subscribers ask, at most one request goes out per interval; a request
// that falls inside the interval is sent once at its end, so no asker waits
// for the publisher's next periodic keyframe. It reports whether a request
// went out now.
func (l *layer) requestKeyframe() bool {
	u := l.up
	if u.keyframe == nil {
		return false
	}
	now := time.Now().UnixNano()
	last := l.lastKeyReq.Load()
	if wait := u.minKeyGap - (now - last); wait > 0 {
		if l.keyPending.CompareAndSwap(false, true) {
			time.AfterFunc(time.Duration(wait), func() {
				l.keyPending.Store(false)
				l.requestKeyframe()
			})
		}
		return false
	}
	if !l.lastKeyReq.CompareAndSwap(last, now) {
		return false
	}
	select {
	case <-u.done:
		return false
	default:
	}
	l.keyReqs.Add(1)
	_ = u.writeRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: l.ssrc}})
	return true
}

// sampleBitrates refreshes every layer's measured bitrate.
func (u *UpTrack) sampleBitrates(now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, l := range u.layers {
		if l == nil {
			continue
		}
		dt := now.Sub(l.sampledAt).Seconds()
		if dt < 0.2 {
			continue
		}
		b := l.bytes.Load()
		rate := int64(float64(b-l.sampledBytes) * 8 / dt)
		l.sampledBytes, l.sampledAt = b, now
		l.bitrate.Store(rate)
		if rate > 0 {
			l.nominal.Store(rate)
		}
	}
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

// run reads one layer's packets until the track ends.
func (l *layer) run(read func([]byte) (int, error)) {
	defer l.up.end()
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
		l.forward(&pkt, buf[:n])
	}
}

// forward is the per-packet path: no allocation, no lock but each
// subscriber's tiny selection mutex, no logging.
func (l *layer) forward(pkt *rtp.Packet, raw []byte) {
	u := l.up
	size := len(raw)
	n := l.packets.Add(1)
	l.bytes.Add(uint64(size))
	if !l.inStarted {
		l.inStarted, l.inHighest = true, pkt.SequenceNumber
	} else if d := int16(pkt.SequenceNumber - l.inHighest); d > 0 {
		if d > 1 {
			u.totals.ingressGaps.Add(uint64(d - 1))
			l.inLost.Add(uint64(d - 1))
		}
		l.inHighest = pkt.SequenceNumber
	} else {
		u.totals.ingressLate.Add(1)
		l.inLate.Add(1)
	}
	var start time.Time
	if n&delaySampleMask == 0 {
		start = time.Now()
	}
	var sent, sentBytes uint64
	defer func() {
		u.totals.received.Add(1)
		if sent > 0 {
			u.totals.forwarded.Add(sent)
			u.totals.fwdBytes.Add(sentBytes)
		}
		if !start.IsZero() && sent > 0 {
			u.totals.delay.observe(time.Since(start))
		}
	}()
	if len(pkt.Payload) == 0 {
		return // padding-only probe: not worth a subscriber's bandwidth
	}
	if l.cache != nil {
		l.cache.put(pkt.SequenceNumber, raw)
	}
	if u.levelExt != 0 {
		if ext := pkt.GetExtension(u.levelExt); len(ext) > 0 {
			u.meter.Observe(ext[0]&0x7f, ext[0]&0x80 != 0)
		}
	}
	key := u.keyframe != nil && u.keyframe(pkt.Payload)
	var desc *vp8Desc
	var d8 vp8Desc
	if u.vp8 {
		d8 = parseVP8Desc(pkt.Payload)
		if d8.present {
			desc = &d8
		}
	}
	for _, d := range *u.downs.Load() {
		b := d.binding.Load()
		if b == nil || !b.ready.Load() {
			continue
		}
		out, ok := d.admit(l, &pkt.Header, key, desc)
		if !ok {
			continue
		}
		payload := pkt.Payload
		if out.patch {
			n := copy(l.scratch[:], payload)
			patchVP8(l.scratch[:n], desc, out.pic, out.tl0)
			payload = l.scratch[:n]
		}
		l.out = pkt.Header
		l.out.Padding = false
		l.out.Extension = false
		l.out.Extensions = l.extBuf[:0]
		l.out.SSRC = b.ssrc
		l.out.PayloadType = b.pt
		l.out.SequenceNumber = out.seq
		l.out.Timestamp = out.ts
		if _, err := b.w.WriteRTP(&l.out, payload); err == nil {
			d.packets.Add(1)
			d.bytes.Add(uint64(len(payload)))
			sent++
			sentBytes += uint64(len(payload))
		} else {
			u.totals.writeErrors.Add(1)
		}
	}
}

// end marks the track ended once any layer's reader stops: the publisher
// has removed the track or closed its connection.
func (u *UpTrack) end() {
	u.doneOnce.Do(func() { close(u.done) })
}
