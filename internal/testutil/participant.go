package testutil

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/cau-bridge/cau/internal/app"
	"github.com/cau-bridge/cau/internal/netem"
	"github.com/cau-bridge/cau/internal/testmedia"
	"github.com/cau-bridge/cau/sfu"
	"github.com/cau-bridge/cau/signaling"
	"github.com/cau-bridge/cau/signaling/client"
)

// Participant is a pion client that records what it receives and, once
// Publish is called, sends real VP8 and Opus.
type Participant struct {
	*client.Client
	ID string

	mu       sync.Mutex
	received map[string]*Received // by "<stream>/<kind>"

	videoPlayer *testmedia.Player
	KeyRequests atomic.Int64 // PLI/FIR the publisher got from the server

	layersMu sync.Mutex
	layers   map[string]*testmedia.Player // simulcast players by RID
	demands  []signaling.LayersData       // dynacast requests received
	Audio    *testmedia.AudioPlayer       // set by PublishSimulcast
}

// Received is what one subscribed track delivered.
type Received struct {
	mu        sync.Mutex
	Track     *webrtc.TrackRemote
	seqs      map[uint16]struct{}
	first     uint16
	highest   uint16
	started   bool
	Packets   int
	keyframes []time.Time
	firstKey  bool
	ended     bool
	width     int // of the last VP8 keyframe
	sizes     []frameSize
	pics      map[uint16]uint16 // VP8 picture ID by sequence number
}

type frameSize struct {
	at    time.Time
	width int
}

// Join connects a participant to meeting. api may be nil for the default
// loopback UDP client.
func Join(t testing.TB, a *app.App, id, meeting string) *Participant {
	t.Helper()
	return JoinWith(t, a, id, meeting, nil)
}

// JoinWith is Join with a chosen pion API (e.g. ICE-TCP only).
func JoinWith(t testing.TB, a *app.App, id, meeting string, api *webrtc.API) *Participant {
	t.Helper()
	p := &Participant{ID: id, received: map[string]*Received{}, layers: map[string]*testmedia.Player{}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{URL: a.WSURL(), Token: Token(t, a, id, meeting),
		OnTrack: p.onTrack, OnLayers: p.onLayers, API: api})
	if err != nil {
		t.Fatalf("%s: join: %v", id, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	p.Client = c
	return p
}

func (p *Participant) onTrack(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	r := &Received{Track: tr, seqs: map[uint16]struct{}{}, pics: map[uint16]uint16{}}
	p.mu.Lock()
	p.received[tr.StreamID()+"/"+tr.Kind().String()] = r
	p.mu.Unlock()
	go func() {
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				r.mu.Lock()
				r.ended = true
				r.mu.Unlock()
				return
			}
			r.add(pkt, tr.Codec().MimeType)
		}
	}()
}

func (r *Received) add(pkt *rtp.Packet, mime string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := sfu.IsKeyframe(mime, pkt.Payload)
	if !r.started {
		r.started, r.first, r.highest = true, pkt.SequenceNumber, pkt.SequenceNumber
		r.firstKey = key
	}
	if _, dup := r.seqs[pkt.SequenceNumber]; dup {
		return
	}
	if int16(pkt.SequenceNumber-r.first) < 0 {
		// A retransmission of a packet older than any seen so far.
		r.first, r.firstKey = pkt.SequenceNumber, key
	}
	r.seqs[pkt.SequenceNumber] = struct{}{}
	r.Packets++
	if int16(pkt.SequenceNumber-r.highest) > 0 {
		r.highest = pkt.SequenceNumber
	}
	if pic, ok := sfu.VP8PictureID(pkt.Payload); ok {
		r.pics[pkt.SequenceNumber] = pic
	}
	if key {
		r.keyframes = append(r.keyframes, time.Now())
		if w, _, ok := sfu.VP8KeyframeSize(pkt.Payload); ok {
			r.width = w
			r.sizes = append(r.sizes, frameSize{at: time.Now(), width: w})
		}
	}
}

// Missing counts sequence numbers between the first and highest received
// that never arrived (after retransmission).
func (r *Received) Missing() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started {
		return 0
	}
	span := int(r.highest-r.first) + 1
	return span - len(r.seqs)
}

// Count returns the number of distinct packets received.
func (r *Received) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Packets
}

// KeyframeAfter reports whether a keyframe arrived after t.
func (r *Received) KeyframeAfter(t time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range r.keyframes {
		if k.After(t) {
			return true
		}
	}
	return false
}

// StartedOnKeyframe reports whether the stream's first packet (the lowest
// sequence number, retransmissions included) began a keyframe, so the
// decoder never had a frame it could not decode.
func (r *Received) StartedOnKeyframe() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.firstKey
}

// PictureIDJumps counts places where consecutive packets' VP8 picture IDs
// differ by anything but 0 or 1: a decoder would see frames missing.
func (r *Received) PictureIDJumps() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	jumps := 0
	for seq := r.first; seq != r.highest; seq++ {
		a, okA := r.pics[seq]
		b, okB := r.pics[seq+1]
		if okA && okB {
			if d := (b - a) & 0x7fff; d > 1 {
				jumps++
			}
		}
	}
	return jumps
}

// Width is the picture width of the last VP8 keyframe received.
func (r *Received) Width() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.width
}

// KeyframeSince reports whether a keyframe whose width satisfies ok arrived
// after t.
func (r *Received) KeyframeSince(t time.Time, ok func(width int) bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.sizes {
		if s.at.After(t) && ok(s.width) {
			return true
		}
	}
	return false
}

// WidthIs is a KeyframeSince predicate: exactly w pixels wide.
func WidthIs(w int) func(int) bool { return func(x int) bool { return x == w } }

// WidthBelow is a KeyframeSince predicate: narrower than w.
func WidthBelow(w int) func(int) bool { return func(x int) bool { return x > 0 && x < w } }

// Ended reports whether the track's reader saw the end of the track.
func (r *Received) Ended() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ended
}

// Track returns what was received from a publisher's track of kind
// ("audio" or "video"), or nil.
func (p *Participant) Track(publisher, kind string) *Received {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.received[publisher+"/"+kind]
}

// Tracks returns how many remote tracks have arrived.
func (p *Participant) Tracks() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.received)
}

// Publish sends a VP8 camera and an Opus microphone in a loop until the
// test ends. The camera answers keyframe requests like an encoder.
func (p *Participant) Publish(t testing.TB) {
	t.Helper()
	p.PublishCodec(t, webrtc.MimeTypeVP8)
}

// PublishCodec is Publish with the camera in the given video codec (VP8 or
// H.264).
func (p *Participant) PublishCodec(t testing.TB, videoMime string) {
	t.Helper()
	var vclip *testmedia.Clip
	var err error
	if videoMime == webrtc.MimeTypeH264 {
		vclip, err = testmedia.H264("h264-180p.h264", 15)
	} else {
		vclip, err = testmedia.VP8("vp8-180p.ivf")
	}
	if err != nil {
		t.Fatal(err)
	}
	aclip, err := testmedia.Opus("tone.ogg")
	if err != nil {
		t.Fatal(err)
	}
	video, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: videoMime}, "camera", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	audio, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	senders, err := p.Client.Publish(video, audio)
	if err != nil {
		t.Fatalf("%s: publish: %v", p.ID, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p.videoPlayer = testmedia.NewPlayer(vclip, video)
	go testmedia.WatchKeyframeRequests(senders[0], func() {
		p.KeyRequests.Add(1)
		p.videoPlayer.RequestKeyframe()
	})
	go testmedia.WatchKeyframeRequests(senders[1], func() {})
	go p.videoPlayer.Run(ctx)
	go testmedia.NewPlayer(aclip, audio).Run(ctx)
}

// ThrottledAPI is a pion API whose connections receive through th, closed
// at the end of the test.
func ThrottledAPI(t testing.TB, th *netem.Throttle) *webrtc.API {
	t.Helper()
	api, closer, err := th.API()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closer.Close() })
	return api
}

// RemotePort is the server port of the connection's selected ICE pair and
// its protocol ("udp" or "tcp"), or 0 before ICE has connected.
func RemotePort(pc *webrtc.PeerConnection) (int, string) {
	if pc == nil {
		return 0, ""
	}
	pair, err := pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		return 0, ""
	}
	return int(pair.Remote.Port), pair.Remote.Protocol.String()
}

func (p *Participant) onLayers(d signaling.LayersData) {
	p.layersMu.Lock()
	defer p.layersMu.Unlock()
	p.demands = append(p.demands, d)
	for rid, on := range d.Active {
		if pl := p.layers[rid]; pl != nil {
			pl.SetPaused(!on)
		}
	}
}

// LayerPaused reports whether the simulcast layer rid is paused at this
// publisher because the server asked.
func (p *Participant) LayerPaused(rid string) bool {
	p.layersMu.Lock()
	defer p.layersMu.Unlock()
	pl := p.layers[rid]
	return pl != nil && pl.Paused()
}

// PublishSimulcast sends a three-layer VP8 camera (RIDs l, m, h: 180p, 360p
// and 720p, about 150, 500 and 1,500 kbit/s, keyframes every 2 s) and an
// Opus microphone carrying audio levels (silent until Audio.SetLevel). The
// layers follow the server's pause and resume requests.
func (p *Participant) PublishSimulcast(t testing.TB) {
	t.Helper()
	p.PublishSimulcastCodec(t, webrtc.MimeTypeVP8)
}

// PublishSimulcastCodec is PublishSimulcast in VP8 or H.264.
func (p *Participant) PublishSimulcastCodec(t testing.TB, videoMime string) {
	t.Helper()
	var tracks []*webrtc.TrackLocalStaticSample
	var players []*testmedia.Player
	for _, rid := range []string{"l", "m", "h"} {
		var clip *testmedia.Clip
		var err error
		if videoMime == webrtc.MimeTypeH264 {
			clip, err = testmedia.H264("sim-"+rid+".h264", 15)
		} else {
			clip, err = testmedia.VP8("sim-" + rid + ".ivf")
		}
		if err != nil {
			t.Fatal(err)
		}
		tr, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: videoMime},
			"camera", p.ID, webrtc.WithRTPStreamID(rid))
		if err != nil {
			t.Fatal(err)
		}
		tracks = append(tracks, tr)
		pl := testmedia.NewPlayer(clip, tr)
		players = append(players, pl)
		p.layersMu.Lock()
		p.layers[rid] = pl
		p.layersMu.Unlock()
	}
	aclip, err := testmedia.Opus("tone.ogg")
	if err != nil {
		t.Fatal(err)
	}
	audio, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	senders, err := p.Client.PublishSimulcast(tracks, audio)
	if err != nil {
		t.Fatalf("%s: publish simulcast: %v", p.ID, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for i, rid := range []string{"l", "m", "h"} {
		pl := players[i]
		go testmedia.WatchSimulcastKeyframeRequests(senders[0], rid, func() {
			p.KeyRequests.Add(1)
			pl.RequestKeyframe()
		})
		go pl.Run(ctx)
	}
	p.Audio = testmedia.NewAudioPlayer(aclip, audio, senders[1])
	go testmedia.WatchKeyframeRequests(senders[1], func() {})
	go p.Audio.Run(ctx)
}

// Eventually polls cond every 50 ms until it holds or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
