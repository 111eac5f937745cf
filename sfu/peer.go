package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Candidate is a trickled ICE candidate in its JSON (browser) form.
type Candidate = webrtc.ICECandidateInit

// Signal is a message the media plane asks signaling to deliver to the
// client, in order: "offer" or "answer" carry SDP, "candidate" a Candidate.
type Signal struct {
	Type      string
	SDP       string
	Candidate Candidate
}

// Errors callers tell apart to answer the client with a precise code.
var (
	ErrBadSDP           = errors.New("sfu: malformed SDP")
	ErrNoMedia          = errors.New("sfu: offer has no media")
	ErrUnexpectedAnswer = errors.New("sfu: answer without an outstanding offer")
	ErrClosed           = errors.New("sfu: peer closed")
	ErrTooManyCands     = errors.New("sfu: too many ICE candidates before a description")
)

// maxQueuedCandidates bounds what a client may trickle before its
// description arrives.
const maxQueuedCandidates = 64

// PeerConfig is what a Publisher or Subscriber needs from its owner.
type PeerConfig struct {
	// PeerID names the participant; subscribers see it as the stream ID of
	// the participant's tracks.
	PeerID string
	// VideoCodec is the meeting's video MIME type: "video/VP8" (default) or
	// "video/H264".
	VideoCodec string
	// OnSignal delivers offers, answers and candidates to the client. It is
	// called in order, sometimes with the peer's lock held, so it must not
	// block or call back into the peer.
	OnSignal func(Signal)
	// OnFailed is called once when the connection fails or is closed by ICE.
	OnFailed func()
}

// peer is the part Publisher and Subscriber share: one PeerConnection, its
// candidate queues and ordered signal emission.
type peer struct {
	pc  *webrtc.PeerConnection
	cfg PeerConfig
	log *slog.Logger

	mu          sync.Mutex
	closed      bool
	sdpSent     bool        // a local description went out; candidates may follow
	localCands  []Candidate // gathered before any description went out
	remoteCands []Candidate // received before the remote description
	failedOnce  sync.Once

	// connected is true while ICE and DTLS are up: pion silently drops media
	// written before that, so down tracks wait for it.
	connected   atomic.Bool
	onConnected func()
	done        chan struct{} // closed by close
}

func (s *SFU) newPeer(cfg PeerConfig, role string) (*peer, error) {
	apis := s.apis
	if role == "sub" {
		apis = s.subAPIs
	}
	api, err := s.api(apis, cfg.VideoCodec)
	if err != nil {
		return nil, err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{
		BundlePolicy:  webrtc.BundlePolicyMaxBundle,
		RTCPMuxPolicy: webrtc.RTCPMuxPolicyRequire,
	})
	if err != nil {
		return nil, fmt.Errorf("sfu: new peer connection: %w", err)
	}
	p := &peer{pc: pc, cfg: cfg, log: s.log.With("peer", cfg.PeerID, "pc", role), done: make(chan struct{})}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.sdpSent {
			p.localCands = append(p.localCands, c.ToJSON())
			return
		}
		p.emit(Signal{Type: "candidate", Candidate: c.ToJSON()})
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		p.log.Debug("connection state", "state", st.String())
		p.connected.Store(st == webrtc.PeerConnectionStateConnected)
		if st == webrtc.PeerConnectionStateConnected && p.onConnected != nil {
			p.onConnected()
		}
		if st == webrtc.PeerConnectionStateFailed {
			p.failedOnce.Do(func() {
				if cfg.OnFailed != nil {
					cfg.OnFailed()
				}
			})
		}
	})
	return p, nil
}

func (p *peer) emit(s Signal) {
	if p.cfg.OnSignal != nil {
		p.cfg.OnSignal(s)
	}
}

// emitDescriptionLocked sends a local description, then any candidates that
// were gathered before it, so the client never sees a candidate first.
func (p *peer) emitDescriptionLocked(typ, sdp string) {
	p.emit(Signal{Type: typ, SDP: sdp})
	p.sdpSent = true
	for _, c := range p.localCands {
		p.emit(Signal{Type: "candidate", Candidate: c})
	}
	p.localCands = nil
}

// AddCandidate adds a client's trickled candidate, queueing it until the
// remote description is known.
func (p *peer) AddCandidate(c Candidate) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if p.pc.RemoteDescription() == nil {
		if len(p.remoteCands) >= maxQueuedCandidates {
			return ErrTooManyCands
		}
		p.remoteCands = append(p.remoteCands, c)
		return nil
	}
	return p.addCandidateLocked(c)
}

func (p *peer) addCandidateLocked(c Candidate) error {
	if err := p.pc.AddICECandidate(c); err != nil {
		return fmt.Errorf("sfu: add ICE candidate: %w", err)
	}
	return nil
}

func (p *peer) flushRemoteCandidatesLocked() {
	for _, c := range p.remoteCands {
		if err := p.addCandidateLocked(c); err != nil {
			p.log.Debug("queued candidate refused", "err", err)
		}
	}
	p.remoteCands = nil
}

func (p *peer) close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	p.mu.Unlock()
	return p.pc.Close()
}

// checkSDP parses a client's SDP before pion sees it, so malformed input gets
// a precise error.
func checkSDP(raw string, needMedia bool) error {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(raw); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	if needMedia && len(sd.MediaDescriptions) == 0 {
		return ErrNoMedia
	}
	return nil
}
