package sfu

// Active speaker detection.
//
// Publishers' audio packets carry the RFC 6464 audio-level header extension:
// the sender's own measure of how loud each packet is. Reading it costs the
// server nothing (no decoding), so the packet path only adds each packet's
// level to a LevelMeter, and a SpeakerDetector goroutine samples the meters
// a few times a second. Levels are smoothed and switching is held back by
// hysteresis so that a cough, a laugh or a slammed door does not move the
// floor; a participant must be the loudest for a while before they become
// the active speaker.

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Detection defaults; SpeakerConfig documents each.
const (
	defaultSpeakerInterval  = 100 * time.Millisecond
	defaultSpeakerSmoothing = 0.3
	defaultSpeakerThreshold = 40
	defaultSpeakerHoldTime  = 500 * time.Millisecond
	defaultSpeakerTopN      = 3
)

// maxLoudness is the loudness of a 0 dBov packet (RFC 6464 level 0).
const maxLoudness = 127

// LevelMeter accumulates one audio track's RFC 6464 levels on the packet
// path. The zero value is ready to use.
//
// Observe is called from the track's single reader goroutine for every audio
// packet, so it neither allocates, locks nor logs: the running sum and packet
// count live in one atomic word, which lets the detector take and reset both
// together without tearing.
type LevelMeter struct {
	// acc holds the summed loudness in its high 32 bits and the packet count
	// in its low 32 bits. A sum wrap needs 33 million packets between two
	// samples (days of audio) and only loses high bits; it never corrupts
	// the count.
	acc atomic.Uint64
}

// Observe records one audio packet. level is the 7-bit value from the
// extension: 0 is loudest (0 dBov), 127 is silence (-127 dBov); higher bits
// are ignored. voice is the extension's V bit. It is accepted but does not
// influence detection: senders that did not negotiate voice activity
// detection leave it unset, so the level alone decides.
func (m *LevelMeter) Observe(level uint8, voice bool) {
	_ = voice
	loudness := uint64(maxLoudness - level&0x7f)
	m.acc.Add(loudness<<32 | 1)
}

// take returns and resets the accumulated loudness (127 - level per packet)
// and packet count since the last call. The detector goroutine calls it.
func (m *LevelMeter) take() (sumLoudness uint64, packets uint32) {
	v := m.acc.Swap(0)
	return v >> 32, uint32(v)
}

// SpeakerConfig tunes detection. Zero (or negative) values take the defaults
// given.
type SpeakerConfig struct {
	// Interval is the sampling period of Run. Default 100 ms.
	Interval time.Duration
	// Smoothing is the weight of the newest sample in each source's
	// exponential moving average, in (0, 1]; larger values follow the
	// voice faster. Values above 1 count as 1. Default 0.3.
	Smoothing float64
	// Threshold is the smoothed loudness (0-127, 127 = 0 dBov) below which a
	// source counts as silent. Default 40 (about -87 dBov): speech at about
	// -30 dBov smooths to about 97 even with short pauses, while silence and
	// noise-suppressed background stay well under 40.
	Threshold float64
	// HoldTime is how long a challenger must be the loudest source above
	// Threshold, continuously, before it takes the floor. It also applies to
	// the first speaker and to "nobody" (all silent) taking over. Default
	// 500 ms.
	HoldTime time.Duration
	// TopN is how many sources a SpeakerEvent's Levels carries at most.
	// Default 3.
	TopN int
	// Now reads the clock HoldTime is measured with; tests replace it.
	// Default time.Now.
	Now func() time.Time
}

// SpeakerEvent is sent when the active speaker changes or, every Interval,
// with the levels of the loudest sources.
type SpeakerEvent struct {
	// Active is the ID of the active speaker, "" when nobody speaks.
	Active string
	// Changed reports that Active differs from the previous event's.
	Changed bool
	// Levels lists the sources above Threshold, loudest first, at most TopN.
	Levels []SourceLevel
}

// SourceLevel is one source's smoothed loudness.
type SourceLevel struct {
	// ID identifies the source as given to SpeakerDetector.Add.
	ID string
	// Loudness is the smoothed mean loudness, 0-127 (127 = 0 dBov).
	Loudness float64
}

// speakerSource is the detector's state for one added source.
type speakerSource struct {
	meter *LevelMeter
	ema   float64
}

// SpeakerDetector decides who is speaking among the sources added to it. It
// is safe for concurrent use: Add, Remove and Active may be called from any
// goroutine while Run ticks. Its lock is never taken on the packet path,
// which only touches LevelMeters.
type SpeakerDetector struct {
	cfg SpeakerConfig

	mu      sync.Mutex
	sources map[string]*speakerSource
	active  string
	// last is the Active reported by the previous Tick, so Changed is
	// reported once even when Remove cleared the floor between ticks.
	last string
	// challenger has been the loudest source above Threshold ("" meaning
	// nobody) since challengeStart, without being active.
	challenger     string
	challengeStart time.Time
	challenging    bool
}

// NewSpeakerDetector returns a detector with no sources and nobody active.
func NewSpeakerDetector(cfg SpeakerConfig) *SpeakerDetector {
	if cfg.Interval <= 0 {
		cfg.Interval = defaultSpeakerInterval
	}
	if cfg.Smoothing <= 0 {
		cfg.Smoothing = defaultSpeakerSmoothing
	}
	if cfg.Smoothing > 1 {
		cfg.Smoothing = 1
	}
	if cfg.Threshold <= 0 {
		cfg.Threshold = defaultSpeakerThreshold
	}
	if cfg.HoldTime <= 0 {
		cfg.HoldTime = defaultSpeakerHoldTime
	}
	if cfg.TopN <= 0 {
		cfg.TopN = defaultSpeakerTopN
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &SpeakerDetector{cfg: cfg, sources: map[string]*speakerSource{}}
}

// Add starts watching m as source id (typically the publisher's peer ID). A
// new source starts silent. Re-adding an id replaces its meter but keeps its
// smoothed level, so a publisher replacing its audio track does not lose the
// floor. Levels the new meter gathered before Add are discarded.
func (d *SpeakerDetector) Add(id string, m *LevelMeter) {
	m.take()
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.sources[id]; ok {
		s.meter = m
		return
	}
	d.sources[id] = &speakerSource{meter: m}
}

// Remove stops watching source id. If it was the active speaker, the floor
// is cleared at once (the next Tick reports the change) and another source
// takes it by the usual rules, after HoldTime of being the loudest.
func (d *SpeakerDetector) Remove(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.sources[id]; !ok {
		return
	}
	delete(d.sources, id)
	if d.active == id {
		d.active = ""
		d.challenging = false
	}
	if d.challenging && d.challenger == id {
		d.challenging = false
	}
}

// Active returns the current active speaker, "" when nobody speaks.
func (d *SpeakerDetector) Active() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.active
}

// Tick samples every meter once, updates the smoothed levels and the active
// speaker, and returns the event for this step. Run calls it every Interval;
// tests call it directly with a controlled clock. Changed is relative to the
// previous Tick, whoever called it.
func (d *SpeakerDetector) Tick() SpeakerEvent {
	now := d.cfg.Now()
	d.mu.Lock()
	defer d.mu.Unlock()

	alpha := d.cfg.Smoothing
	levels := make([]SourceLevel, 0, len(d.sources))
	for id, s := range d.sources {
		sum, n := s.meter.take()
		var sample float64 // no packets: silent for this interval
		if n > 0 {
			sample = float64(sum) / float64(n)
		}
		s.ema += alpha * (sample - s.ema)
		if s.ema >= d.cfg.Threshold {
			levels = append(levels, SourceLevel{ID: id, Loudness: s.ema})
		}
	}
	slices.SortFunc(levels, func(a, b SourceLevel) int {
		if c := cmp.Compare(b.Loudness, a.Loudness); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID) // ties: deterministic order
	})

	loudest := "" // nobody above Threshold
	if len(levels) > 0 {
		loudest = levels[0].ID
	}
	d.challenge(loudest, now)

	if len(levels) > d.cfg.TopN {
		levels = levels[:d.cfg.TopN:d.cfg.TopN]
	}
	ev := SpeakerEvent{Active: d.active, Changed: d.active != d.last, Levels: levels}
	d.last = d.active
	return ev
}

// challenge applies the hysteresis: loudest ("" for nobody) takes the floor
// once it has been the loudest continuously for HoldTime. d.mu is held.
func (d *SpeakerDetector) challenge(loudest string, now time.Time) {
	switch {
	case loudest == d.active:
		d.challenging = false
	case !d.challenging || d.challenger != loudest:
		d.challenger, d.challengeStart, d.challenging = loudest, now, true
	}
	if d.challenging && now.Sub(d.challengeStart) >= d.cfg.HoldTime {
		d.active = loudest
		d.challenging = false
	}
}

// Run calls Tick every Interval until ctx ends. It calls emit, from Run's
// goroutine, for every event whose active speaker changed and for every
// event whose Levels differ in membership or order from the last emitted
// event's; identical consecutive level lists are not repeated.
func (d *SpeakerDetector) Run(ctx context.Context, emit func(SpeakerEvent)) {
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	var last []SourceLevel
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ev := d.Tick()
		if !ev.Changed && sameSources(ev.Levels, last) {
			continue
		}
		last = ev.Levels
		emit(ev)
	}
}

// sameSources reports whether a and b name the same sources in the same
// order, whatever their loudness.
func sameSources(a, b []SourceLevel) bool {
	return slices.EqualFunc(a, b, func(x, y SourceLevel) bool { return x.ID == y.ID })
}
