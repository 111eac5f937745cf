package sfu

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// delayBuckets are powers of two of microseconds: bucket i counts delays in
// [2^(i-1), 2^i) µs, up to about 8 s.
const delayBuckets = 24

// delayHistogram records the forwarding delay (a packet's arrival at the
// server to its hand-off to the last subscriber's writer) of sampled
// packets, lock-free.
type delayHistogram struct {
	counts [delayBuckets]atomic.Uint64
}

func (h *delayHistogram) observe(d time.Duration) {
	us := uint64(d / time.Microsecond)
	i := bits.Len64(us)
	if i >= delayBuckets {
		i = delayBuckets - 1
	}
	h.counts[i].Add(1)
}

// quantile returns an upper bound of the q-quantile.
func (h *delayHistogram) quantile(q float64) time.Duration {
	var total uint64
	var c [delayBuckets]uint64
	for i := range h.counts {
		c[i] = h.counts[i].Load()
		total += c[i]
	}
	if total == 0 {
		return 0
	}
	want := uint64(q * float64(total))
	var seen uint64
	for i, n := range c {
		seen += n
		if seen > want || seen == total {
			return time.Duration(uint64(1)<<i) * time.Microsecond
		}
	}
	return 0
}

// counters are the media plane's totals, shared by every track.
type counters struct {
	received  atomic.Uint64 // packets from publishers
	forwarded atomic.Uint64 // packets handed to subscribers
	fwdBytes  atomic.Uint64
	// writeErrors counts packets a subscriber's writer refused after their
	// sequence number was assigned: each is a gap the subscriber sees.
	writeErrors atomic.Uint64
	// ingressGaps counts sequence numbers skipped in what publishers sent
	// (lost on the way in); ingressLate those that arrived late
	// (retransmitted or reordered).
	ingressGaps atomic.Uint64
	ingressLate atomic.Uint64
	delay       delayHistogram
	nackTotals  // quality.go
}

// delaySampleMask samples one packet in 16 for the delay histogram, so the
// clock is read rarely on the packet path.
const delaySampleMask = 15

// Totals is a snapshot of the media plane's counters.
type Totals struct {
	ReceivedPackets  uint64  `json:"received_packets"`
	ForwardedPackets uint64  `json:"forwarded_packets"`
	ForwardedBytes   uint64  `json:"forwarded_bytes"`
	WriteErrors      uint64  `json:"write_errors"`
	IngressGaps      uint64  `json:"ingress_gaps"`
	IngressLate      uint64  `json:"ingress_late"`
	ForwardP50MS     float64 `json:"forward_p50_ms"`
	ForwardP99MS     float64 `json:"forward_p99_ms"`
	// NACKsReceived counts packets subscribers asked to be resent;
	// NACKsSent packets the server asked publishers to resend.
	NACKsReceived uint64 `json:"nacks_received"`
	NACKsSent     uint64 `json:"nacks_sent"`
}

// Totals returns the counters since the SFU started.
func (s *SFU) Totals() Totals {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return Totals{
		ReceivedPackets:  s.counters.received.Load(),
		ForwardedPackets: s.counters.forwarded.Load(),
		ForwardedBytes:   s.counters.fwdBytes.Load(),
		WriteErrors:      s.counters.writeErrors.Load(),
		IngressGaps:      s.counters.ingressGaps.Load(),
		IngressLate:      s.counters.ingressLate.Load(),
		ForwardP50MS:     ms(s.counters.delay.quantile(0.5)),
		ForwardP99MS:     ms(s.counters.delay.quantile(0.99)),
		NACKsReceived:    s.counters.nacksIn.Load(),
		NACKsSent:        s.counters.nacksOut.Load(),
	}
}
