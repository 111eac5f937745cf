package sfu

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/webrtc/v4"
)

// Subscriber is the peer connection a client receives media on. The server
// always makes the offers; the client answers. Changes that arrive while an
// offer is outstanding are folded into one follow-up offer.
type Subscriber struct {
	*peer
	downs   map[*UpTrack]subscription
	order   []*UpTrack // subscription order, for stable allocation
	pending bool       // renegotiate once the outstanding offer is answered

	bwe    cc.BandwidthEstimator // nil without transport-wide CC
	remb   atomic.Int64          // last REMB, bit/s
	rembAt atomic.Int64          // when it came, unix ns
	alloc  allocator             // owned by runAllocator
	kick   chan struct{}
	pacer  *passPacer // forgets a stream's writer when it is unsubscribed
}

type subscription struct {
	down   *downTrack
	sender *webrtc.RTPSender
}

// SubscribeOptions are a subscriber's wishes for one track.
type SubscribeOptions struct {
	// Quality caps the simulcast layer (video). Default high.
	Quality Quality
	// Priority orders video tracks when bandwidth is short: higher first.
	// Tracks with priority 0 or above keep their lowest layer however short
	// bandwidth is; tracks with a negative priority may be paused.
	Priority int
}

// NewSubscriber prepares a subscriber connection. Nothing is offered until
// the first Subscribe.
func (s *SFU) NewSubscriber(cfg PeerConfig) (*Subscriber, error) {
	p, err := s.newPeer(cfg, "sub")
	if err != nil {
		return nil, err
	}
	sub := &Subscriber{peer: p, downs: map[*UpTrack]subscription{}, kick: make(chan struct{}, 1)}
	if v, ok := s.bwes.LoadAndDelete(p.pc.ID()); ok {
		sub.bwe = v.(cc.BandwidthEstimator)
		if pv, ok := s.pacers.LoadAndDelete(sub.bwe); ok {
			sub.pacer = pv.(*passPacer)
		}
	}
	sub.alloc = newAllocator()
	// Media written before the transport is up is lost, so video starts
	// with a fresh keyframe once it is.
	p.onConnected = sub.requestKeyframes
	go sub.runAllocator()
	return sub, nil
}

func (sub *Subscriber) requestKeyframes() {
	sub.mu.Lock()
	downs := make([]*downTrack, 0, len(sub.downs))
	for _, s := range sub.downs {
		downs = append(downs, s.down)
	}
	sub.mu.Unlock()
	for _, d := range downs {
		d.requestKeyframe()
	}
}

// Subscribe starts forwarding the given tracks to this client at high
// quality and priority 0, and offers them. Tracks already subscribed are
// skipped.
func (sub *Subscriber) Subscribe(ups ...*UpTrack) error {
	return sub.SubscribeWith(SubscribeOptions{Quality: QualityHigh}, ups...)
}

// SubscribeWith is Subscribe with explicit options for video tracks.
func (sub *Subscriber) SubscribeWith(opts SubscribeOptions, ups ...*UpTrack) error {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.closed {
		return ErrClosed
	}
	added := false
	for _, up := range ups {
		if _, ok := sub.downs[up]; ok {
			continue
		}
		select {
		case <-up.Done():
			continue
		default:
		}
		d := newDownTrack(up, &sub.connected)
		d.quality, d.priority = opts.Quality, opts.Priority
		if d.video {
			d.target.Store(-1) // the allocator picks the first layer
		}
		tr, err := sub.pc.AddTransceiverFromTrack(d, webrtc.RTPTransceiverInit{
			Direction: webrtc.RTPTransceiverDirectionSendonly,
		})
		if err != nil {
			return fmt.Errorf("sfu: subscribe to %s: %w", d.id, err)
		}
		go d.readRTCP(tr.Sender(), sub.onREMB)
		up.addDown(d)
		sub.downs[up] = subscription{down: d, sender: tr.Sender()}
		sub.order = append(sub.order, up)
		added = true
	}
	if added {
		sub.poke()
		return sub.negotiateLocked()
	}
	return nil
}

// SetVideo changes the quality and priority of a subscribed video track.
func (sub *Subscriber) SetVideo(up *UpTrack, q Quality, priority int) error {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	s, ok := sub.downs[up]
	if !ok {
		return fmt.Errorf("sfu: not subscribed to %s:%s", up.peerID, up.id)
	}
	if s.down.quality != q || s.down.priority != priority {
		s.down.quality, s.down.priority = q, priority
		sub.poke()
	}
	return nil
}

// Unsubscribe stops forwarding the given tracks and offers their removal.
func (sub *Subscriber) Unsubscribe(ups ...*UpTrack) error {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.closed {
		return ErrClosed
	}
	removed := false
	for _, up := range ups {
		s, ok := sub.downs[up]
		if !ok {
			continue
		}
		up.removeDown(s.down)
		delete(sub.downs, up)
		for i, x := range sub.order {
			if x == up {
				sub.order = append(sub.order[:i], sub.order[i+1:]...)
				break
			}
		}
		if err := sub.pc.RemoveTrack(s.sender); err != nil {
			return fmt.Errorf("sfu: unsubscribe from %s: %w", s.down.id, err)
		}
		s.down.target.Store(-1)
		up.dyn.poke()
		if b := s.down.binding.Load(); b != nil && sub.pacer != nil {
			sub.pacer.remove(b.ssrc)
		}
		removed = true
	}
	if removed {
		return sub.negotiateLocked()
	}
	return nil
}

// TrackState is what one subscribed track currently delivers.
type TrackState struct {
	PeerID   string
	TrackID  string // as the client sees it: "<peer>:<track>"
	Kind     string
	Quality  Quality
	Priority int
	Target   int // layer chosen by the allocator, -1 paused
	Current  int // layer being forwarded, -1 none
	Packets  uint64
	Bytes    uint64
	// Retransmitted counts packets resent for this subscriber's NACKs, and
	// RTX whether they go on an RTX stream.
	Retransmitted uint64
	RTX           bool
}

// Tracks describes every subscribed track.
func (sub *Subscriber) Tracks() []TrackState {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	out := make([]TrackState, 0, len(sub.order))
	for _, up := range sub.order {
		d := sub.downs[up].down
		out = append(out, TrackState{
			PeerID: up.peerID, TrackID: d.id, Kind: up.Kind(), Quality: d.quality, Priority: d.priority,
			Target: int(d.target.Load()), Current: d.currentLayer(), Packets: d.packets.Load(), Bytes: d.bytes.Load(),
			Retransmitted: d.retransmitted.Load(),
		})
		if b := d.binding.Load(); b != nil {
			out[len(out)-1].RTX = b.rtxSSRC != 0
		}
	}
	return out
}

func (sub *Subscriber) onREMB(bps float32) {
	sub.remb.Store(int64(bps))
	sub.rembAt.Store(time.Now().UnixNano())
}

func (sub *Subscriber) poke() {
	select {
	case sub.kick <- struct{}{}:
	default:
	}
}

func (sub *Subscriber) negotiateLocked() error {
	if sub.pc.SignalingState() != webrtc.SignalingStateStable {
		sub.pending = true
		return nil
	}
	sub.pending = false
	offer, err := sub.pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("sfu: create offer: %w", err)
	}
	if err := sub.pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("sfu: set local offer: %w", err)
	}
	sub.emitDescriptionLocked("offer", offer.SDP)
	return nil
}

// HandleAnswer applies the client's answer to the outstanding offer, then
// sends the follow-up offer if changes piled up meanwhile.
func (sub *Subscriber) HandleAnswer(sdp string) error {
	if err := checkSDP(sdp, false); err != nil {
		return err
	}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.closed {
		return ErrClosed
	}
	if sub.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		return ErrUnexpectedAnswer
	}
	if err := sub.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	sub.flushRemoteCandidatesLocked()
	if sub.pending {
		return sub.negotiateLocked()
	}
	return nil
}

// Close ends the connection and detaches every down track from its source.
func (sub *Subscriber) Close() error {
	sub.mu.Lock()
	for up, s := range sub.downs {
		up.removeDown(s.down)
		s.down.target.Store(-1)
		up.dyn.poke()
	}
	sub.downs = map[*UpTrack]subscription{}
	sub.order = nil
	sub.mu.Unlock()
	return sub.close()
}
