package signaling

import (
	"log/slog"
	"sync"

	"github.com/cau-bridge/cau/sfu"
)

// room is a meeting in progress: every peer receives every other peer's
// tracks. Floor control and large-meeting policy will narrow that.
type room struct {
	name string
	log  *slog.Logger

	mu     sync.Mutex
	peers  map[string]*session
	order  []string // join order, for stable peer lists
	tracks []*sfu.UpTrack
}

func newRoom(name string, log *slog.Logger) *room {
	return &room{name: name, log: log.With("meeting", name), peers: map[string]*session{}}
}

// join adds a session, replacing an older session of the same identity, and
// returns the replaced one (to be closed by the caller). welcome is called
// with the peers already present before anything else can be sent to the
// newcomer, so "joined" is always its first frame.
func (r *room) join(s *session, welcome func(others []PeerInfo)) (replaced *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
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
	return replaced
}

// subscribeAll gives a newly joined session every track already published.
func (r *room) subscribeAll(s *session) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.peers[s.peerID] != s {
		return nil
	}
	var ups []*sfu.UpTrack
	for _, t := range r.tracks {
		if t.PeerID() != s.peerID {
			ups = append(ups, t)
		}
	}
	if len(ups) == 0 {
		return nil
	}
	return s.sub.Subscribe(ups...)
}

// leave removes a session if it is still the current one for its identity.
func (r *room) leave(s *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.peers[s.peerID] == s {
		r.removeLocked(s)
	}
}

func (r *room) removeLocked(s *session) {
	delete(r.peers, s.peerID)
	for i, id := range r.order {
		if id == s.peerID {
			r.order = append(r.order[:i], r.order[i+1:]...)
			break
		}
	}
	for _, p := range r.peers {
		p.send(TypePeerLeft, PeerLeftData{ID: s.peerID})
	}
}

// publish makes a new track available to every other peer and withdraws it
// when it ends.
func (r *room) publish(from *session, up *sfu.UpTrack) {
	r.mu.Lock()
	if r.peers[from.peerID] != from {
		r.mu.Unlock()
		return
	}
	r.tracks = append(r.tracks, up)
	for _, p := range r.peers {
		if p == from {
			continue
		}
		if err := p.sub.Subscribe(up); err != nil {
			r.log.Warn("subscribe failed", "peer", p.peerID, "track", up.ID(), "err", err)
		}
	}
	r.mu.Unlock()
	go func() {
		<-up.Done()
		r.unpublish(up)
	}()
}

func (r *room) unpublish(up *sfu.UpTrack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, t := range r.tracks {
		if t == up {
			r.tracks = append(r.tracks[:i], r.tracks[i+1:]...)
			break
		}
	}
	for _, p := range r.peers {
		if err := p.sub.Unsubscribe(up); err != nil {
			r.log.Debug("unsubscribe failed", "peer", p.peerID, "err", err)
		}
	}
}

func (r *room) empty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.peers) == 0
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
