package signaling

import (
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/cau-bridge/cau/sfu"
)

// sendQueue is how many frames may wait for a slow client before it is
// dropped. A province meeting's join storm queues a peer_joined and two
// track_published frames per site for each early joiner.
const sendQueue = 2048

const writeWait = 10 * time.Second

// session is one client's WebSocket connection and, once joined, its two
// peer connections.
type session struct {
	srv  *Server
	conn *websocket.Conn
	log  *slog.Logger

	out        chan []byte
	stop       chan struct{} // closed when the session starts closing
	writerDone chan struct{} // closed when writeLoop has returned
	done       chan struct{} // closed when cleanup is over
	closeOnce  sync.Once
	closeCode  int
	closeWhy   string

	// Set by join, read by the handlers on the read goroutine and by room.
	peerID string
	claims *Claims
	// room and sub are set once by join; stateMu orders that against
	// closeWith, which may run on another goroutine.
	stateMu sync.Mutex
	room    *room
	sub     *sfu.Subscriber

	pubMu sync.Mutex
	pub   *sfu.Publisher

	reqMu     sync.Mutex
	requested map[string]sfu.Quality // video quality asked for, by track ID
}

func newSession(srv *Server, conn *websocket.Conn) *session {
	return &session{
		srv: srv, conn: conn, log: srv.log.With("remote", conn.RemoteAddr().String()),
		out: make(chan []byte, sendQueue), stop: make(chan struct{}),
		writerDone: make(chan struct{}), done: make(chan struct{}),
	}
}

func (s *session) info() PeerInfo {
	return PeerInfo{ID: s.peerID, Name: s.claims.Name, Role: s.claims.Role}
}

// run serves the session until the client leaves or fails; it returns after
// cleanup.
func (s *session) run() {
	go s.writeLoop()
	defer s.closeWith(websocket.CloseNormalClosure, "")
	cfg := s.srv.cfg
	s.conn.SetReadLimit(cfg.MaxFrame)
	extend := func() { _ = s.conn.SetReadDeadline(time.Now().Add(cfg.KeepaliveTimeout)) }
	extend()
	s.conn.SetPongHandler(func(string) error { extend(); return nil })
	limiter := rate.NewLimiter(rate.Limit(cfg.RatePerSecond), cfg.RateBurst)
	for {
		kind, raw, err := s.conn.ReadMessage()
		if err != nil {
			s.readFailed(err)
			return
		}
		extend()
		if !limiter.Allow() {
			s.sendError(CodeRateLimited, "too many messages; the connection is closed", "")
			s.closeWith(websocket.ClosePolicyViolation, "rate limit exceeded")
			return
		}
		if kind != websocket.TextMessage {
			s.sendError(CodeBadMessage, "frames must be JSON text", "")
			continue
		}
		if stop := s.handle(raw); stop {
			return
		}
	}
}

func (s *session) readFailed(err error) {
	var ne interface{ Timeout() bool }
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		// gorilla has already sent close 1009 (message too big).
		s.log.Info("frame too large; closing")
		s.closeWith(websocket.CloseMessageTooBig, "frame too large")
	case errors.As(err, &ne) && ne.Timeout():
		s.log.Info("keepalive timeout; closing")
		s.closeWith(websocket.CloseGoingAway, "keepalive timeout")
	}
}

// handle processes one frame. It reports whether the session must end.
func (s *session) handle(raw []byte) bool {
	env, err := decodeEnvelope(raw)
	if err != nil {
		s.reply(err, env.ID)
		return false
	}
	if s.claims == nil && env.Type != TypeJoin && env.Type != TypePing {
		if knownType(env.Type) {
			s.sendError(CodeNotJoined, "send join first", env.ID)
		} else {
			s.sendError(CodeUnknownType, "unknown message type "+quote(env.Type), env.ID)
		}
		return false
	}
	switch env.Type {
	case TypeJoin:
		return s.handleJoin(env)
	case TypeOffer:
		err = s.handleOffer(env)
	case TypeAnswer:
		err = s.handleAnswer(env)
	case TypeCandidate:
		err = s.handleCandidate(env)
	case TypeQuality:
		err = s.handleQuality(env)
	case TypeHand, TypeFloorGrant, TypeFloorRevoke, TypeFloorMute, TypeFloorMic, TypeSpotlight, TypeGrid, TypeGridClose:
		err = s.handleFloor(env)
	case TypeQualitySubscribe, TypeQualityUnsubscribe:
		err = s.handleQualityFeed(env)
	case TypeCheck:
		err = s.handleCheck(env)
	case TypePing:
		err = decodeData(env, &struct{}{})
		if err == nil {
			s.send(TypePong, struct{}{})
		}
	case TypeLeave:
		if err = decodeData(env, &struct{}{}); err == nil {
			s.closeWith(websocket.CloseNormalClosure, "left")
			return true
		}
	default:
		err = errf(CodeUnknownType, "unknown message type %s", quote(env.Type))
	}
	if err != nil {
		s.reply(err, env.ID)
	}
	return false
}

func knownType(t string) bool {
	switch t {
	case TypeJoin, TypeOffer, TypeAnswer, TypeCandidate, TypeLeave, TypePing, TypeQuality,
		TypeQualitySubscribe, TypeQualityUnsubscribe, TypeCheck:
		return true
	}
	return isFloorType(t)
}

func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// handleJoin checks the token before any WebRTC work; a bad token ends the
// session.
func (s *session) handleJoin(env Envelope) bool {
	if s.claims != nil {
		s.sendError(CodeAlreadyJoined, "this session has already joined", env.ID)
		return false
	}
	var d JoinData
	if err := decodeData(env, &d); err != nil {
		s.reply(err, env.ID)
		return false
	}
	claims, err := s.srv.cfg.Tokens.Verify(d.Token)
	if err != nil {
		code := CodeUnauthorized
		if errors.Is(err, ErrTokenExpired) {
			code = CodeTokenExpired
		}
		s.sendError(code, err.Error(), env.ID)
		s.closeWith(websocket.ClosePolicyViolation, code)
		return true
	}
	if code, err := s.srv.admit(claims.Meeting, claims); err != nil {
		if code == CodeInternal {
			s.log.Error("look up meeting", "meeting", claims.Meeting, "err", err)
		}
		s.sendError(code, err.Error(), env.ID)
		s.closeWith(websocket.ClosePolicyViolation, code)
		return true
	}
	s.claims = claims
	s.peerID = claims.Subject
	s.log = s.log.With("peer", s.peerID, "meeting", claims.Meeting)
	subCfg := s.peerConfig()
	subCfg.OnSignal = s.signalTo(TargetSub)
	sub, err := s.srv.cfg.Media.NewSubscriber(subCfg)
	if err != nil {
		s.log.Error("create subscriber", "err", err)
		s.sendError(CodeInternal, "cannot create the media connection", env.ID)
		s.closeWith(websocket.CloseInternalServerErr, "internal error")
		return true
	}
	s.stateMu.Lock()
	select {
	case <-s.stop: // closed while joining: closeWith saw no sub to close
		s.stateMu.Unlock()
		_ = sub.Close()
		return true
	default:
	}
	s.sub = sub
	s.stateMu.Unlock()
	var replaced *session
	for attempt := 0; ; attempt++ {
		r, err := s.srv.roomFor(claims.Meeting)
		if err != nil {
			s.log.Error("join meeting", "err", err)
			s.sendError(CodeInternal, "the meeting could not be joined; try again", env.ID)
			s.closeWith(websocket.CloseInternalServerErr, "internal error")
			return true
		}
		s.stateMu.Lock()
		s.room = r
		s.stateMu.Unlock()
		var ok bool
		replaced, ok = r.join(s, func(others []PeerInfo) {
			s.send(TypeJoined, JoinedData{
				PeerID: s.peerID, Meeting: claims.Meeting, Name: claims.Name, Role: claims.Role,
				VideoCodec: s.srv.cfg.VideoCodec, Peers: others,
				KeepaliveMS: s.srv.cfg.KeepaliveInterval.Milliseconds(),
			})
		})
		if ok {
			break
		}
		if attempt == 3 {
			s.sendError(CodeInternal, "the meeting could not be joined; try again", env.ID)
			s.closeWith(websocket.CloseInternalServerErr, "internal error")
			return true
		}
		// The room emptied and closed between lookup and seating: take the
		// meeting's new room, unless the meeting itself ended meanwhile.
		if code, err := s.srv.admit(claims.Meeting, claims); err != nil {
			s.sendError(code, err.Error(), env.ID)
			s.closeWith(websocket.ClosePolicyViolation, code)
			return true
		}
	}
	select {
	case <-s.stop: // closed while joining: leave the seat just taken
		s.room.leave(s)
		s.srv.dropRoomIfEmpty(s.room)
		return true
	default:
	}
	if replaced != nil {
		replaced.closeWith(websocket.ClosePolicyViolation, "replaced by a newer session")
	}
	s.log.Info("joined")
	s.srv.presence(claims.Meeting, s.peerID, true)
	s.room.subscribeAll(s)
	return false
}

func (s *session) peerConfig() sfu.PeerConfig {
	return sfu.PeerConfig{
		PeerID:     s.peerID,
		VideoCodec: s.srv.cfg.VideoCodec,
		OnFailed: func() {
			go s.closeWith(websocket.CloseGoingAway, "media connection failed")
		},
	}
}

func (s *session) signalTo(target string) func(sfu.Signal) {
	return func(sig sfu.Signal) {
		switch sig.Type {
		case "candidate":
			s.send(TypeCandidate, CandidateData{Target: target, Candidate: sig.Candidate})
		default:
			s.send(sig.Type, SDPData{Target: target, SDP: sig.SDP})
		}
	}
}

func (s *session) publisher() (*sfu.Publisher, error) {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	if s.pub != nil {
		return s.pub, nil
	}
	select {
	case <-s.stop: // closeWith has or will read pub under pubMu: do not leak one
		return nil, sfu.ErrClosed
	default:
	}
	cfg := s.peerConfig()
	cfg.OnSignal = s.signalTo(TargetPub)
	pub, err := s.srv.cfg.Media.NewPublisher(cfg, func(up *sfu.UpTrack) { s.room.publish(s, up) },
		func(d sfu.LayerDemand) { s.send(TypeLayers, LayersData{Track: d.TrackID, Active: d.Active}) })
	if err != nil {
		return nil, err
	}
	s.pub = pub
	return pub, nil
}

func (s *session) handleOffer(env Envelope) error {
	var d SDPData
	if err := decodeData(env, &d); err != nil {
		return err
	}
	if d.Target != TargetPub {
		return errf(CodeBadMessage, "clients offer on target %q only", TargetPub)
	}
	if err := s.mayPublish(); err != nil {
		return err
	}
	pub, err := s.publisher()
	if err != nil {
		return err
	}
	return pub.HandleOffer(d.SDP)
}

func (s *session) handleQuality(env Envelope) error {
	var d QualityData
	if err := decodeData(env, &d); err != nil {
		return err
	}
	q, err := sfu.ParseQuality(d.Quality)
	if err != nil {
		return errf(CodeBadMessage, "%v", err)
	}
	if !s.room.hasVideo(d.Track) {
		return errf(CodeUnknownTrack, "no video track %s in this meeting", quote(d.Track))
	}
	s.reqMu.Lock()
	if s.requested == nil {
		s.requested = map[string]sfu.Quality{}
	}
	s.requested[d.Track] = q
	s.reqMu.Unlock()
	s.room.requestChanged()
	return nil
}

// requestedQuality is the quality the client asked for a track, and whether
// it asked (default high).
func (s *session) requestedQuality(trackID string) (sfu.Quality, bool) {
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	if q, ok := s.requested[trackID]; ok {
		return q, true
	}
	return sfu.QualityHigh, false
}

func (s *session) handleAnswer(env Envelope) error {
	var d SDPData
	if err := decodeData(env, &d); err != nil {
		return err
	}
	if d.Target != TargetSub {
		return errf(CodeBadMessage, "clients answer on target %q only", TargetSub)
	}
	return s.sub.HandleAnswer(d.SDP)
}

func (s *session) handleCandidate(env Envelope) error {
	var d CandidateData
	if err := decodeData(env, &d); err != nil {
		return err
	}
	var err error
	switch d.Target {
	case TargetSub:
		err = s.sub.AddCandidate(d.Candidate)
	case TargetPub:
		s.pubMu.Lock()
		pub := s.pub
		s.pubMu.Unlock()
		if pub == nil {
			return errf(CodeBadCandidate, "no publisher connection yet: send an offer first")
		}
		err = pub.AddCandidate(d.Candidate)
	default:
		return errf(CodeBadMessage, "unknown target %q", d.Target)
	}
	if err != nil && !errors.Is(err, sfu.ErrTooManyCands) {
		return errf(CodeBadCandidate, "%v", err)
	}
	return err
}

// send queues a frame. A client too slow to drain its queue is dropped.
func (s *session) send(typ string, data any) {
	s.sendFrame(Envelope{V: ProtocolVersion, Type: typ}, data)
}

func (s *session) sendFrame(env Envelope, data any) {
	body, err := json.Marshal(data)
	if err != nil {
		s.log.Error("marshal frame", "type", env.Type, "err", err)
		return
	}
	env.Data = body
	raw, err := json.Marshal(env)
	if err != nil {
		s.log.Error("marshal frame", "type", env.Type, "err", err)
		return
	}
	select {
	case s.out <- raw:
	case <-s.stop:
	default:
		// Callers may hold locks; close from elsewhere.
		go s.closeWith(websocket.CloseGoingAway, "client too slow")
	}
}

func (s *session) sendError(code, msg, ref string) {
	s.send(TypeError, ErrorData{Code: code, Message: msg, Ref: ref})
}

func (s *session) reply(err error, ref string) {
	code, msg := codeOf(err)
	if code == CodeInternal {
		s.log.Error("request failed", "err", err)
	}
	s.sendError(code, msg, ref)
}

// writeLoop is the only writer of data frames. When the session stops it
// flushes what is queued (such as the error that explains the close), then
// sends the close frame.
func (s *session) writeLoop() {
	defer close(s.writerDone)
	ping := time.NewTicker(s.srv.cfg.KeepaliveInterval)
	defer ping.Stop()
	for {
		select {
		case raw := <-s.out:
			_ = s.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := s.conn.WriteMessage(websocket.TextMessage, raw); err != nil {
				go s.closeWith(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-ping.C:
			if err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				go s.closeWith(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-s.stop:
			s.flushAndClose()
			return
		}
	}
}

func (s *session) flushAndClose() {
	deadline := time.Now().Add(time.Second)
	_ = s.conn.SetWriteDeadline(deadline)
	for {
		select {
		case raw := <-s.out:
			if s.conn.WriteMessage(websocket.TextMessage, raw) != nil {
				return
			}
		default:
			if s.closeCode != websocket.CloseAbnormalClosure {
				_ = s.conn.WriteControl(websocket.CloseMessage,
					websocket.FormatCloseMessage(s.closeCode, s.closeWhy), deadline)
			}
			return
		}
	}
}

// closeWith ends the session once, with a close code and reason for the
// client, and releases the peer connections and the room seat.
func (s *session) closeWith(code int, reason string) {
	s.closeOnce.Do(func() {
		s.closeCode, s.closeWhy = code, reason
		close(s.stop)
		<-s.writerDone
		_ = s.conn.Close()
		s.stateMu.Lock()
		room, sub := s.room, s.sub
		s.stateMu.Unlock()
		if room != nil {
			room.leave(s)
			s.srv.dropRoomIfEmpty(room)
			s.srv.presence(room.name, s.peerID, false)
		}
		s.pubMu.Lock()
		pub := s.pub
		s.pubMu.Unlock()
		if pub != nil {
			_ = pub.Close()
		}
		if sub != nil {
			_ = sub.Close()
		}
		s.log.Info("session closed", "code", code, "reason", reason)
		close(s.done)
	})
}
