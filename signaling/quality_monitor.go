package signaling

import (
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/cau-bridge/cau/sfu"
)

// monitor samples every meeting's points and runs their alerts.
type monitor struct {
	srv  *Server
	cfg  QualityConfig
	log  *slog.Logger
	stop chan struct{}
	done chan struct{}
	once sync.Once

	mu       sync.Mutex
	meetings map[string]*meetingState
	raised   map[string]uint64 // alerts raised, by kind
}

type meetingState struct {
	points map[string]*pointState
	order  []string // first seen
	feed   map[*session]struct{}
	last   MeetingQuality
}

// pointState is what the monitor remembers of one point between samples.
type pointState struct {
	id, name, role string
	sess           *session
	online         bool
	offlineSince   time.Time
	up             map[string]sfu.IngressStream // by stream key
	down           map[string]sfu.EgressTrack   // by track ID
	ring           []tickDelta
	publishing     bool
	lastMedia      time.Time
	pubSeen        bool // the publisher connection has been up
	subSeen        bool
	iceRTT         time.Duration // latest, from either connection
	alerts         map[string]*alertState
}

// tickDelta is what one sample added.
type tickDelta struct {
	at                     time.Time
	dt                     time.Duration
	upBytes, upPackets     uint64
	upExpected, upLost     uint64
	downBytes, downPackets uint64
	downExpected, downLost uint64
}

type alertState struct {
	active    bool
	bad, good int
}

// sample is one point's counters, read outside every lock but its own.
type sample struct {
	sess         *session
	ingress      []sfu.IngressStream
	egress       []sfu.EgressTrack
	pubUp, subUp bool // the connection is up
	iceRTT       time.Duration
}

func newMonitor(srv *Server, cfg QualityConfig) *monitor {
	m := &monitor{srv: srv, cfg: cfg.withDefaults(), log: srv.log, stop: make(chan struct{}),
		done: make(chan struct{}), meetings: map[string]*meetingState{}, raised: map[string]uint64{}}
	go m.run()
	return m
}

func (m *monitor) close() {
	m.once.Do(func() { close(m.stop) })
	<-m.done
}

func (m *monitor) run() {
	defer close(m.done)
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case now := <-t.C:
			m.tick(now)
		}
	}
}

func (m *monitor) subscribe(s *session) {
	m.mu.Lock()
	ms := m.meetingLocked(s.claims.Meeting)
	ms.feed[s] = struct{}{}
	last := ms.last
	var alerts []AlertData
	for _, id := range ms.order {
		p := ms.points[id]
		for _, kind := range []string{AlertOffline, AlertSilent, AlertLoss} {
			if a := p.alerts[kind]; a != nil && a.active {
				alerts = append(alerts, AlertData{Meeting: s.claims.Meeting, Point: p.id, Name: p.name, Kind: kind,
					State: AlertRaised, Message: "active when the feed started", At: last.At})
			}
		}
	}
	m.mu.Unlock()
	if last.Points == nil {
		last.Points = []PointQuality{}
	}
	s.send(TypeQualityReport, QualityReportData{Meeting: s.claims.Meeting, At: last.At,
		WindowMS: m.cfg.Window.Milliseconds(), Points: last.Points})
	for _, a := range alerts {
		s.send(TypeAlert, a)
	}
}

func (m *monitor) unsubscribe(s *session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ms := m.meetings[s.claims.Meeting]; ms != nil {
		delete(ms.feed, s)
	}
}

func (m *monitor) meetingLocked(name string) *meetingState {
	ms := m.meetings[name]
	if ms == nil {
		ms = &meetingState{points: map[string]*pointState{}, feed: map[*session]struct{}{}}
		m.meetings[name] = ms
	}
	return ms
}

func (m *monitor) report(meeting string) []PointQuality {
	m.mu.Lock()
	defer m.mu.Unlock()
	ms := m.meetings[meeting]
	if ms == nil {
		return nil
	}
	return slices.Clone(ms.last.Points)
}

func (m *monitor) all() []MeetingQuality {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]MeetingQuality, 0, len(m.meetings))
	for _, ms := range m.meetings {
		if ms.last.Meeting != "" {
			mq := ms.last
			mq.Points = slices.Clone(mq.Points)
			out = append(out, mq)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Meeting < out[j].Meeting })
	return out
}

func (m *monitor) alertCounts() map[string]uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]uint64{AlertSilent: 0, AlertLoss: 0, AlertOffline: 0}
	for k, v := range m.raised {
		out[k] = v
	}
	return out
}

// tick samples every meeting once.
func (m *monitor) tick(now time.Time) {
	s := m.srv
	s.mu.Lock()
	rooms := make(map[string]*room, len(s.rooms))
	for name, r := range s.rooms {
		rooms[name] = r
	}
	s.mu.Unlock()
	present := map[string][]*session{}
	for name, r := range rooms {
		r.mu.Lock()
		for _, id := range r.order {
			present[name] = append(present[name], r.peers[id])
		}
		r.mu.Unlock()
	}
	samples := map[string][]sample{}
	for name, sessions := range present {
		for _, sess := range sessions {
			samples[name] = append(samples[name], takeSample(sess))
		}
	}

	type outFrame struct {
		to   []*session
		typ  string
		data any
	}
	var frames []outFrame
	m.mu.Lock()
	for name := range samples {
		m.meetingLocked(name)
	}
	for name, ms := range m.meetings {
		var alerts []AlertData
		seen := map[string]bool{}
		for _, smp := range samples[name] {
			seen[smp.sess.peerID] = true
			alerts = append(alerts, m.updateLocked(name, ms, smp, now)...)
		}
		for _, id := range ms.order {
			if p := ms.points[id]; !seen[id] {
				alerts = append(alerts, m.goneLocked(name, p, now)...)
			}
		}
		ms.last = m.buildLocked(name, ms, now)
		for sess := range ms.feed {
			select {
			case <-sess.stop:
				delete(ms.feed, sess)
			default:
			}
		}
		ms.order = slices.DeleteFunc(ms.order, func(id string) bool {
			p := ms.points[id]
			if !p.online && now.Sub(p.offlineSince) > m.cfg.Retain {
				delete(ms.points, id)
				return true
			}
			return false
		})
		if len(ms.points) == 0 && len(ms.feed) == 0 && samples[name] == nil {
			delete(m.meetings, name)
			continue
		}
		if len(ms.feed) == 0 {
			continue
		}
		to := make([]*session, 0, len(ms.feed))
		for sess := range ms.feed {
			to = append(to, sess)
		}
		frames = append(frames, outFrame{to, TypeQualityReport, QualityReportData{Meeting: name, At: now,
			WindowMS: m.cfg.Window.Milliseconds(), Points: ms.last.Points}})
		for _, a := range alerts {
			frames = append(frames, outFrame{to, TypeAlert, a})
		}
	}
	m.mu.Unlock()
	for _, f := range frames {
		for _, sess := range f.to {
			sess.send(f.typ, f.data)
		}
	}
}

func takeSample(sess *session) sample {
	smp := sample{sess: sess}
	sess.pubMu.Lock()
	pub := sess.pub
	sess.pubMu.Unlock()
	sess.stateMu.Lock()
	sub := sess.sub
	sess.stateMu.Unlock()
	if pub != nil {
		smp.pubUp = pub.Connected()
		smp.ingress = pub.Ingress()
		smp.iceRTT = pub.ICERoundTrip()
	}
	if sub != nil {
		smp.subUp = sub.Connected()
		smp.egress = sub.Egress()
		smp.iceRTT = max(smp.iceRTT, sub.ICERoundTrip())
	}
	return smp
}

// updateLocked folds a present point's sample into its state and returns
// the alerts it raised or cleared.
func (m *monitor) updateLocked(meeting string, ms *meetingState, smp sample, now time.Time) []AlertData {
	sess := smp.sess
	p := ms.points[sess.peerID]
	if p == nil {
		p = &pointState{id: sess.peerID, up: map[string]sfu.IngressStream{}, down: map[string]sfu.EgressTrack{},
			alerts: map[string]*alertState{}}
		ms.points[p.id] = p
		ms.order = append(ms.order, p.id)
	}
	if p.sess != sess { // first sample, or a newer session of the same point
		p.sess, p.pubSeen, p.subSeen = sess, false, false
	}
	p.name, p.role = sess.claims.Name, sess.claims.Role
	p.online, p.offlineSince = true, time.Time{}

	d := tickDelta{at: now}
	if n := len(p.ring); n > 0 {
		d.dt = now.Sub(p.ring[n-1].at)
	} else {
		d.dt = m.cfg.Interval
	}
	nextUp := make(map[string]sfu.IngressStream, len(smp.ingress))
	for _, st := range smp.ingress {
		key := fmt.Sprintf("%s/%s/%d", st.TrackID, st.RID, st.SSRC)
		prev, ok := p.up[key]
		if !ok || st.Packets < prev.Packets {
			prev = sfu.IngressStream{}
		}
		d.upBytes += st.Bytes - prev.Bytes
		d.upPackets += st.Packets - prev.Packets
		d.upLost += st.Lost - prev.Lost
		if e, pe := st.Expected(), prev.Expected(); e > pe {
			d.upExpected += e - pe
		}
		nextUp[key] = st
	}
	p.up = nextUp
	nextDown := make(map[string]sfu.EgressTrack, len(smp.egress))
	for _, e := range smp.egress {
		prev, ok := p.down[e.TrackID]
		if !ok || e.Packets < prev.Packets {
			prev = sfu.EgressTrack{}
		}
		d.downBytes += e.Bytes - prev.Bytes
		d.downPackets += e.Packets - prev.Packets
		if r, pr := e.Report, prev.Report; !r.At.IsZero() && !pr.At.IsZero() && r.At.After(pr.At) {
			// Sequence numbers we never sent (the publisher's loss) count
			// as lost at the subscriber: take them out on both sides.
			exp := int64(r.Highest - pr.Highest)
			lost := int64((r.TotalLost - pr.TotalLost) & 0xffffff)
			skipped := max(r.Skipped-pr.Skipped, 0)
			if exp > 0 && exp < 1<<20 {
				exp, lost = max(exp-skipped, 0), min(max(lost-skipped, 0), exp)
				d.downExpected += uint64(exp)
				d.downLost += uint64(min(lost, exp))
			}
		}
		if e.Report.At.IsZero() || (ok && !e.Report.At.After(prev.Report.At)) {
			e.Report = prev.Report // keep the report deltas are taken from
		}
		nextDown[e.TrackID] = e
	}
	p.down = nextDown
	p.ring = append(p.ring, d)
	for len(p.ring) > 0 && now.Sub(p.ring[0].at) >= m.cfg.Window {
		p.ring = p.ring[1:]
	}

	wasPublishing := p.publishing
	p.publishing = len(smp.ingress) > 0
	if d.upPackets > 0 || (p.publishing && !wasPublishing) {
		p.lastMedia = now
	}
	p.iceRTT = smp.iceRTT
	p.pubSeen = p.pubSeen || smp.pubUp
	p.subSeen = p.subSeen || smp.subUp

	var out []AlertData
	mediaDown := (p.pubSeen && !smp.pubUp) || (p.subSeen && !smp.subUp)
	out = m.judgeLocked(meeting, p, AlertOffline, mediaDown, m.cfg.RaiseWindows, now,
		"the media connection is down", nil, "")
	silent := p.publishing && now.Sub(p.lastMedia) > m.cfg.SilentAfter
	out = append(out, m.judgeLocked(meeting, p, AlertSilent, silent, 1, now,
		fmt.Sprintf("publishing but no packet for %.0f s", now.Sub(p.lastMedia).Seconds()), nil, "")...)
	up, down := p.lossLocked()
	worst, dir := -1.0, ""
	if up != nil && *up > worst {
		worst, dir = *up, "up"
	}
	if down != nil && *down > worst {
		worst, dir = *down, "down"
	}
	lossy := worst > m.cfg.LossThreshold
	var val *float64
	if worst >= 0 {
		val = &worst
	}
	out = append(out, m.judgeLocked(meeting, p, AlertLoss, lossy, m.cfg.RaiseWindows, now,
		fmt.Sprintf("%s loss %.1f%% over %.0f s", dir, 100*max(worst, 0), m.cfg.Window.Seconds()), val, dir)...)
	return out
}

// goneLocked handles a point no longer in the meeting: offline, with an
// alert unless it left on purpose.
func (m *monitor) goneLocked(meeting string, p *pointState, now time.Time) []AlertData {
	if p.online {
		p.online, p.offlineSince = false, now
		p.ring, p.up, p.down = nil, map[string]sfu.IngressStream{}, map[string]sfu.EgressTrack{}
		p.publishing = false
	}
	left := false
	if p.sess != nil {
		select {
		case <-p.sess.stop:
			// closeWith set the reason before closing stop.
			left = p.sess.closeWhy == "left" || p.sess.closeWhy == "server shutting down" ||
				p.sess.closeWhy == "meeting ended"
		default:
		}
	}
	var out []AlertData
	for _, kind := range []string{AlertSilent, AlertLoss} {
		out = append(out, m.judgeLocked(meeting, p, kind, false, 1, now, "the point is offline", nil, "")...)
	}
	if left {
		return append(out, m.judgeLocked(meeting, p, AlertOffline, false, 1, now, "the point left the meeting", nil, "")...)
	}
	return append(out, m.judgeLocked(meeting, p, AlertOffline, true, m.cfg.RaiseWindows, now,
		"the point's connection is lost", nil, "")...)
}

// judgeLocked advances one alert's state machine: raised after raiseAfter
// consecutive bad samples, cleared after ClearWindows good ones.
func (m *monitor) judgeLocked(meeting string, p *pointState, kind string, bad bool, raiseAfter int,
	now time.Time, msg string, value *float64, dir string,
) []AlertData {
	a := p.alerts[kind]
	if a == nil {
		a = &alertState{}
		p.alerts[kind] = a
	}
	if bad {
		a.bad, a.good = a.bad+1, 0
	} else {
		a.bad, a.good = 0, a.good+1
	}
	var state string
	switch {
	case !a.active && a.bad >= raiseAfter:
		a.active, state = true, AlertRaised
		m.raised[kind]++
	case a.active && (a.good >= m.cfg.ClearWindows || (!bad && !p.online)):
		a.active, state = false, AlertCleared
	default:
		return nil
	}
	ev := AlertData{Meeting: meeting, Point: p.id, Name: p.name, Kind: kind, State: state, Direction: dir,
		Message: msg, At: now}
	if kind == AlertLoss {
		if value != nil {
			v := *value
			ev.Value = &v
		}
		th := m.cfg.LossThreshold
		ev.Threshold = &th
	}
	attrs := []any{"meeting", meeting, "point", p.id, "kind", kind, "message", msg}
	if state == AlertRaised {
		m.log.Warn("quality alert", attrs...)
	} else {
		m.log.Info("quality alert cleared", attrs...)
	}
	return []AlertData{ev}
}

// lossLocked is the uplink and downlink loss over the window; nil when too
// few packets were expected to say.
func (p *pointState) lossLocked() (up, down *float64) {
	var ue, ul, de, dl uint64
	for _, d := range p.ring {
		ue, ul, de, dl = ue+d.upExpected, ul+d.upLost, de+d.downExpected, dl+d.downLost
	}
	const minExpected = 20
	if ue >= minExpected {
		v := float64(min(ul, ue)) / float64(ue)
		up = &v
	}
	if de >= minExpected {
		v := float64(min(dl, de)) / float64(de)
		down = &v
	}
	return up, down
}

// buildLocked renders every point of a meeting.
func (m *monitor) buildLocked(meeting string, ms *meetingState, now time.Time) MeetingQuality {
	mq := MeetingQuality{Meeting: meeting, At: now, Points: make([]PointQuality, 0, len(ms.order))}
	for _, id := range ms.order {
		mq.Points = append(mq.Points, ms.points[id].render(now))
	}
	return mq
}

func (p *pointState) render(now time.Time) PointQuality {
	q := PointQuality{Point: p.id, Name: p.name, Role: p.role, Online: p.online, Publishing: p.publishing,
		Layers: []ReceivedLayer{}, Alerts: []string{}}
	for _, kind := range []string{AlertOffline, AlertSilent, AlertLoss} {
		if a := p.alerts[kind]; a != nil && a.active {
			q.Alerts = append(q.Alerts, kind)
		}
	}
	if !p.online {
		at := p.offlineSince
		q.OfflineSince = &at
		return q
	}
	if p.publishing {
		q.SilentMS = now.Sub(p.lastMedia).Milliseconds()
		if q.SilentMS < 1500 { // within a sample of the last packet
			q.SilentMS = 0
		}
	}
	var span time.Duration
	for _, d := range p.ring {
		span += d.dt
		q.Up.Packets += d.upPackets
		q.Down.Packets += d.downPackets
		q.Up.BitrateBPS += int64(d.upBytes)
		q.Down.BitrateBPS += int64(d.downBytes)
	}
	if span > 0 {
		q.Up.BitrateBPS = int64(float64(q.Up.BitrateBPS) * 8 / span.Seconds())
		q.Down.BitrateBPS = int64(float64(q.Down.BitrateBPS) * 8 / span.Seconds())
	}
	q.Up.Loss, q.Down.Loss = p.lossLocked()
	for _, l := range []*float64{q.Up.Loss, q.Down.Loss} {
		if l != nil {
			*l = math.Round(*l*1e4) / 1e4
		}
	}
	var upJ, downJ time.Duration
	hasUpJ, hasDownJ := false, false
	for _, st := range p.up {
		if st.HasJitter {
			upJ, hasUpJ = max(upJ, st.Jitter), true
		}
	}
	var rtts []time.Duration
	for _, e := range p.down {
		if r := e.Report; !r.At.IsZero() && now.Sub(r.At) < 10*time.Second {
			downJ, hasDownJ = max(downJ, r.Jitter), true
			if r.RTT > 0 {
				rtts = append(rtts, r.RTT)
			}
		}
		if e.Kind == "video" {
			q.Layers = append(q.Layers, ReceivedLayer{Track: e.TrackID, Layer: e.Current, RID: e.CurrentRID,
				Target: e.Target})
		}
	}
	sort.Slice(q.Layers, func(i, j int) bool { return q.Layers[i].Track < q.Layers[j].Track })
	if hasUpJ {
		q.Up.JitterMS = millis(upJ)
	}
	if hasDownJ {
		q.Down.JitterMS = millis(downJ)
	}
	if len(rtts) > 0 {
		slices.Sort(rtts)
		q.RTTMS = millis(rtts[len(rtts)/2])
	} else if p.iceRTT > 0 {
		q.RTTMS = millis(p.iceRTT)
	}
	return q
}

// millis converts a duration to milliseconds, rounded to 0.01 ms.
func millis(d time.Duration) *float64 {
	v := math.Round(float64(d)/float64(time.Millisecond)*100) / 100
	return &v
}
