package signaling

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cau-bridge/cau/sfu"
)

// Media is what signaling needs from the media plane.
type Media interface {
	NewPublisher(cfg sfu.PeerConfig, onTrack func(*sfu.UpTrack), onDemand func(sfu.LayerDemand)) (*sfu.Publisher, error)
	NewSubscriber(cfg sfu.PeerConfig) (*sfu.Subscriber, error)
}

// Config configures a signaling Server.
type Config struct {
	Media  Media
	Tokens *Tokens
	Logger *slog.Logger
	// Policy decides who receives what in every meeting. Default
	// DefaultPolicy.
	Policy Policy
	// Meetings, if set, gives the parameters of registered meetings, which
	// then run under floor control instead of Policy (see floor.go).
	Meetings Meetings
	// OnPresence, if set, hears every peer that joins (online) or leaves a
	// meeting. It is called outside locks and must not block for long.
	OnPresence func(meeting, peerID string, online bool)
	// VideoCodec is every meeting's video MIME type. Default "video/VP8".
	VideoCodec string
	// KeepaliveInterval is how often the server pings a client. Default 10 s.
	KeepaliveInterval time.Duration
	// KeepaliveTimeout closes a session that sent nothing (not even a pong)
	// for this long. Default 30 s.
	KeepaliveTimeout time.Duration
	// MaxFrame is the largest frame accepted, in bytes. Default 64 KiB.
	MaxFrame int64
	// RatePerSecond and RateBurst bound the frames a client may send.
	// Defaults 50 and 100.
	RatePerSecond float64
	RateBurst     int
	// Quality tunes the live quality monitor and its alerts (quality.go).
	Quality QualityConfig
}

// Server accepts WebSocket sessions and runs the meetings in progress.
type Server struct {
	cfg      Config
	log      *slog.Logger
	upgrader websocket.Upgrader

	mu       sync.Mutex
	rooms    map[string]*room
	sessions map[*session]struct{}
	closing  bool

	quality *monitor // live quality of every point (quality.go)
}

// NewServer returns a signaling server with defaults filled in.
func NewServer(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.VideoCodec == "" {
		cfg.VideoCodec = "video/VP8"
	}
	if cfg.KeepaliveInterval <= 0 {
		cfg.KeepaliveInterval = 10 * time.Second
	}
	if cfg.KeepaliveTimeout <= 0 {
		cfg.KeepaliveTimeout = 30 * time.Second
	}
	if cfg.MaxFrame <= 0 {
		cfg.MaxFrame = 64 << 10
	}
	if cfg.RatePerSecond <= 0 {
		cfg.RatePerSecond = 50
	}
	if cfg.RateBurst <= 0 {
		cfg.RateBurst = 100
	}
	s := &Server{
		cfg: cfg, log: cfg.Logger,
		upgrader: websocket.Upgrader{
			ReadBufferSize: 4096, WriteBufferSize: 4096,
			// Joining takes a token in the first message, not a cookie, so a
			// page from another origin gains nothing by opening a socket.
			CheckOrigin: func(*http.Request) bool { return true },
		},
		rooms:    map[string]*room{},
		sessions: map[*session]struct{}{},
	}
	s.quality = newMonitor(s, cfg.Quality)
	return s
}

// ServeHTTP upgrades the request to a WebSocket and runs a session on it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered with an HTTP error
	}
	sess := newSession(s, conn)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(time.Second))
		_ = conn.Close()
		return
	}
	s.sessions[sess] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sessions, sess)
		s.mu.Unlock()
	}()
	sess.run()
}

func (s *Server) presence(meeting, peerID string, online bool) {
	if s.cfg.OnPresence != nil {
		s.cfg.OnPresence(meeting, peerID, online)
	}
}

// roomFor returns the named meeting in progress, creating it: under floor
// control when Config.Meetings knows the meeting.
func (s *Server) roomFor(name string) (*room, error) {
	s.mu.Lock()
	r, ok := s.rooms[name]
	s.mu.Unlock()
	if ok {
		return r, nil
	}
	fl, err := s.floorFor(name) // unlocked: it may ask a database
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok = s.rooms[name]; !ok {
		r = newRoom(name, s.log, s.cfg.Policy)
		if fl != nil {
			r.floor, r.policy = fl, fl
		}
		s.rooms[name] = r
	}
	return r, nil
}

// dropRoomIfEmpty forgets a meeting once its last peer has gone.
func (s *Server) dropRoomIfEmpty(r *room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[r.name] == r && r.closeIfEmpty() {
		delete(s.rooms, r.name)
		r.close()
	}
}

// RoomPeers lists the peers in a meeting in progress.
func (s *Server) RoomPeers(name string) []PeerInfo {
	s.mu.Lock()
	r := s.rooms[name]
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	return r.peerInfos("")
}

// SubscriberTracks describes what a peer of a meeting receives, layer by
// layer, for dashboards and tests. It returns nil for an unknown peer.
func (s *Server) SubscriberTracks(meeting, peerID string) []sfu.TrackState {
	s.mu.Lock()
	r := s.rooms[meeting]
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	r.mu.Lock()
	p := r.peers[peerID]
	r.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.sub.Tracks()
}

// Close ends every session, telling clients the server is going away.
func (s *Server) Close(ctx context.Context) error {
	s.quality.close()
	s.mu.Lock()
	s.closing = true
	all := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		all = append(all, sess)
	}
	s.mu.Unlock()
	for _, sess := range all {
		sess.closeWith(websocket.CloseGoingAway, "server shutting down")
	}
	for _, sess := range all {
		select {
		case <-sess.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
