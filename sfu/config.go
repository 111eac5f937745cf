package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
)

// Config configures the media plane.
type Config struct {
	// ListenIP is the address the ICE ports bind to. Empty means all
	// interfaces; tests use 127.0.0.1.
	ListenIP string
	// UDPPort is the one UDP port every peer shares (ICE UDP mux). 0 picks a
	// free port.
	UDPPort int
	// TCPPort is the one TCP port for ICE-TCP. 0 picks a free port; a
	// negative value disables ICE-TCP.
	TCPPort int
	// PublicIPs are the addresses clients should reach the server at when it
	// sits behind a 1:1 NAT. They replace host candidate addresses.
	PublicIPs []string
	// IncludeLoopback offers 127.0.0.1 candidates (needed for tests and for
	// a browser on the same machine).
	IncludeLoopback bool
	// KeyframeInterval is the least time between two keyframe requests sent
	// to one publisher track. Default 500 ms.
	KeyframeInterval time.Duration
	// Logger receives the media plane's logs. Default slog.Default().
	Logger *slog.Logger
}

// SFU owns the shared ICE sockets and builds peer connections.
type SFU struct {
	cfg     Config
	log     *slog.Logger
	udp     net.PacketConn
	tcp     net.Listener
	udpMux  ice.UDPMux
	tcpMux  ice.TCPMux
	apis    map[string]*webrtc.API // publishers', by video codec MIME type
	subAPIs map[string]*webrtc.API // subscribers', with congestion control
	bwes    sync.Map               // peer connection ID -> cc.BandwidthEstimator
	pacers  sync.Map               // cc.BandwidthEstimator -> *passPacer
	taps    sync.Map               // peer connection ID -> *reportTap (publishers)
	closers []func() error

	counters counters
}

// ErrUnknownCodec is returned for a video codec the SFU does not offer.
var ErrUnknownCodec = errors.New("sfu: unknown video codec")

// New binds the shared ICE ports and prepares the WebRTC stacks.
func New(cfg Config) (*SFU, error) {
	if cfg.KeyframeInterval <= 0 {
		cfg.KeyframeInterval = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &SFU{cfg: cfg, log: cfg.Logger, apis: map[string]*webrtc.API{}, subAPIs: map[string]*webrtc.API{}}
	ip := net.ParseIP(cfg.ListenIP)
	if cfg.ListenIP != "" && ip == nil {
		return nil, fmt.Errorf("sfu: listen IP %q is not an IP address", cfg.ListenIP)
	}
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: cfg.UDPPort})
	if err != nil {
		return nil, fmt.Errorf("sfu: listen ICE UDP port %d: %w", cfg.UDPPort, err)
	}
	s.udp = udp
	// Keyframe bursts from many publishers arrive at once; a small kernel
	// buffer would drop them before the mux reads them.
	if err := udp.SetReadBuffer(8 << 20); err != nil {
		s.log.Warn("cannot enlarge the UDP receive buffer", "err", err)
	}
	_ = udp.SetWriteBuffer(8 << 20)
	pionLog := logging.NewDefaultLoggerFactory()
	pionLog.DefaultLogLevel = logging.LogLevelError
	s.udpMux = webrtc.NewICEUDPMux(pionLog.NewLogger("udpmux"), newBatchConn(udp))
	s.closers = append(s.closers, s.udpMux.Close)
	if cfg.TCPPort >= 0 {
		tcp, err := net.ListenTCP("tcp", &net.TCPAddr{IP: ip, Port: cfg.TCPPort})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("sfu: listen ICE TCP port %d: %w", cfg.TCPPort, err)
		}
		s.tcp = tcp
		s.tcpMux = webrtc.NewICETCPMux(pionLog.NewLogger("tcpmux"), tcp, 64)
		s.closers = append(s.closers, s.tcpMux.Close)
	}
	for _, mime := range []string{webrtc.MimeTypeVP8, webrtc.MimeTypeH264} {
		api, err := s.newAPI(mime, pionLog, false)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.apis[mime] = api
		if api, err = s.newAPI(mime, pionLog, true); err != nil {
			s.Close()
			return nil, err
		}
		s.subAPIs[mime] = api
	}
	return s, nil
}

func (s *SFU) newAPI(videoMime string, logs logging.LoggerFactory, subscriber bool) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := registerCodecs(me, videoMime, subscriber); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if subscriber {
		// The congestion controller must see packets after the TWCC
		// sequence number is set, so it goes in first.
		ccf, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
			pacer := newPassPacer()
			e, err := gcc.NewSendSideBWE(gcc.SendSideBWEInitialBitrate(2_000_000),
				gcc.SendSideBWEMinBitrate(100_000), gcc.SendSideBWEMaxBitrate(30_000_000),
				gcc.SendSideBWEPacer(pacer), gcc.WithLoggerFactory(logs))
			if err == nil {
				s.pacers.Store(e, pacer)
			}
			return e, err
		})
		if err != nil {
			return nil, err
		}
		ccf.OnNewPeerConnection(func(id string, e cc.BandwidthEstimator) { s.bwes.Store(id, e) })
		ir.Add(ccf)
	}
	if !subscriber {
		// First, so the receiver reports pion sends pass through it.
		ir.Add(&tapFactory{taps: &s.taps, totals: &s.counters})
	}
	if err := registerInterceptors(me, ir, subscriber); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{LoggerFactory: logs}
	se.SetICEUDPMux(s.udpMux)
	types := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if s.tcpMux != nil {
		se.SetICETCPMux(s.tcpMux)
		types = append(types, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(types)
	se.SetIncludeLoopbackCandidate(s.cfg.IncludeLoopback)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.DisableActiveTCP(true)
	if len(s.cfg.PublicIPs) > 0 {
		se.SetNAT1To1IPs(s.cfg.PublicIPs, webrtc.ICECandidateTypeHost)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir),
		webrtc.WithSettingEngine(se)), nil
}

// UDPAddr is the address of the shared ICE UDP port.
func (s *SFU) UDPAddr() net.Addr { return s.udp.LocalAddr() }

// TCPAddr is the address of the shared ICE-TCP port, or nil when disabled.
func (s *SFU) TCPAddr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// Close releases the shared ports. Peers should be closed first.
func (s *SFU) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	return errors.Join(errs...)
}

func (s *SFU) api(apis map[string]*webrtc.API, videoMime string) (*webrtc.API, error) {
	if videoMime == "" {
		videoMime = webrtc.MimeTypeVP8
	}
	for m, api := range apis {
		if equalFoldASCII(m, videoMime) {
			return api, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownCodec, videoMime)
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
