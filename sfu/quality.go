package sfu

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
)

// Link quality. The packet path only bumps counters it already had (plus
// one atomic add on a sequence gap or a late packet); everything here is read
// by a monitor a second or so apart, which turns the cumulative counters
// into rates and ratios. What the far ends report comes from RTCP: the
// receiver reports a subscriber sends about our down tracks, and the
// receiver reports pion sends publishers about their streams, seen on the
// way out by a small interceptor.

// StreamReport is the last RTCP receiver report about one stream.
type StreamReport struct {
	// At is when the report arrived (or was sent); zero when none has.
	At time.Time
	// FractionLost is the loss the receiver saw over the report's interval.
	FractionLost float64
	// TotalLost is the cumulative number of packets lost (24 bits, wraps).
	TotalLost uint32
	// Highest is the extended highest sequence number received.
	Highest uint32
	// Jitter is the interarrival jitter (RFC 3550).
	Jitter time.Duration
	// RTT is the round trip computed from the report's LSR and DLSR against
	// our own sender report; 0 when unknown.
	RTT time.Duration
	// Skipped is the down track's Skipped count when the report arrived,
	// so loss between two reports can be split into the subscriber's link
	// and the publisher's.
	Skipped int64
}

// reportStats keeps a down track's last receiver report. It is written by
// the track's RTCP reader and read by the monitor, never on the packet path.
type reportStats struct {
	mu   sync.Mutex
	last StreamReport
}

func (r *reportStats) get() StreamReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// onReports records the report block about this down track's stream, if the
// subscriber's RTCP carries one.
func (d *downTrack) onReports(reports []rtcp.ReceptionReport, now time.Time) {
	b := d.binding.Load()
	if b == nil {
		return
	}
	for _, rep := range reports {
		if rep.SSRC != b.ssrc {
			continue
		}
		sr := StreamReport{
			At: now, FractionLost: float64(rep.FractionLost) / 256, TotalLost: rep.TotalLost & 0xffffff,
			Highest: rep.LastSequenceNumber, Jitter: rtpDuration(rep.Jitter, d.src.codec.ClockRate),
			RTT: reportRTT(now, rep.LastSenderReport, rep.Delay), Skipped: d.skipped(),
		}
		d.rr.mu.Lock()
		d.rr.last = sr
		d.rr.mu.Unlock()
	}
}

// reportRTT is the round trip a receiver report reveals: the time since the
// sender report it names (LSR, middle 32 bits of its NTP time) minus the
// time the receiver held it (DLSR), both in 1/65536 s.
func reportRTT(now time.Time, lsr, dlsr uint32) time.Duration {
	if lsr == 0 {
		return 0
	}
	units := int32(compactNTP(now) - lsr - dlsr)
	if units <= 0 {
		// Below the 15 µs resolution (loopback) or clocks disagree: report
		// the resolution rather than nothing.
		if units > -16 {
			return time.Second / 65536
		}
		return 0
	}
	return time.Duration(int64(units) * int64(time.Second) / 65536)
}

// ntpEpochOffset is the number of seconds from 1900 (NTP) to 1970 (Unix).
const ntpEpochOffset = 2208988800

// compactNTP is the middle 32 bits of t's 64-bit NTP timestamp.
func compactNTP(t time.Time) uint32 {
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := (uint64(t.Nanosecond()) << 32) / uint64(time.Second)
	return uint32((secs<<32 | frac) >> 16)
}

// rtpDuration converts RTP timestamp units to time.
func rtpDuration(units, clockRate uint32) time.Duration {
	if clockRate == 0 {
		return 0
	}
	return time.Duration(uint64(units) * uint64(time.Second) / uint64(clockRate))
}

// nackCount is how many packets a NACK asks for.
func nackCount(n *rtcp.TransportLayerNack) uint64 {
	var c uint64
	for _, p := range n.Nacks {
		c += 1 + uint64(bits.OnesCount16(uint16(p.LostPackets)))
	}
	return c
}

// reportTap is an interceptor on publisher connections that watches the
// RTCP the server sends: the receiver reports pion computes for each
// incoming stream (their jitter is the uplink's) and the NACKs the server
// asks publishers for. It never touches RTP.
type reportTap struct {
	interceptor.NoOp
	totals *counters
	forget func()

	mu     sync.Mutex
	jitter map[uint32]uint32 // media SSRC -> last reported jitter, RTP units
}

// tapFactory builds one reportTap per publisher connection and parks it
// under the connection's ID until NewPublisher takes it.
type tapFactory struct {
	taps   *sync.Map
	totals *counters
}

// NewInterceptor implements interceptor.Factory.
func (f *tapFactory) NewInterceptor(id string) (interceptor.Interceptor, error) {
	t := &reportTap{totals: f.totals, jitter: map[uint32]uint32{}}
	t.forget = func() { f.taps.CompareAndDelete(id, t) }
	f.taps.Store(id, t)
	return t, nil
}

// BindRTCPWriter implements interceptor.Interceptor.
func (t *reportTap) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	return interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, attrs interceptor.Attributes) (int, error) {
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.ReceiverReport:
				t.record(p.Reports)
			case *rtcp.TransportLayerNack:
				t.totals.nacksOut.Add(nackCount(p))
			}
		}
		return w.Write(pkts, attrs)
	})
}

func (t *reportTap) record(reports []rtcp.ReceptionReport) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range reports {
		t.jitter[r.SSRC] = r.Jitter
	}
}

// jitterOf is the jitter last reported for a stream, in RTP units.
func (t *reportTap) jitterOf(ssrc uint32) (uint32, bool) {
	if t == nil {
		return 0, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	j, ok := t.jitter[ssrc]
	return j, ok
}

// Close implements interceptor.Interceptor.
func (t *reportTap) Close() error {
	t.forget()
	return nil
}

// IngressStream is the receive side of one layer of a publisher's track:
// cumulative counters since it started.
type IngressStream struct {
	TrackID string // the publisher's own track ID
	Kind    string // "audio" or "video"
	RID     string // "" without simulcast
	SSRC    uint32
	// Packets and Bytes count everything received, retransmissions
	// included.
	Packets uint64
	Bytes   uint64
	// Lost counts sequence numbers skipped on arrival: lost on the way in,
	// before any NACK repair. Late counts packets that arrived after a
	// higher sequence number (mostly those repairs).
	Lost uint64
	Late uint64
	// Jitter is from the receiver report the server last sent the
	// publisher about this stream; HasJitter is false before the first.
	Jitter    time.Duration
	HasJitter bool
}

// Expected is the number of sequence numbers the stream has spanned.
func (s IngressStream) Expected() uint64 {
	if s.Packets < s.Late {
		return s.Lost
	}
	return s.Packets - s.Late + s.Lost
}

// Ingress describes every layer of every track the publisher still sends.
func (pub *Publisher) Ingress() []IngressStream {
	var out []IngressStream
	for _, up := range pub.Tracks() {
		select {
		case <-up.Done():
			continue
		default:
		}
		up.mu.Lock()
		for _, l := range up.layers {
			if l == nil {
				continue
			}
			s := IngressStream{TrackID: up.id, Kind: up.Kind(), RID: l.rid, SSRC: l.ssrc,
				Packets: l.packets.Load(), Bytes: l.bytes.Load(), Lost: l.inLost.Load(), Late: l.inLate.Load()}
			if j, ok := pub.tap.jitterOf(l.ssrc); ok {
				s.Jitter, s.HasJitter = rtpDuration(j, up.codec.ClockRate), true
			}
			out = append(out, s)
		}
		up.mu.Unlock()
	}
	return out
}

// EgressTrack is the send side of one subscribed track: cumulative
// counters, the layer being forwarded and the subscriber's last report.
type EgressTrack struct {
	PeerID  string // the publisher
	TrackID string // as the subscriber sees it: "<peer>:<track>"
	Kind    string
	Packets uint64 // forwarded, retransmissions excluded
	Bytes   uint64 // payload bytes forwarded
	// Retransmitted counts packets resent for the subscriber's NACKs.
	Retransmitted uint64
	// Skipped counts sequence numbers left out of what was forwarded
	// because they never arrived from the publisher (net of late arrivals):
	// losses the subscriber reports that are not its link's.
	Skipped int64
	// Current and Target are layer indexes (-1 none); CurrentRID and
	// TargetRID their RIDs ("" without simulcast or when none).
	Current    int
	CurrentRID string
	Target     int
	TargetRID  string
	Report     StreamReport
}

// Egress describes every subscribed track.
func (sub *Subscriber) Egress() []EgressTrack {
	sub.mu.Lock()
	downs := make([]*downTrack, 0, len(sub.order))
	for _, up := range sub.order {
		downs = append(downs, sub.downs[up].down)
	}
	sub.mu.Unlock()
	out := make([]EgressTrack, 0, len(downs))
	for _, d := range downs {
		e := EgressTrack{PeerID: d.src.peerID, TrackID: d.id, Kind: d.src.Kind(), Packets: d.packets.Load(),
			Bytes: d.bytes.Load(), Retransmitted: d.retransmitted.Load(), Current: d.currentLayer(),
			Target: int(d.target.Load()), Report: d.rr.get(), Skipped: d.skipped()}
		if l := d.src.layer(e.Current); l != nil {
			e.CurrentRID = l.rid
		}
		if l := d.src.layer(e.Target); l != nil {
			e.TargetRID = l.rid
		}
		out = append(out, e)
	}
	return out
}

// egressGaps counts the sequence numbers a down track skipped because the
// publisher's packets never reached us, net of those filled later by late
// packets (repairs). The subscriber reports them as lost although its own
// link lost nothing, so the monitor takes them out of its downlink loss.
// Guarded by the down track's mu; the packet path only compares and adds.
type egressGaps struct {
	started bool
	highest uint16
	net     int64
}

func (g *egressGaps) note(seq uint16) {
	if !g.started {
		g.started, g.highest = true, seq
		return
	}
	switch d := int16(seq - g.highest); {
	case d > 0:
		g.net += int64(d - 1)
		g.highest = seq
	case d < 0:
		g.net-- // a late packet fills an earlier gap
	}
}

func (d *downTrack) skipped() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.gaps.net
}

// Connected reports whether the connection's ICE and DTLS are up.
func (p *peer) Connected() bool { return p.connected.Load() }

// ICERoundTrip is the latest round trip measured by ICE connectivity checks
// on the selected candidate pair; 0 when unknown.
func (p *peer) ICERoundTrip() time.Duration {
	// pion writes the ICE transport's state unguarded while it starts;
	// read it only once the connection is up.
	if !p.connected.Load() {
		return 0
	}
	sctp := p.pc.SCTP()
	if sctp == nil || sctp.Transport() == nil || sctp.Transport().ICETransport() == nil {
		return 0
	}
	st, ok := sctp.Transport().ICETransport().GetSelectedCandidatePairStats()
	if !ok {
		return 0
	}
	return time.Duration(st.CurrentRoundTripTime * float64(time.Second))
}

// nackTotals are the NACK counters shared by every track.
type nackTotals struct {
	nacksIn  atomic.Uint64 // packets subscribers asked us to resend
	nacksOut atomic.Uint64 // packets we asked publishers to resend
}
