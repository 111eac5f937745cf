// Package netem impairs a participant's network like a weak commune link:
// a rate cap with a queue, random loss and delay on what it receives. Tests
// and the load generator use it on loopback.
package netem

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"

	"github.com/cau-bridge/cau/signaling/client"
)

// DefaultQueueDelay is how much traffic, in time at the configured rate, a
// Throttle queues before it starts dropping: about what a home router or a
// 4G cell buffers.
const DefaultQueueDelay = 100 * time.Millisecond

const (
	// throttleBurst is how long a token bucket can save up: enough for a
	// frame's worth of packets back to back, short enough not to disturb
	// a measurement over a second.
	throttleBurst = 10 * time.Millisecond
	// throttleMinBytes keeps the bucket and the queue able to hold one
	// full-size packet at very low rates, where 10 or 100 ms of rate is
	// smaller than a packet and would otherwise starve the link.
	throttleMinBytes = 1500
	// throttlePending bounds packets held between reader and scheduler
	// (queued for rate or delay); beyond it the link drops, as a router
	// with no memory left would.
	throttlePending = 4096
	// throttleReady bounds packets released but not yet read, so a slow
	// reader cannot make the throttle buffer without limit.
	throttleReady = 1024
	// throttleReadBuf fits any UDP datagram.
	throttleReadBuf = 64 << 10
)

// Throttle caps and impairs the packets a participant receives, like a
// weak commune link. Safe for concurrent use; its settings can change while
// traffic flows. All conns wrapped by one Throttle share one bottleneck, as
// a participant's connections share its access link.
type Throttle struct {
	mu         sync.Mutex
	rate       int // bits per second, 0 = unlimited
	loss       float64
	delay      time.Duration
	queueDelay time.Duration
	// tokens is the token bucket's content in bytes. Negative means debt:
	// bytes queued behind the policer, waiting for the bucket to refill,
	// so the FIFO queue and the bucket are one number.
	tokens float64
	last   time.Time // when tokens was last refilled

	passed, dropped atomic.Uint64
}

// NewThrottle returns a throttle that lets everything through at once.
func NewThrottle() *Throttle {
	return &Throttle{queueDelay: DefaultQueueDelay}
}

// SetRate caps the link at bitsPerSecond; 0 removes the cap. Packets over
// the rate wait in a FIFO queue of at most the queue delay's worth of bytes
// (see SetQueueDelay); packets that would overflow it are dropped. This is
// how a real bottleneck behaves, and what congestion control reacts to:
// delay grows first, then loss.
func (th *Throttle) SetRate(bitsPerSecond int) {
	th.mu.Lock()
	defer th.mu.Unlock()
	th.rate = max(bitsPerSecond, 0)
	if th.rate == 0 {
		// Forget the debt: an unlimited link has no queue. Packets
		// already scheduled still leave in order.
		th.tokens = 0
	}
	th.tokens = min(th.tokens, th.burstBytes())
}

// SetQueueDelay sets the queue's size, as time at the configured rate;
// 0 restores DefaultQueueDelay.
func (th *Throttle) SetQueueDelay(d time.Duration) {
	if d <= 0 {
		d = DefaultQueueDelay
	}
	th.mu.Lock()
	defer th.mu.Unlock()
	th.queueDelay = d
}

// SetLoss drops each packet at random with probability fraction (0..1).
func (th *Throttle) SetLoss(fraction float64) {
	th.mu.Lock()
	defer th.mu.Unlock()
	th.loss = min(max(fraction, 0), 1)
}

// SetDelay adds a fixed delay to every packet, on top of queueing.
func (th *Throttle) SetDelay(d time.Duration) {
	th.mu.Lock()
	defer th.mu.Unlock()
	th.delay = max(d, 0)
}

// Stats returns how many packets were delivered to readers and how many
// were dropped (random loss, queue overflow) since the throttle was made.
func (th *Throttle) Stats() (passed, dropped uint64) {
	return th.passed.Load(), th.dropped.Load()
}

// burstBytes is the bucket's capacity. th.mu must be held.
func (th *Throttle) burstBytes() float64 {
	return max(float64(th.rate)/8*throttleBurst.Seconds(), throttleMinBytes)
}

// admit decides the fate of a packet of size bytes that arrived at now:
// when it leaves the link, or ok=false if the link drops it.
func (th *Throttle) admit(size int, now time.Time) (at time.Time, ok bool) {
	th.mu.Lock()
	defer th.mu.Unlock()
	if th.loss > 0 && rand.Float64() < th.loss {
		return time.Time{}, false
	}
	at = now.Add(th.delay)
	if th.rate == 0 {
		return at, true
	}
	bytesPerSec := float64(th.rate) / 8
	if !th.last.IsZero() {
		th.tokens += now.Sub(th.last).Seconds() * bytesPerSec
	} else {
		th.tokens = th.burstBytes()
	}
	th.tokens = min(th.tokens, th.burstBytes())
	th.last = now
	queueLimit := max(bytesPerSec*th.queueDelay.Seconds(), throttleMinBytes)
	if th.tokens-float64(size) < -queueLimit {
		return time.Time{}, false // tail drop: the queue is full
	}
	th.tokens -= float64(size)
	if th.tokens < 0 {
		// The packet leaves once the bucket has refilled its debt; debt
		// only grows between refills, so departures stay in order.
		at = at.Add(time.Duration(-th.tokens / bytesPerSec * float64(time.Second)))
	}
	return at, true
}

// PacketConn wraps c so that packets READ from it go through the throttle;
// writes are untouched. Closing the wrapper closes c.
func (th *Throttle) PacketConn(c net.PacketConn) net.PacketConn {
	tc := &throttledConn{
		th:       th,
		inner:    c,
		pending:  make(chan throttledPacket, throttlePending),
		ready:    make(chan throttledPacket, throttleReady),
		closed:   make(chan struct{}),
		dead:     make(chan struct{}),
		dlChange: make(chan struct{}),
	}
	tc.wg.Add(2)
	go tc.readLoop()
	go tc.scheduleLoop()
	return tc
}

// API returns a pion API like client.LoopbackAPI whose peer connections all
// share one UDP socket on 127.0.0.1 behind this throttle. Close the closer
// after the peer connections.
func (th *Throttle) API() (*webrtc.API, io.Closer, error) {
	return muxAPI(th.PacketConn)
}

// socketBuffer is asked of the kernel for each socket (it caps the request
// at net.core.rmem_max / wmem_max).
const socketBuffer = 4 << 20

func muxAPI(wrap func(net.PacketConn) net.PacketConn) (*webrtc.API, io.Closer, error) {
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, nil, fmt.Errorf("listen: %w", err)
	}
	_ = udp.SetReadBuffer(socketBuffer)
	_ = udp.SetWriteBuffer(socketBuffer)
	logs := logging.NewDefaultLoggerFactory()
	logs.DefaultLogLevel = logging.LogLevelError
	mux := webrtc.NewICEUDPMux(logs.NewLogger("ice"), wrap(udp))
	me, ir, err := client.DefaultMedia()
	if err != nil {
		_ = mux.Close()
		return nil, nil, fmt.Errorf("media engine: %w", err)
	}
	se := webrtc.SettingEngine{LoggerFactory: logs}
	se.SetIncludeLoopbackCandidate(true) // else the mux's 127.0.0.1 is skipped
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEUDPMux(mux)
	// Closing the mux closes the socket; close it after the peer
	// connections that use it.
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir),
		webrtc.WithSettingEngine(se)), mux, nil
}

// throttledPacket is one datagram on its way through the throttle.
type throttledPacket struct {
	buf  *[]byte
	addr net.Addr
	at   time.Time // when it leaves the link
}

// packetBufs recycles packet copies: at video rates a fresh allocation per
// packet would be most of the throttle's cost.
var packetBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1500); return &b }}

// throttledConn reads its inner conn in one goroutine, which decides each
// packet's fate and queues it; a second goroutine releases queued packets
// at their time into ready, which ReadFrom consumes. Splitting the work
// keeps the socket drained while packets wait, so the kernel's buffer never
// becomes a second, unmodelled queue in front of the throttle.
//
// It deliberately implements only net.PacketConn: pion's UDP mux uses
// ReadFromAddrPort on a *net.UDPConn or on anything with that method, which
// would bypass the throttle.
type throttledConn struct {
	th      *Throttle
	inner   net.PacketConn
	pending chan throttledPacket // admitted, waiting for their time
	ready   chan throttledPacket // released, waiting for ReadFrom
	wg      sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
	closed    chan struct{} // Close was called

	deadOnce sync.Once
	readErr  error
	dead     chan struct{} // the inner conn failed; readErr says why

	dlMu     sync.Mutex
	deadline time.Time
	dlChange chan struct{} // closed and replaced when the deadline changes
}

func (c *throttledConn) readLoop() {
	defer c.wg.Done()
	buf := make([]byte, throttleReadBuf)
	for {
		n, addr, err := c.inner.ReadFrom(buf)
		if err != nil {
			// Whatever the inner conn reports (closed, or a socket error
			// pion would also have seen from a bare conn) ends reading.
			c.deadOnce.Do(func() { c.readErr = err; close(c.dead) })
			return
		}
		at, ok := c.th.admit(n, time.Now())
		if !ok {
			c.th.dropped.Add(1)
			continue
		}
		b := packetBufs.Get().(*[]byte)
		*b = append((*b)[:0], buf[:n]...)
		select {
		case c.pending <- throttledPacket{buf: b, addr: addr, at: at}:
		default:
			c.th.dropped.Add(1)
			packetBufs.Put(b)
		}
	}
}

func (c *throttledConn) scheduleLoop() {
	defer c.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var p throttledPacket
		select {
		case p = <-c.pending:
		case <-c.closed:
			return
		}
		// FIFO: a packet never overtakes the one ahead of it, even if
		// a delay change gave it an earlier time.
		if d := time.Until(p.at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-c.closed:
				timer.Stop()
				return
			}
		}
		select {
		case c.ready <- p:
			c.th.passed.Add(1)
		case <-c.closed:
			return
		}
	}
}

// ReadFrom returns the next packet the throttle releases. It honours the
// read deadline and returns at once when the conn is closed: pion's UDP mux
// relies on both to stop its reader.
func (c *throttledConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		c.dlMu.Lock()
		dl, changed := c.deadline, c.dlChange
		c.dlMu.Unlock()
		var expired <-chan time.Time
		var timer *time.Timer
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, nil, c.opErr(os.ErrDeadlineExceeded)
			}
			timer = time.NewTimer(d)
			expired = timer.C
		}
		n, addr, again, err := c.wait(p, expired, changed)
		if timer != nil {
			timer.Stop()
		}
		if !again {
			return n, addr, err
		}
		// SetReadDeadline was called: start over with the new deadline.
	}
}

// wait is one round of ReadFrom; again reports a deadline change.
func (c *throttledConn) wait(p []byte, expired <-chan time.Time, changed <-chan struct{}) (n int, addr net.Addr, again bool, err error) {
	select {
	case pkt := <-c.ready:
		n = copy(p, *pkt.buf)
		packetBufs.Put(pkt.buf)
		return n, pkt.addr, false, nil
	case <-c.closed:
		return 0, nil, false, c.opErr(net.ErrClosed)
	case <-c.dead:
		return 0, nil, false, c.readErr
	case <-expired:
		return 0, nil, false, c.opErr(os.ErrDeadlineExceeded)
	case <-changed:
		return 0, nil, true, nil
	}
}

func (c *throttledConn) opErr(err error) error {
	return &net.OpError{Op: "read", Net: c.inner.LocalAddr().Network(), Addr: c.inner.LocalAddr(), Err: err}
}

// WriteTo is the inner conn's: only the downlink is throttled.
func (c *throttledConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	return c.inner.WriteTo(p, addr)
}

// Close closes the inner conn, unblocks ReadFrom and waits for the
// throttle's goroutines to end.
func (c *throttledConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.closeErr = c.inner.Close()
		c.wg.Wait()
	})
	if errors.Is(c.closeErr, net.ErrClosed) {
		// Someone closed the inner conn first; ours is still a clean close.
		return nil
	}
	return c.closeErr
}

func (c *throttledConn) LocalAddr() net.Addr { return c.inner.LocalAddr() }

func (c *throttledConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.inner.SetWriteDeadline(t)
}

// SetReadDeadline applies to ReadFrom only: the goroutine reading the inner
// conn keeps going so the link keeps its timing while nobody reads.
func (c *throttledConn) SetReadDeadline(t time.Time) error {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	c.deadline = t
	close(c.dlChange)
	c.dlChange = make(chan struct{})
	return nil
}

func (c *throttledConn) SetWriteDeadline(t time.Time) error {
	return c.inner.SetWriteDeadline(t)
}
