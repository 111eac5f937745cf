// Package testmedia loops real encoded media (VP8 from libvpx, Opus from
// libopus, made once with ffmpeg; see testdata/README.md) into pion tracks,
// so tests and cmd/cau-load publish what a camera and microphone would.
package testmedia

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/h264reader"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

//go:embed testdata/*.ivf testdata/*.ogg testdata/*.h264
var files embed.FS

// Clip is a loop of encoded frames.
type Clip struct {
	Frames   [][]byte
	Key      []bool // Key[i]: frame i is a keyframe (always true for audio)
	Duration time.Duration
}

// VP8 loads a VP8 clip by name (e.g. "vp8-180p.ivf").
func VP8(name string) (*Clip, error) {
	raw, err := files.ReadFile("testdata/" + name)
	if err != nil {
		return nil, err
	}
	r, hdr, err := ivfreader.NewWith(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	c := &Clip{Duration: time.Second * time.Duration(hdr.TimebaseNumerator) / time.Duration(hdr.TimebaseDenominator)}
	for {
		frame, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		c.Frames = append(c.Frames, frame)
		c.Key = append(c.Key, len(frame) > 0 && frame[0]&0x01 == 0)
	}
	if len(c.Frames) == 0 || !c.Key[0] {
		return nil, fmt.Errorf("%s: no frames or no leading keyframe", name)
	}
	return c, nil
}

// H264 loads an Annex B H.264 clip (constrained baseline, no B-frames) and
// groups its NAL units into frames that end with a slice.
func H264(name string, fps int) (*Clip, error) {
	raw, err := files.ReadFile("testdata/" + name)
	if err != nil {
		return nil, err
	}
	r, err := h264reader.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	c := &Clip{Duration: time.Second / time.Duration(fps)}
	var frame []byte
	key := false
	for {
		nal, err := r.NextNAL()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		frame = append(frame, 0, 0, 0, 1)
		frame = append(frame, nal.Data...)
		switch nal.UnitType {
		case h264reader.NalUnitTypeCodedSliceIdr:
			key = true
			fallthrough
		case h264reader.NalUnitTypeCodedSliceNonIdr:
			c.Frames = append(c.Frames, frame)
			c.Key = append(c.Key, key)
			frame, key = nil, false
		}
	}
	if len(c.Frames) == 0 || !c.Key[0] {
		return nil, fmt.Errorf("%s: no frames or no leading keyframe", name)
	}
	return c, nil
}

// Opus loads an Ogg Opus clip with one 20 ms packet per page.
func Opus(name string) (*Clip, error) {
	raw, err := files.ReadFile("testdata/" + name)
	if err != nil {
		return nil, err
	}
	r, _, err := oggreader.NewWith(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	c := &Clip{Duration: 20 * time.Millisecond}
	for {
		page, _, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if bytes.HasPrefix(page, []byte("OpusHead")) || bytes.HasPrefix(page, []byte("OpusTags")) {
			continue
		}
		c.Frames = append(c.Frames, page)
		c.Key = append(c.Key, true)
	}
	if len(c.Frames) == 0 {
		return nil, fmt.Errorf("%s: no packets", name)
	}
	return c, nil
}

// Player loops a clip into a track in real time.
type Player struct {
	clip   *Clip
	track  *webrtc.TrackLocalStaticSample
	key    chan struct{}
	paused atomic.Bool
	sent   atomic.Uint64
}

// NewPlayer prepares a player; call Run to start it.
func NewPlayer(clip *Clip, track *webrtc.TrackLocalStaticSample) *Player {
	return &Player{clip: clip, track: track, key: make(chan struct{}, 1)}
}

// SetPaused stops (true) or resumes (false) sending, as an encoder does
// when the SFU pauses a simulcast layer. A resumed player starts with a
// keyframe.
func (p *Player) SetPaused(paused bool) {
	if p.paused.Swap(paused) && !paused {
		p.RequestKeyframe()
	}
}

// Paused reports whether the player is paused.
func (p *Player) Paused() bool { return p.paused.Load() }

// Sent counts the frames sent.
func (p *Player) Sent() uint64 { return p.sent.Load() }

// RequestKeyframe makes the next frame sent a keyframe, as an encoder does
// on a PLI.
func (p *Player) RequestKeyframe() {
	select {
	case p.key <- struct{}{}:
	default:
	}
}

// Run sends frames until ctx ends.
func (p *Player) Run(ctx context.Context) {
	t := time.NewTicker(p.clip.Duration)
	defer t.Stop()
	i := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.key:
			i = 0 // the clip starts with a keyframe
		case <-t.C:
			if p.paused.Load() {
				continue
			}
			if err := p.track.WriteSample(media.Sample{Data: p.clip.Frames[i], Duration: p.clip.Duration}); err != nil &&
				!errors.Is(err, io.ErrClosedPipe) {
				return
			}
			p.sent.Add(1)
			i = (i + 1) % len(p.clip.Frames)
		}
	}
}

// AudioPlayer loops an Opus clip into an RTP track, marking every packet
// with the RFC 6464 audio level the caller sets, as a microphone with voice
// activity detection does.
type AudioPlayer struct {
	clip   *Clip
	track  *webrtc.TrackLocalStaticRTP
	sender *webrtc.RTPSender
	level  atomic.Uint32 // 0 loudest .. 127 silent
	// OnSend, if set before Run, is called with each packet's sequence
	// number as it is sent (the load generator measures end-to-end delay).
	OnSend func(seq uint16)
}

// NewAudioPlayer prepares a player; sender is the track's RTP sender, whose
// negotiated parameters give the extension ID.
func NewAudioPlayer(clip *Clip, track *webrtc.TrackLocalStaticRTP, sender *webrtc.RTPSender) *AudioPlayer {
	p := &AudioPlayer{clip: clip, track: track, sender: sender}
	p.level.Store(127)
	return p
}

// SetLevel sets the level sent from now on: 0 is 0 dBov (loudest), 127
// silence.
func (p *AudioPlayer) SetLevel(level uint8) { p.level.Store(uint32(level & 0x7f)) }

// Run sends 20 ms packets until ctx ends.
func (p *AudioPlayer) Run(ctx context.Context) {
	t := time.NewTicker(p.clip.Duration)
	defer t.Stop()
	var seq uint16
	var ts uint32
	for i := 0; ; i = (i + 1) % len(p.clip.Frames) {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: i == 0},
			Payload: p.clip.Frames[i]}
		seq++
		ts += 960
		for _, ext := range p.sender.GetParameters().HeaderExtensions {
			if ext.URI == sdp.AudioLevelURI {
				lvl := byte(p.level.Load())
				if lvl < 127 {
					lvl |= 0x80 // voice activity
				}
				_ = pkt.Header.SetExtension(uint8(ext.ID), []byte{lvl})
			}
		}
		if p.OnSend != nil {
			p.OnSend(pkt.SequenceNumber)
		}
		if err := p.track.WriteRTP(pkt); err != nil && !errors.Is(err, io.ErrClosedPipe) {
			return
		}
	}
}

// WatchSimulcastKeyframeRequests is WatchKeyframeRequests for one simulcast
// layer of a sender.
func WatchSimulcastKeyframeRequests(sender *webrtc.RTPSender, rid string, onRequest func()) {
	watch(func() ([]rtcp.Packet, error) {
		pkts, _, err := sender.ReadSimulcastRTCP(rid)
		return pkts, err
	}, onRequest)
}

func watch(read func() ([]rtcp.Packet, error), onRequest func()) {
	for {
		pkts, err := read()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				onRequest()
			}
		}
	}
}

// WatchKeyframeRequests reads a sender's RTCP and calls onRequest for every
// PLI or FIR, until the sender stops.
func WatchKeyframeRequests(sender *webrtc.RTPSender, onRequest func()) {
	watch(func() ([]rtcp.Packet, error) {
		pkts, _, err := sender.ReadRTCP()
		return pkts, err
	}, onRequest)
}
