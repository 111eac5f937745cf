package sfu

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/pion/webrtc/v4"
)

// Publisher is the peer connection a client sends its media on. The client
// always makes the offers; the server answers.
type Publisher struct {
	*peer
	onTrack  func(*UpTrack)
	onDemand func(LayerDemand)
	totals   *counters
	tap      *reportTap // the RTCP the server sends it (quality.go)

	tracksMu sync.Mutex
	tracks   []*UpTrack
	byRecv   map[*webrtc.RTPReceiver]*UpTrack
}

// NewPublisher prepares a publisher connection. onTrack is called once per
// track the client starts sending (simulcast layers of one track arrive as
// one UpTrack), before its first packet is forwarded. onDemand, if set, is
// called when dynacast wants the client to pause or resume layers.
func (s *SFU) NewPublisher(cfg PeerConfig, onTrack func(*UpTrack), onDemand func(LayerDemand)) (*Publisher, error) {
	p, err := s.newPeer(cfg, "pub")
	if err != nil {
		return nil, err
	}
	pub := &Publisher{peer: p, onTrack: onTrack, onDemand: onDemand, byRecv: map[*webrtc.RTPReceiver]*UpTrack{},
		totals: &s.counters}
	if v, ok := s.taps.LoadAndDelete(p.pc.ID()); ok {
		pub.tap = v.(*reportTap)
	}
	p.pc.OnTrack(func(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		p.log.Debug("track published", "kind", remote.Kind().String(), "rid", remote.RID(),
			"ssrc", remote.SSRC(), "codec", remote.Codec().MimeType)
		if err := pub.addTrack(remote, recv, s.cfg); err != nil {
			p.log.Warn("track refused", "err", err)
		}
	})
	return pub, nil
}

func (pub *Publisher) addTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver, cfg Config) error {
	var rids []string
	for _, t := range recv.Tracks() {
		if t.RID() != "" {
			rids = append(rids, t.RID())
		}
	}
	idx, err := layerIndex(remote.RID(), rids)
	if err != nil {
		return err
	}
	pub.tracksMu.Lock()
	up, existing := pub.byRecv[recv]
	if !existing {
		id := remote.ID()
		if id == "" || id == "-" {
			id = remote.Kind().String() + "-" + strconv.FormatUint(uint64(remote.SSRC()), 10)
		}
		up = newUpTrack(pub.cfg.PeerID, id, remote.Kind(), remote.Codec().RTPCodecCapability,
			pub.pc.WriteRTCP, cfg.KeyframeInterval)
		up.totals = pub.totals
		for _, ext := range recv.GetParameters().HeaderExtensions {
			if ext.URI == audioLevelURI && remote.Kind() == webrtc.RTPCodecTypeAudio {
				up.levelExt = uint8(ext.ID)
			}
		}
		if up.kind == webrtc.RTPCodecTypeVideo {
			up.dyn.kick = make(chan struct{}, 1)
			up.dyn.log = pub.log
			if pub.onDemand != nil {
				up.dyn.notify = func(active [maxLayers]bool) { pub.onDemand(up.demand(active)) }
			}
		}
		pub.byRecv[recv] = up
		pub.tracks = append(pub.tracks, up)
	}
	pub.tracksMu.Unlock()
	l := up.addLayer(idx, remote.RID(), uint32(remote.SSRC()))
	if l == nil {
		return fmt.Errorf("sfu: duplicate layer %q of track %s", remote.RID(), up.id)
	}
	rid := remote.RID()
	go func() {
		buf := make([]byte, 1500)
		for {
			var err error
			if rid != "" {
				_, _, err = recv.ReadSimulcastRTCP(rid)
			} else {
				_, _, err = recv.Read(buf)
			}
			if err != nil {
				return
			}
		}
	}()
	if !existing {
		if up.dyn.kick != nil {
			go up.runDynacast()
		}
		if pub.onTrack != nil {
			pub.onTrack(up)
		}
	}
	go l.run(func(b []byte) (int, error) {
		n, _, err := remote.Read(b)
		return n, err
	})
	return nil
}

// HandleOffer applies the client's offer and emits the answer through
// OnSignal. A bad offer leaves the connection as it was.
func (pub *Publisher) HandleOffer(sdp string) error {
	if err := checkSDP(sdp, true); err != nil {
		return err
	}
	pub.mu.Lock()
	defer pub.mu.Unlock()
	if pub.closed {
		return ErrClosed
	}
	pc := pub.pc
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	pub.flushRemoteCandidatesLocked()
	answer, err := pc.CreateAnswer(nil)
	if err == nil {
		err = pc.SetLocalDescription(answer)
	}
	if err != nil {
		_ = pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback})
		return fmt.Errorf("%w: cannot answer: %v", ErrBadSDP, err)
	}
	pub.emitDescriptionLocked("answer", answer.SDP)
	return nil
}

// Tracks returns the tracks published so far (ended ones included).
func (pub *Publisher) Tracks() []*UpTrack {
	pub.tracksMu.Lock()
	defer pub.tracksMu.Unlock()
	return append([]*UpTrack(nil), pub.tracks...)
}

// Close ends the connection and every track it published.
func (pub *Publisher) Close() error {
	err := pub.close()
	for _, t := range pub.Tracks() {
		t.end()
	}
	return err
}
