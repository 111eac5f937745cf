package signaling

import (
	"context"
	"log/slog"
	"slices"
	"sync"

	"github.com/cau-bridge/cau/sfu"
)

// room is a meeting in progress. Its Policy decides who receives which
// tracks; by default everyone receives everyone.
type room struct {
	name   string
	log    *slog.Logger
	policy Policy
	floor  *floor // floor control, also the policy; nil in a plain room

	mu       sync.Mutex
	closed   bool // emptied and forgotten by the server: join elsewhere
	peers    map[string]*session
	order    []string // join order, for stable peer lists
	tracks   []*sfu.UpTrack
	speakers []string // recent loudest, loudest first
	active   string

	detector *sfu.SpeakerDetector
	stop     context.CancelFunc
}

func newRoom(name string, log *slog.Logger, policy Policy) *room {
	if policy == nil {
		policy = DefaultPolicy{}
	}
	r := &room{name: name, log: log.With("meeting", name), policy: policy, peers: map[string]*session{},
		detector: sfu.NewSpeakerDetector(sfu.SpeakerConfig{})}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	go r.detector.Run(ctx, r.onSpeakers)
	return r
}

// close stops the room's background work.
func (r *room) close() { r.stop() }

// join adds a session, replacing an older session of the same identity, and
// returns the replaced one (to be closed by the caller). welcome is called
// with the peers already present before anything else can be sent to the
// newcomer, so "joined" is always its first frame. It returns ok=false if
// the room has closed meanwhile.
func (r *room) join(s *session, welcome func(others []PeerInfo)) (replaced *session, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, false
	}
	if old, ok := r.peers[s.peerID]; ok {
		replaced = old
		r.removeLocked(old)
	}
	welcome(r.peerInfosLocked(s.peerID))
	r.peers[s.peerID] = s
	r.order = append(r.order, s.peerID)
	for _, p := range r.peers {
		if p != s {
			p.send(TypePeerJoined, s.info())
		}
	}
	if r.floor != nil {
		r.floorJoinedLocked(s)
	}
	return replaced, true
}

// subscribeAll gives a newly joined session what the policy grants it, and
// re-applies the policy for everyone when the room crossed a size rule.
func (r *room) subscribeAll(s *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.peers[s.peerID] != s {
		return
	}
	for _, t := range r.tracks {
		if t.PeerID() != s.peerID {
			s.send(TypeTrackPublished, trackData(t))
		}
	}
	r.reconcileLocked(nil)
}

// trackID is how subscribers name a track: "<publisher>:<track>".
func trackID(t *sfu.UpTrack) string { return t.PeerID() + ":" + t.ID() }

func trackData(t *sfu.UpTrack) TrackData {
	d := TrackData{PeerID: t.PeerID(), Track: trackID(t), Kind: t.Kind()}
	for _, l := range t.Layers() {
		if l.RID != "" {
			d.RIDs = append(d.RIDs, l.RID)
		}
	}
	return d
}

// hasVideo reports whether a video track with this subscriber-visible ID is
// published in the room.
func (r *room) hasVideo(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range r.tracks {
		if t.Kind() == "video" && trackID(t) == id {
			return true
		}
	}
	return false
}

// leave removes a session if it is still the current one for its identity.
func (r *room) leave(s *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.peers[s.peerID] == s {
		r.removeLocked(s)
		r.reconcileLocked(nil)
	}
}

func (r *room) removeLocked(s *session) {
	delete(r.peers, s.peerID)
	r.order = slices.DeleteFunc(r.order, func(id string) bool { return id == s.peerID })
	for _, p := range r.peers {
		p.send(TypePeerLeft, PeerLeftData{ID: s.peerID})
	}
	if r.floor != nil {
		r.floorLeftLocked(s.peerID)
	}
}

// publish makes a new track available under the policy and withdraws it
// when it ends.
func (r *room) publish(from *session, up *sfu.UpTrack) {
	r.mu.Lock()
	if r.peers[from.peerID] != from {
		r.mu.Unlock()
		return
	}
	r.tracks = append(r.tracks, up)
	if up.Kind() == "audio" {
		r.detector.Add(up.PeerID(), up.Meter())
	}
	for _, p := range r.peers {
		if p != from {
			p.send(TypeTrackPublished, trackData(up))
		}
	}
	r.reconcileLocked(up)
	r.mu.Unlock()
	go func() {
		<-up.Done()
		r.unpublish(up)
	}()
}

func (r *room) unpublish(up *sfu.UpTrack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.tracks, up) {
		return
	}
	r.tracks = slices.DeleteFunc(r.tracks, func(t *sfu.UpTrack) bool { return t == up })
	if up.Kind() == "audio" {
		// The peer may already publish a newer microphone: keep measuring it.
		r.detector.Remove(up.PeerID())
		for _, t := range r.tracks {
			if t.Kind() == "audio" && t.PeerID() == up.PeerID() {
				r.detector.Add(t.PeerID(), t.Meter())
			}
		}
	}
	for _, p := range r.peers {
		if p.peerID != up.PeerID() {
			p.send(TypeTrackUnpublished, TrackData{PeerID: up.PeerID(), Track: trackID(up), Kind: up.Kind()})
		}
	}
	for _, p := range r.peers {
		if err := p.sub.Unsubscribe(up); err != nil {
			r.log.Debug("unsubscribe failed", "peer", p.peerID, "err", err)
		}
	}
}

// onSpeakers broadcasts speaker changes and re-applies the policy, which
// may follow the speakers (large rooms forward only their audio).
func (r *room) onSpeakers(ev sfu.SpeakerEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Recent speakers stay until louder ones displace them, so a pause for
	// breath does not cut anyone off.
	next := make([]string, 0, len(ev.Levels)+len(r.speakers))
	for _, l := range ev.Levels {
		next = append(next, l.ID)
	}
	for _, id := range r.speakers {
		if !slices.Contains(next, id) && r.peers[id] != nil {
			next = append(next, id)
		}
	}
	if len(next) > 3 {
		next = next[:3]
	}
	changed := !slices.Equal(next, r.speakers) || ev.Active != r.active
	r.speakers, r.active = next, ev.Active
	levels := make([]SpeakerLevel, 0, len(ev.Levels))
	for _, l := range ev.Levels {
		levels = append(levels, SpeakerLevel{ID: l.ID, Level: int(l.Loudness)})
	}
	for _, p := range r.peers {
		p.send(TypeSpeaker, SpeakerData{Active: ev.Active, Changed: ev.Changed, Levels: levels})
	}
	if changed {
		r.reconcileLocked(nil)
	}
}

func (r *room) viewLocked() RoomView {
	return RoomView{Peers: len(r.peers), Speakers: slices.Clone(r.speakers), Active: r.active}
}

// reconcileLocked applies the policy: only to one new track when only is
// set, else to every track and subscriber.
func (r *room) reconcileLocked(only *sfu.UpTrack) {
	v := r.viewLocked()
	for _, p := range r.peers {
		var add, drop []*sfu.UpTrack
		for _, t := range r.tracks {
			if (only != nil && t != only) || t.PeerID() == p.peerID {
				continue
			}
			info := TrackInfo{PeerID: t.PeerID(), TrackID: trackID(t), Kind: t.Kind()}
			info.Requested, info.Explicit = p.requestedQuality(info.TrackID)
			c := r.policy.Select(v, p.peerID, info)
			if !c.Receive {
				drop = append(drop, t)
				continue
			}
			q := min(c.Quality, info.Requested)
			if t.Kind() == "audio" {
				add = append(add, t)
				continue
			}
			if err := p.sub.SubscribeWith(sfu.SubscribeOptions{Quality: q, Priority: c.Priority}, t); err != nil {
				r.log.Warn("subscribe failed", "peer", p.peerID, "track", info.TrackID, "err", err)
			} else if err := p.sub.SetVideo(t, q, c.Priority); err != nil {
				r.log.Debug("set video", "err", err)
			}
		}
		if len(add) > 0 {
			if err := p.sub.Subscribe(add...); err != nil {
				r.log.Warn("subscribe failed", "peer", p.peerID, "err", err)
			}
		}
		if len(drop) > 0 {
			if err := p.sub.Unsubscribe(drop...); err != nil {
				r.log.Debug("unsubscribe failed", "peer", p.peerID, "err", err)
			}
		}
	}
}

// requestChanged re-applies the policy after a subscriber asked for another
// quality.
func (r *room) requestChanged() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reconcileLocked(nil)
}

// closeIfEmpty marks an empty room closed, so no one joins it after the
// server has forgotten it, and reports whether it did.
func (r *room) closeIfEmpty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.peers) > 0 {
		return false
	}
	r.closed = true
	return true
}

func (r *room) peerInfos(except string) []PeerInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peerInfosLocked(except)
}

func (r *room) peerInfosLocked(except string) []PeerInfo {
	out := []PeerInfo{}
	for _, id := range r.order {
		if id != except {
			out = append(out, r.peers[id].info())
		}
	}
	return out
}
