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
	onTrack func(*UpTrack)

	tracksMu sync.Mutex
	tracks   []*UpTrack
}

// NewPublisher prepares a publisher connection. onTrack is called for each
// track the client starts sending, before its first packet is forwarded.
func (s *SFU) NewPublisher(cfg PeerConfig, onTrack func(*UpTrack)) (*Publisher, error) {
	p, err := s.newPeer(cfg, "pub")
	if err != nil {
		return nil, err
	}
	pub := &Publisher{peer: p, onTrack: onTrack}
	keyGap := s.cfg.KeyframeInterval
	p.pc.OnTrack(func(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		p.log.Debug("track published", "kind", remote.Kind().String(), "ssrc", remote.SSRC(), "codec", remote.Codec().MimeType)
		id := remote.ID()
		if id == "" {
			id = remote.Kind().String() + "-" + strconv.FormatUint(uint64(remote.SSRC()), 10)
		}
		up := newUpTrack(cfg.PeerID, id, remote.Kind(), remote.Codec().RTPCodecCapability,
			uint32(remote.SSRC()), p.pc.WriteRTCP, keyGap)
		go drainRTCP(recv)
		pub.tracksMu.Lock()
		pub.tracks = append(pub.tracks, up)
		pub.tracksMu.Unlock()
		if pub.onTrack != nil {
			pub.onTrack(up)
		}
		go up.run(func(b []byte) (int, error) {
			n, _, err := remote.Read(b)
			return n, err
		})
	})
	return pub, nil
}

// drainRTCP reads a receiver's RTCP so the interceptors see it.
func drainRTCP(r *webrtc.RTPReceiver) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := r.Read(buf); err != nil {
			return
		}
	}
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
