package app

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/cau-bridge/cau/registry"
	"github.com/cau-bridge/cau/signaling"
)

// registryMeetings gives signaling the floor parameters of registered
// meetings.
type registryMeetings struct{ reg *registry.Registry }

func (m registryMeetings) Meeting(ctx context.Context, id string) (signaling.MeetingInfo, error) {
	mt, err := m.reg.Meeting(ctx, id)
	if errors.Is(err, registry.ErrNotFound) {
		return signaling.MeetingInfo{}, signaling.ErrNoMeeting
	}
	if err != nil {
		return signaling.MeetingInfo{}, err
	}
	return signaling.MeetingInfo{OnAirMax: mt.OnAirMax, ChairPoint: mt.ChairPoint,
		Closed: mt.State != registry.StateOpen && mt.State != registry.StateLive}, nil
}

// CheckCredential lets signaling refuse a device whose credential was
// revoked after its meeting token was minted.
func (m registryMeetings) CheckCredential(ctx context.Context, id, point string) error {
	return m.reg.CheckCredential(ctx, id, point)
}

// presenceEvent is one join or leave, recorded for the roll call.
type presenceEvent struct {
	meeting, peer string
	online        bool
}

// presenceRecorder writes joins and leaves to the registry off the
// signaling path: signaling only queues them.
type presenceRecorder struct {
	reg    *registry.Registry
	log    *slog.Logger
	events chan presenceEvent
	done   chan struct{}
}

func newPresenceRecorder(reg *registry.Registry, log *slog.Logger) *presenceRecorder {
	p := &presenceRecorder{reg: reg, log: log, events: make(chan presenceEvent, 4096), done: make(chan struct{})}
	go p.run()
	return p
}

// note queues an event; when the queue is full (a join storm far beyond a
// province) the event is dropped and logged rather than stall signaling.
func (p *presenceRecorder) note(meeting, peer string, online bool) {
	select {
	case p.events <- presenceEvent{meeting, peer, online}:
	default:
		p.log.Warn("presence queue full; roll call misses an event", "meeting", meeting, "peer", peer)
	}
}

func (p *presenceRecorder) run() {
	defer close(p.done)
	for e := range p.events {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := p.reg.Presence(ctx, e.meeting, e.peer, e.online); err != nil {
			p.log.Warn("record presence", "err", err)
		}
		cancel()
	}
}

// close drains the queue.
func (p *presenceRecorder) close() {
	close(p.events)
	<-p.done
}

// live answers the REST API's questions about meetings in progress.
type live struct {
	sig *signaling.Server
}

func (l live) Connected(meeting string) map[string]bool {
	out := map[string]bool{}
	for _, p := range l.sig.RoomPeers(meeting) {
		out[p.ID] = true
	}
	return out
}

// Flowing lists the points whose published media arrived in the last
// sample window.
func (l live) Flowing(meeting string) map[string]bool {
	out := map[string]bool{}
	for _, q := range l.sig.Quality(meeting) {
		if q.Online && q.Publishing && q.SilentMS == 0 && q.Up.BitrateBPS > 0 {
			out[q.Point] = true
		}
	}
	return out
}

func (l live) Quality(meeting string) any {
	pts := l.sig.Quality(meeting)
	if pts == nil {
		pts = []signaling.PointQuality{}
	}
	return map[string]any{"meeting": meeting, "points": pts}
}
