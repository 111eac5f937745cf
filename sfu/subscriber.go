package sfu

import (
	"fmt"

	"github.com/pion/webrtc/v4"
)

// Subscriber is the peer connection a client receives media on. The server
// always makes the offers; the client answers. Changes that arrive while an
// offer is outstanding are folded into one follow-up offer.
type Subscriber struct {
	*peer
	downs   map[*UpTrack]subscription
	pending bool // renegotiate once the outstanding offer is answered
}

type subscription struct {
	down   *downTrack
	sender *webrtc.RTPSender
}

// NewSubscriber prepares a subscriber connection. Nothing is offered until
// the first Subscribe.
func (s *SFU) NewSubscriber(cfg PeerConfig) (*Subscriber, error) {
	p, err := s.newPeer(cfg, "sub")
	if err != nil {
		return nil, err
	}
	sub := &Subscriber{peer: p, downs: map[*UpTrack]subscription{}}
	// Media written before the transport is up is lost, so video starts
	// with a fresh keyframe once it is.
	p.onConnected = sub.requestKeyframes
	return sub, nil
}

func (sub *Subscriber) requestKeyframes() {
	sub.mu.Lock()
	ups := make([]*UpTrack, 0, len(sub.downs))
	for up := range sub.downs {
		ups = append(ups, up)
	}
	sub.mu.Unlock()
	for _, up := range ups {
		up.RequestKeyframe()
	}
}

// Subscribe starts forwarding the given tracks to this client and offers
// them. Tracks already subscribed are skipped.
func (sub *Subscriber) Subscribe(ups ...*UpTrack) error {
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
		tr, err := sub.pc.AddTransceiverFromTrack(d, webrtc.RTPTransceiverInit{
			Direction: webrtc.RTPTransceiverDirectionSendonly,
		})
		if err != nil {
			return fmt.Errorf("sfu: subscribe to %s: %w", d.id, err)
		}
		go d.readRTCP(tr.Sender())
		up.addDown(d)
		sub.downs[up] = subscription{down: d, sender: tr.Sender()}
		added = true
	}
	if added {
		return sub.negotiateLocked()
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
		if err := sub.pc.RemoveTrack(s.sender); err != nil {
			return fmt.Errorf("sfu: unsubscribe from %s: %w", s.down.id, err)
		}
		removed = true
	}
	if removed {
		return sub.negotiateLocked()
	}
	return nil
}

// Subscribed reports how many tracks this client receives.
func (sub *Subscriber) Subscribed() int {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return len(sub.downs)
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
	}
	sub.downs = map[*UpTrack]subscription{}
	sub.mu.Unlock()
	return sub.close()
}
