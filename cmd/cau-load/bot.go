package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/cau-bridge/cau/internal/netem"
	"github.com/cau-bridge/cau/internal/testmedia"
	"github.com/cau-bridge/cau/sfu"
	"github.com/cau-bridge/cau/signaling"
	"github.com/cau-bridge/cau/signaling/client"
)

// media is the encoded media every bot loops, loaded once.
type media struct {
	mime   string
	layers [3]*testmedia.Clip // l, m, h
	audio  *testmedia.Clip
	// Picture widths of the low and high layers (VP8 only, else 0), to tell
	// which layer a received keyframe belongs to.
	lowWidth, highWidth int
}

func loadMedia(codec string) (*media, error) {
	m := &media{mime: webrtc.MimeTypeVP8}
	if strings.EqualFold(codec, "h264") {
		m.mime = webrtc.MimeTypeH264
	}
	for i, rid := range []string{"l", "m", "h"} {
		var err error
		if m.mime == webrtc.MimeTypeH264 {
			m.layers[i], err = testmedia.H264("sim-"+rid+".h264", 15)
		} else {
			m.layers[i], err = testmedia.VP8("sim-" + rid + ".ivf")
		}
		if err != nil {
			return nil, err
		}
	}
	if m.mime == webrtc.MimeTypeVP8 {
		m.lowWidth, m.highWidth = vp8FrameWidth(m.layers[0].Frames[0]), vp8FrameWidth(m.layers[2].Frames[0])
	}
	var err error
	m.audio, err = testmedia.Opus("tone.ogg")
	return m, err
}

// bot is one synthetic bridge point.
type bot struct {
	plan  *botPlan
	load  *load
	token string // meeting token from the REST setup; "" mints a dev-room token
	c     *client.Client
	start time.Time
	sent  *sendTimes // own audio, for receivers' end-to-end delay

	mu      sync.Mutex
	tracks  map[string]*trackStats // "<publisher>/<kind>"
	players map[string]*testmedia.Player
	closers []io.Closer
	grid    []string             // the chair's grid page, from grid_page
	gridAt  map[string]time.Time // when each site first appeared on it

	joined atomic.Bool
	failed atomic.Bool // the join failed
}

func newBot(l *load, p *botPlan) *bot {
	return &bot{plan: p, load: l, sent: &sendTimes{}, tracks: map[string]*trackStats{}, players: map[string]*testmedia.Player{},
		gridAt: map[string]time.Time{}}
}

// run joins, publishes and follows the scenario until ctx ends.
func (b *bot) run(ctx context.Context, impair *netem.Throttle) error {
	l := b.load
	tok := b.token
	if tok == "" { // a development room: a token straight from the shared secret
		if l.tokens == nil {
			return fmt.Errorf("%s: no token secret to mint a development-room token with (--token-secret, --data-dir)", b.plan.id)
		}
		var err error
		if tok, err = l.tokens.Mint(b.plan.id, b.plan.name, l.cfg.meeting, "operator", 2*time.Hour); err != nil {
			return err
		}
	}
	// pion's own per-connection sockets, except the subscriber connection
	// of an impaired point, which receives through the impairment.
	pubAPI, err := client.LoopbackAPI()
	if err != nil {
		return err
	}
	subAPI := pubAPI
	if impair != nil {
		var closer io.Closer
		if subAPI, closer, err = impair.API(); err != nil {
			return err
		}
		b.closers = append(b.closers, closer)
	}
	b.start = time.Now()
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	c, err := client.Dial(dctx, client.Config{URL: l.wsURL, Token: tok, API: subAPI, PublishAPI: pubAPI, OnTrack: b.onTrack, OnLayers: b.onLayers})
	if err != nil {
		return fmt.Errorf("%s: join: %w", b.plan.id, err)
	}
	b.c = c
	b.joined.Store(true)
	go b.events(ctx)
	if b.plan.publish {
		if err := b.publish(ctx); err != nil {
			return fmt.Errorf("%s: publish: %w", b.plan.id, err)
		}
	}
	<-ctx.Done()
	return nil
}

func (b *bot) close() {
	if b.c != nil {
		_ = b.c.Close()
	}
	for _, c := range b.closers {
		_ = c.Close()
	}
}

func (b *bot) publish(ctx context.Context) error {
	m := b.load.media
	var layers []*webrtc.TrackLocalStaticSample
	for i, rid := range []string{"l", "m", "h"} {
		tr, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: m.mime}, "camera", b.plan.id,
			webrtc.WithRTPStreamID(rid))
		if err != nil {
			return err
		}
		layers = append(layers, tr)
		pl := testmedia.NewPlayer(m.layers[i], tr)
		b.mu.Lock()
		b.players[rid] = pl
		b.mu.Unlock()
	}
	audio, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", b.plan.id)
	if err != nil {
		return err
	}
	senders, err := b.c.PublishSimulcast(layers, audio)
	if err != nil {
		return err
	}
	b.load.publishedAt.Store(b.plan.id, time.Now())
	for _, rid := range []string{"l", "m", "h"} {
		b.mu.Lock()
		pl := b.players[rid]
		b.mu.Unlock()
		go testmedia.WatchSimulcastKeyframeRequests(senders[0], rid, pl.RequestKeyframe)
		go pl.Run(ctx)
	}
	ap := testmedia.NewAudioPlayer(m.audio, audio, senders[1])
	ap.SetLevel(b.plan.level)
	ap.OnSend = b.sent.mark
	go testmedia.WatchKeyframeRequests(senders[1], func() {})
	go ap.Run(ctx)
	return nil
}

func (b *bot) onLayers(d signaling.LayersData) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for rid, on := range d.Active {
		if pl := b.players[rid]; pl != nil {
			pl.SetPaused(!on)
		}
	}
}

// events asks for the videos the plan wants as their publishers appear
// (development rooms), and follows the chair's grid page (meetings).
func (b *bot) events(ctx context.Context) {
	chair := b.plan.id == b.load.chair
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.c.Done():
			return
		case env := <-b.c.Events():
			if chair {
				b.onFloorEvent(env)
			}
			if env.Type != signaling.TypeTrackPublished || len(b.plan.want) == 0 {
				continue
			}
			var d signaling.TrackData
			if json.Unmarshal(env.Data, &d) != nil || d.Kind != "video" {
				continue
			}
			if q, ok := b.plan.want[d.PeerID]; ok {
				_ = b.c.Send(signaling.TypeQuality, signaling.QualityData{Track: d.Track, Quality: q})
			}
		}
	}
}

func (b *bot) onTrack(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	pubID, kind := tr.StreamID(), tr.Kind().String()
	st := newTrackStats(pubID, kind, tr.Codec().ClockRate)
	b.mu.Lock()
	b.tracks[pubID+"/"+kind] = st
	b.mu.Unlock()
	mime := tr.Codec().MimeType
	high := 0
	if strings.EqualFold(mime, webrtc.MimeTypeVP8) {
		high = b.load.media.highWidth
	}
	var pubSent *sendTimes
	if kind == "audio" {
		if other := b.load.bot(pubID); other != nil {
			pubSent = other.sent
		}
	}
	go func() {
		buf := make([]byte, 1500)
		var pkt = new(rtpPacket)
		for {
			n, _, err := tr.Read(buf)
			if err != nil {
				return
			}
			if pkt.Unmarshal(buf[:n]) != nil {
				continue
			}
			now := time.Now()
			key := kind == "video" && sfu.IsKeyframe(mime, pkt.Payload)
			st.add(&pkt.Packet, n, key, now)
			if key && high > 0 {
				if w := vp8KeyWidth(pkt.Payload); w > 0 {
					st.noteKeyWidth(w, high, now)
				}
			}
			if pubSent != nil {
				if d, ok := pubSent.delay(pkt.SequenceNumber, now); ok {
					b.load.e2e.add(float64(d) / float64(time.Millisecond))
				}
			}
		}
	}()
}

// track returns the stats of a received track, or nil.
func (b *bot) track(publisher, kind string) *trackStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tracks[publisher+"/"+kind]
}
