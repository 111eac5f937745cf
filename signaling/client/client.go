// Package client is a Go (pion) participant that speaks Cầu's signaling
// protocol. Tests and cmd/cau-load use it as a synthetic bridge point; it is
// also a reference for writing other clients.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/cau-bridge/cau/signaling"
)

// Config configures a client.
type Config struct {
	URL   string // ws://host:port/ws
	Token string
	// API builds the peer connections. Default: LoopbackAPI().
	API *webrtc.API
	// PublishAPI, if set, builds the publisher connection instead of API.
	// An API whose connections share one UDP mux must not serve both of a
	// client's connections: they reach the same server address, so the mux
	// could not tell their packets apart.
	PublishAPI *webrtc.API
	// OnTrack is called for each track received on the subscriber
	// connection. The callee must read the track.
	OnTrack func(*webrtc.TrackRemote, *webrtc.RTPReceiver)
	// OnLayers is called when the server asks to pause or resume simulcast
	// layers of a published track (dynacast).
	OnLayers func(signaling.LayersData)
}

// Client is one joined participant.
type Client struct {
	Joined signaling.JoinedData

	cfg Config
	ws  *websocket.Conn
	wmu sync.Mutex

	mu         sync.Mutex
	pub, sub   *webrtc.PeerConnection
	pubPending bool // re-offer once the outstanding offer is answered
	// candMu guards the publisher's candidates held until its first offer
	// is sent.
	candMu       sync.Mutex
	pubOffered   bool
	pubOutbox    []signaling.CandidateData
	pubCands     []webrtc.ICECandidateInit
	subCands     []webrtc.ICECandidateInit
	subOffers    int
	lastSubOffer string
	closeCode    int
	closeText    string
	events       chan signaling.Envelope
	done         chan struct{}
	closeOnce    sync.Once
}

// LoopbackAPI is a pion API with the default codecs and interceptors that
// gathers only 127.0.0.1 candidates: tests and load stay on loopback. The
// network types default to UDP over IPv4; pass NetworkTypeTCP4 to force
// ICE-TCP.
func LoopbackAPI(networks ...webrtc.NetworkType) (*webrtc.API, error) {
	if len(networks) == 0 {
		networks = []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	}
	me, ir, err := DefaultMedia()
	if err != nil {
		return nil, err
	}
	logs := logging.NewDefaultLoggerFactory()
	logs.DefaultLogLevel = logging.LogLevelError
	se := webrtc.SettingEngine{LoggerFactory: logs}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes(networks)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	bigNet, err := newBigBufferNet()
	if err != nil {
		return nil, err
	}
	se.SetNet(bigNet)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir),
		webrtc.WithSettingEngine(se)), nil
}

// DefaultMedia is a client's media engine (default codecs, the audio level
// extension, simulcast extensions) and interceptors (NACK, reports, TWCC).
func DefaultMedia() (*webrtc.MediaEngine, *interceptor.Registry, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, nil, err
	}
	if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI},
		webrtc.RTPCodecTypeAudio); err != nil {
		return nil, nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, nil, err
	}
	return me, ir, nil
}

// ServerError is an error frame the server sent.
type ServerError struct {
	signaling.ErrorData
}

func (e *ServerError) Error() string { return "server error " + e.Code + ": " + e.Message }

// Dial connects, joins with the token and returns once "joined" arrives.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.API == nil {
		api, err := LoopbackAPI()
		if err != nil {
			return nil, err
		}
		cfg.API = api
	}
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, cfg.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", cfg.URL, err)
	}
	c := &Client{cfg: cfg, ws: ws, events: make(chan signaling.Envelope, 4096), done: make(chan struct{})}
	if err := c.Send(signaling.TypeJoin, signaling.JoinData{Token: cfg.Token}); err != nil {
		ws.Close()
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = ws.SetReadDeadline(dl)
	}
	_, raw, err := ws.ReadMessage()
	if err != nil {
		ws.Close()
		return nil, fmt.Errorf("wait for joined: %w", err)
	}
	_ = ws.SetReadDeadline(time.Time{})
	var env signaling.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		ws.Close()
		return nil, fmt.Errorf("decode reply to join: %w", err)
	}
	switch env.Type {
	case signaling.TypeJoined:
		if err := json.Unmarshal(env.Data, &c.Joined); err != nil {
			ws.Close()
			return nil, err
		}
	case signaling.TypeError:
		var e ServerError
		_ = json.Unmarshal(env.Data, &e.ErrorData)
		ws.Close()
		return nil, &e
	default:
		ws.Close()
		return nil, fmt.Errorf("unexpected reply to join: %s", env.Type)
	}
	if c.sub, err = c.newPC(signaling.TargetSub); err != nil {
		ws.Close()
		return nil, err
	}
	c.sub.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		if cfg.OnTrack != nil {
			cfg.OnTrack(t, r)
		}
	})
	go c.readLoop()
	return c, nil
}

func (c *Client) newPC(target string) (*webrtc.PeerConnection, error) {
	api := c.cfg.API
	if target == signaling.TargetPub && c.cfg.PublishAPI != nil {
		api = c.cfg.PublishAPI
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{BundlePolicy: webrtc.BundlePolicyMaxBundle})
	if err != nil {
		return nil, err
	}
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		d := signaling.CandidateData{Target: target, Candidate: cand.ToJSON()}
		if target == signaling.TargetPub {
			// Gathering starts at SetLocalDescription, before the offer
			// is sent: hold the publisher's candidates until it is, or
			// the server refuses them ("no publisher connection yet").
			c.candMu.Lock()
			defer c.candMu.Unlock()
			if !c.pubOffered {
				c.pubOutbox = append(c.pubOutbox, d)
				return
			}
		}
		_ = c.Send(signaling.TypeCandidate, d)
	})
	return pc, nil
}

// Send writes one frame.
func (c *Client) Send(typ string, data any) error {
	body, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return c.SendRaw(mustJSON(signaling.Envelope{V: signaling.ProtocolVersion, Type: typ, Data: body}))
}

// SendRaw writes one text frame as is (tests use it for bad input).
func (c *Client) SendRaw(raw []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, raw)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Events delivers frames other than SDP and candidates (peer_joined,
// peer_left, pong, error). When nobody reads, the oldest are dropped.
func (c *Client) Events() <-chan signaling.Envelope { return c.events }

// Done is closed when the connection to the server ends.
func (c *Client) Done() <-chan struct{} { return c.done }

// CloseReason is the close code and text the server sent, once Done.
func (c *Client) CloseReason() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode, c.closeText
}

// Pub is the publisher connection, or nil before Publish.
func (c *Client) Pub() *webrtc.PeerConnection {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pub
}

// Sub is the subscriber connection.
func (c *Client) Sub() *webrtc.PeerConnection { return c.sub }

// SubOffers returns how many offers the server has made on the subscriber
// connection, and the last one.
func (c *Client) SubOffers() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subOffers, c.lastSubOffer
}

// Publish sends tracks to the server and returns their senders. It returns
// once the offer is sent; media flows when the answer arrives.
func (c *Client) Publish(tracks ...webrtc.TrackLocal) ([]*webrtc.RTPSender, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ensurePubLocked(); err != nil {
		return nil, err
	}
	var senders []*webrtc.RTPSender
	for _, t := range tracks {
		tr, err := c.pub.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return nil, err
		}
		senders = append(senders, tr.Sender())
	}
	return senders, c.offerPubLocked()
}

// PublishSimulcast sends one video track as simulcast layers (each track
// in layers carries its RID, lowest first) plus any other tracks, and
// returns the video sender followed by the others' senders.
func (c *Client) PublishSimulcast(layers []*webrtc.TrackLocalStaticSample, others ...webrtc.TrackLocal) ([]*webrtc.RTPSender, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(layers) == 0 {
		return nil, errors.New("no simulcast layers")
	}
	if err := c.ensurePubLocked(); err != nil {
		return nil, err
	}
	wrapped := make([]*simulcastLayer, len(layers))
	for i, l := range layers {
		wrapped[i] = &simulcastLayer{TrackLocalStaticSample: l}
	}
	tr, err := c.pub.AddTransceiverFromTrack(wrapped[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return nil, err
	}
	for _, l := range wrapped {
		l.mid = tr.Mid
	}
	for _, l := range wrapped[1:] {
		if err := tr.Sender().AddEncoding(l); err != nil {
			return nil, fmt.Errorf("add simulcast layer %s: %w", l.RID(), err)
		}
	}
	senders := []*webrtc.RTPSender{tr.Sender()}
	for _, t := range others {
		otr, err := c.pub.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return nil, err
		}
		senders = append(senders, otr.Sender())
	}
	return senders, c.offerPubLocked()
}

// ensurePubLocked creates the publisher connection on first use.
func (c *Client) ensurePubLocked() error {
	if c.pub != nil {
		return nil
	}
	pc, err := c.newPC(signaling.TargetPub)
	if err != nil {
		return err
	}
	c.pub = pc
	return nil
}

func (c *Client) offerPubLocked() error {
	if c.pub.SignalingState() != webrtc.SignalingStateStable {
		c.pubPending = true
		return nil
	}
	c.pubPending = false
	offer, err := c.pub.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := c.pub.SetLocalDescription(offer); err != nil {
		return err
	}
	if err := c.Send(signaling.TypeOffer, signaling.SDPData{Target: signaling.TargetPub, SDP: offer.SDP}); err != nil {
		return err
	}
	c.candMu.Lock()
	defer c.candMu.Unlock()
	if !c.pubOffered {
		c.pubOffered = true
		for _, d := range c.pubOutbox {
			_ = c.Send(signaling.TypeCandidate, d)
		}
		c.pubOutbox = nil
	}
	return nil
}

func (c *Client) readLoop() {
	defer c.finish()
	for {
		_, raw, err := c.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				c.mu.Lock()
				c.closeCode, c.closeText = ce.Code, ce.Text
				c.mu.Unlock()
			}
			return
		}
		var env signaling.Envelope
		if json.Unmarshal(raw, &env) != nil {
			continue
		}
		if err := c.handle(env); err != nil {
			c.pushEvent(signaling.Envelope{V: 1, Type: "client_error", Data: mustJSON(err.Error())})
		}
	}
}

func (c *Client) handle(env signaling.Envelope) error {
	switch env.Type {
	case signaling.TypeOffer:
		var d signaling.SDPData
		if err := json.Unmarshal(env.Data, &d); err != nil {
			return err
		}
		return c.answerSub(d.SDP)
	case signaling.TypeAnswer:
		var d signaling.SDPData
		if err := json.Unmarshal(env.Data, &d); err != nil {
			return err
		}
		return c.applyPubAnswer(d.SDP)
	case signaling.TypeCandidate:
		var d signaling.CandidateData
		if err := json.Unmarshal(env.Data, &d); err != nil {
			return err
		}
		return c.addCandidate(d)
	}
	if env.Type == signaling.TypeLayers && c.cfg.OnLayers != nil {
		var d signaling.LayersData
		if err := json.Unmarshal(env.Data, &d); err != nil {
			return err
		}
		c.cfg.OnLayers(d)
	}
	c.pushEvent(env)
	return nil
}

func (c *Client) pushEvent(env signaling.Envelope) {
	for {
		select {
		case c.events <- env:
			return
		default:
			select {
			case <-c.events:
			default:
			}
		}
	}
}

func (c *Client) answerSub(sdp string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.subOffers++
	c.lastSubOffer = sdp
	if err := c.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return fmt.Errorf("apply server offer: %w", err)
	}
	for _, cand := range c.subCands {
		_ = c.sub.AddICECandidate(cand)
	}
	c.subCands = nil
	answer, err := c.sub.CreateAnswer(nil)
	if err != nil {
		return err
	}
	if err := c.sub.SetLocalDescription(answer); err != nil {
		return err
	}
	return c.Send(signaling.TypeAnswer, signaling.SDPData{Target: signaling.TargetSub, SDP: answer.SDP})
}

func (c *Client) applyPubAnswer(sdp string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pub == nil {
		return errors.New("answer for a publisher connection we do not have")
	}
	if err := c.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("apply server answer: %w", err)
	}
	for _, cand := range c.pubCands {
		_ = c.pub.AddICECandidate(cand)
	}
	c.pubCands = nil
	if c.pubPending {
		if err := c.offerPubLocked(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) addCandidate(d signaling.CandidateData) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	pc, queue := c.sub, &c.subCands
	if d.Target == signaling.TargetPub {
		pc, queue = c.pub, &c.pubCands
	}
	if pc == nil || pc.RemoteDescription() == nil {
		*queue = append(*queue, d.Candidate)
		return nil
	}
	return pc.AddICECandidate(d.Candidate)
}

// Leave tells the server we are going and closes everything.
func (c *Client) Leave() error {
	_ = c.Send(signaling.TypeLeave, struct{}{})
	select {
	case <-c.done:
	case <-time.After(2 * time.Second):
	}
	return c.Close()
}

// Close drops the connection without a goodbye (as a crashed point would).
func (c *Client) Close() error {
	err := c.ws.Close()
	c.finish()
	return err
}

func (c *Client) finish() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.mu.Lock()
		pub := c.pub
		c.mu.Unlock()
		if pub != nil {
			_ = pub.Close()
		}
		_ = c.sub.Close()
	})
}
