package signaling

import (
	"time"

	"github.com/cau-bridge/cau/registry"
)

// Live quality. One monitor per Server (quality_monitor.go) samples, every
// Interval, the media plane's counters for every point of every meeting in
// progress (never on the packet path), turns them into rates and loss over
// a sliding window, raises and clears alerts, and pushes quality_report and
// alert frames to the meeting's chair and IT staff who asked with
// quality_subscribe.

// QualityConfig tunes the live quality monitor. Zero values take defaults.
type QualityConfig struct {
	// Interval is the sampling period. Default 1 s.
	Interval time.Duration
	// Window is the history rates, loss and alerts are computed over.
	// Default 5 s.
	Window time.Duration
	// SilentAfter raises a "silent" alert for a point that publishes but
	// sent no packet for this long. Default 5 s.
	SilentAfter time.Duration
	// LossThreshold raises a "loss" alert when a point's uplink or downlink
	// loss over the window passes it. Default 0.05 (5%).
	LossThreshold float64
	// RaiseWindows is how many consecutive samples must be bad before a
	// loss or offline alert is raised; ClearWindows how many must be good
	// before any alert clears. Defaults 2 and 2: no flapping on one sample.
	RaiseWindows int
	ClearWindows int
	// Retain is how long a point that went offline stays listed. Default
	// 10 min.
	Retain time.Duration
}

func (c QualityConfig) withDefaults() QualityConfig {
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.Window < c.Interval {
		c.Window = max(5*time.Second, c.Interval)
	}
	if c.SilentAfter <= 0 {
		c.SilentAfter = 5 * time.Second
	}
	if c.LossThreshold <= 0 {
		c.LossThreshold = 0.05
	}
	if c.RaiseWindows <= 0 {
		c.RaiseWindows = 2
	}
	if c.ClearWindows <= 0 {
		c.ClearWindows = 2
	}
	if c.Retain <= 0 {
		c.Retain = 10 * time.Minute
	}
	return c
}

// Alert kinds.
const (
	AlertSilent  = "silent"  // publishing, but no packet for SilentAfter
	AlertLoss    = "loss"    // loss over LossThreshold, uplink or downlink
	AlertOffline = "offline" // WebSocket or media connection lost
)

// Alert states.
const (
	AlertRaised  = "raised"
	AlertCleared = "cleared"
)

// LinkQuality is one direction of a point's link over the window. Null
// (nil) fields are unknown: no traffic or no report yet.
type LinkQuality struct {
	BitrateBPS int64    `json:"bitrate_bps"`
	Loss       *float64 `json:"loss"`      // 0..1, before retransmission repair
	JitterMS   *float64 `json:"jitter_ms"` // worst stream
	Packets    uint64   `json:"packets"`   // in the window
}

// ReceivedLayer is the video layer a point currently receives of one track.
type ReceivedLayer struct {
	Track  string `json:"track"`  // "<publisher>:<track>"
	Layer  int    `json:"layer"`  // 0 lowest; -1 none (paused or waiting)
	RID    string `json:"rid"`    // the layer's RID, "" without simulcast
	Target int    `json:"target"` // the layer chosen for it, -1 none
}

// PointQuality is one point's live quality: the body of each entry of a
// quality_report and of GET /api/v1/meetings/{id}/quality.
type PointQuality struct {
	Point      string   `json:"point"`
	Name       string   `json:"name"`
	Role       string   `json:"role"`
	Online     bool     `json:"online"`
	Publishing bool     `json:"publishing"`
	RTTMS      *float64 `json:"rtt_ms"`
	// Up is what the point publishes to the server, Down what the server
	// forwards to it.
	Up     LinkQuality     `json:"up"`
	Down   LinkQuality     `json:"down"`
	Layers []ReceivedLayer `json:"layers"`
	// SilentMS is how long a publishing point has sent nothing; 0 while
	// media flows.
	SilentMS int64 `json:"silent_ms"`
	// Alerts lists the kinds of alert currently raised for the point.
	Alerts       []string   `json:"alerts"`
	OfflineSince *time.Time `json:"offline_since,omitempty"`
}

// MeetingQuality is every point of one meeting at one sample.
type MeetingQuality struct {
	Meeting string         `json:"meeting"`
	At      time.Time      `json:"at"`
	Points  []PointQuality `json:"points"`
}

// QualityReportData is the body of "quality_report".
type QualityReportData struct {
	Meeting  string         `json:"meeting"`
	At       time.Time      `json:"at"`
	WindowMS int64          `json:"window_ms"`
	Points   []PointQuality `json:"points"`
}

// AlertData is the body of "alert".
type AlertData struct {
	Meeting   string    `json:"meeting"`
	Point     string    `json:"point"`
	Name      string    `json:"name"`
	Kind      string    `json:"kind"`  // silent, loss, offline
	State     string    `json:"state"` // raised, cleared
	Direction string    `json:"direction,omitempty"`
	Value     *float64  `json:"value,omitempty"`
	Threshold *float64  `json:"threshold,omitempty"`
	Message   string    `json:"message"`
	At        time.Time `json:"at"`
}

// handleQualityFeed starts or stops the quality feed for a chair or IT
// staff session.
func (s *session) handleQualityFeed(env Envelope) error {
	if err := decodeData(env, &struct{}{}); err != nil {
		return err
	}
	if !registry.Allowed(registry.Role(s.claims.Role), registry.ActQualityFeed) {
		return errf(CodeForbidden, "role %s may not receive the quality feed", quote(s.claims.Role))
	}
	if env.Type == TypeQualityUnsubscribe {
		s.srv.quality.unsubscribe(s)
		return nil
	}
	s.srv.quality.subscribe(s)
	return nil
}

// Quality returns the latest quality of every point of a meeting, for
// GET /api/v1/meetings/{id}/quality; nil when the monitor knows no such
// meeting (not in progress and no point seen within Retain).
func (s *Server) Quality(meeting string) []PointQuality {
	return s.quality.report(meeting)
}

// QualityMeetings returns the latest quality of every meeting, for metrics.
func (s *Server) QualityMeetings() []MeetingQuality {
	return s.quality.all()
}

// AlertCounts returns how many alerts of each kind were raised since the
// server started.
func (s *Server) AlertCounts() map[string]uint64 {
	return s.quality.alertCounts()
}

// Counts returns the number of meetings in progress and of peers in them.
func (s *Server) Counts() (meetings, peers int) {
	s.mu.Lock()
	rooms := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	for _, r := range rooms {
		r.mu.Lock()
		peers += len(r.peers)
		r.mu.Unlock()
	}
	return len(rooms), peers
}
