package main

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// trackStats is what one bot measured on one received track. It is written
// by the track's reader goroutine and read by the reporter.
type trackStats struct {
	mu          sync.Mutex
	publisher   string
	kind        string
	clockRate   uint32
	firstAt     time.Time // first packet (audio) or first keyframe (video)
	started     bool
	first       uint16
	highest     uint16
	seen        map[uint16]struct{}
	late        int // arrived after a higher sequence number: recovered or reordered
	jitter      float64
	lastTransit float64
	haveTransit bool
	bytes       int
	keyWidth    int       // picture width of the last keyframe (VP8)
	highAt      time.Time // first keyframe of the high layer (VP8)
}

func newTrackStats(publisher, kind string, clockRate uint32) *trackStats {
	return &trackStats{publisher: publisher, kind: kind, clockRate: clockRate, seen: map[uint16]struct{}{}}
}

func (s *trackStats) add(p *rtp.Packet, size int, key bool, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.firstAt.IsZero() && (s.kind == "audio" || key) {
		s.firstAt = now
	}
	if !s.started {
		s.started, s.first, s.highest = true, p.SequenceNumber, p.SequenceNumber
	}
	if _, dup := s.seen[p.SequenceNumber]; dup {
		return
	}
	s.seen[p.SequenceNumber] = struct{}{}
	s.bytes += size
	switch d := int16(p.SequenceNumber - s.highest); {
	case d > 0:
		s.highest = p.SequenceNumber
	case d < 0:
		s.late++
		if int16(p.SequenceNumber-s.first) < 0 {
			s.first = p.SequenceNumber
		}
	}
	// RFC 3550 interarrival jitter, in RTP clock units.
	if s.clockRate > 0 {
		arrival := float64(now.UnixNano()) * float64(s.clockRate) / 1e9
		transit := arrival - float64(p.Timestamp)
		if s.haveTransit {
			d := math.Abs(transit - s.lastTransit)
			if d < float64(s.clockRate) { // ignore jumps at layer switches
				s.jitter += (d - s.jitter) / 16
			}
		}
		s.lastTransit, s.haveTransit = transit, true
	}
}

// noteKeyWidth records a keyframe's picture width; high is the high layer's.
func (s *trackStats) noteKeyWidth(w, high int, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keyWidth = w
	if w >= high && s.highAt.IsZero() {
		s.highAt = now
	}
}

func (s *trackStats) lastKeyWidth() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keyWidth
}

func (s *trackStats) firstHigh() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.highAt
}

// counts returns expected, received and late packet counts.
func (s *trackStats) counts() (expected, received, late int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return 0, 0, 0
	}
	return int(s.highest-s.first) + 1, len(s.seen), s.late
}

func (s *trackStats) jitterMS() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clockRate == 0 {
		return 0
	}
	return s.jitter / float64(s.clockRate) * 1000
}

// sendTimes remembers when each audio packet of one publisher was sent,
// by sequence number, so receivers on the same clock can time it end to end.
type sendTimes struct {
	at [65536]atomic.Int64
}

func (t *sendTimes) mark(seq uint16) { t.at[seq].Store(time.Now().UnixNano()) }

func (t *sendTimes) delay(seq uint16, now time.Time) (time.Duration, bool) {
	sent := t.at[seq].Load()
	if sent == 0 {
		return 0, false
	}
	d := time.Duration(now.UnixNano() - sent)
	if d < 0 || d > 10*time.Second {
		return 0, false
	}
	return d, true
}

// samples collects durations for percentiles.
type samples struct {
	mu sync.Mutex
	v  []float64
}

func (s *samples) add(ms float64) {
	s.mu.Lock()
	if len(s.v) < 1_000_000 {
		s.v = append(s.v, ms)
	}
	s.mu.Unlock()
}

func (s *samples) percentile(p float64) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return percentile(s.v, p)
}

func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	c := append([]float64(nil), v...)
	sort.Float64s(c)
	i := int(math.Ceil(p/100*float64(len(c)))) - 1
	if i < 0 {
		i = 0
	}
	return c[i]
}

// rtpPacket is a reusable parsed packet.
type rtpPacket struct{ rtp.Packet }
