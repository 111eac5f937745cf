package signaling

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cau-bridge/cau/registry"
	"github.com/cau-bridge/cau/sfu"
)

// Meetings gives signaling the parameters of the meetings it knows. The
// registry implements it; signaling only reads it when a meeting's room is
// created.
type Meetings interface {
	// Meeting returns a meeting's parameters, or ErrNoMeeting when id is not
	// a registered meeting (a development room, which then runs without
	// floor control).
	Meeting(ctx context.Context, id string) (MeetingInfo, error)
}

// MeetingInfo is what floor control needs to know about a meeting.
type MeetingInfo struct {
	// OnAirMax is how many sites may be on air beside the chair's; below 1
	// means 1.
	OnAirMax int
	// ChairPoint is the chair's bridge point, which is also its device's
	// peer id; it is always on air. "" when the meeting has none.
	ChairPoint string
	// Closed is true when the meeting may not be joined now: it is still
	// scheduled, or it has ended.
	Closed bool
}

// ErrNoMeeting tells signaling that a meeting id is not a registered meeting,
// so its room runs under Config.Policy without floor control.
var ErrNoMeeting = errors.New("no such meeting")

// meetingLookupTimeout bounds one Meetings call at room creation.
const meetingLookupTimeout = 5 * time.Second

// Priorities the floor policy gives video: the spotlight first, then the
// sites on air, then the grid. The grid keeps priority 0 so a roll call
// never shows a dark tile, but it is served last when bandwidth is short.
const (
	prioSpotlight = 20
	prioOnAir     = 10
	prioGrid      = 0
)

// Limits on a grid page.
const (
	maxGridSize = 64
	maxGridPage = 1 << 16 // far beyond any meeting; keeps page*size from overflowing
)

// hand is one site registered to speak.
type hand struct {
	id    string
	since time.Time
}

// gridView is the page of the grid one viewer looks at.
type gridView struct {
	page, size int
}

// floor is the floor control state of one meeting, and the Policy of its
// room: who is on air, whose microphone is open or muted, who is
// spotlighted, who asked to speak, and which grid page each grid viewer
// looks at. Its fields are guarded by its room's mu, which the room holds
// when it calls Select.
type floor struct {
	chair   string
	max     int
	granted []string // sites given the floor, longest on air first
	spot    string
	hands   []hand // oldest first
	muted   map[string]bool
	open    map[string]bool
	grids   map[string]gridView
	// pages caches each grid viewer's page (sites by peer id), recomputed
	// when peers come and go or a viewer turns the page.
	pages map[string][]string
	onPg  map[string]map[string]bool
	now   func() time.Time
}

func newFloor(info MeetingInfo) *floor {
	return &floor{
		chair: info.ChairPoint, max: max(info.OnAirMax, 1),
		muted: map[string]bool{}, open: map[string]bool{}, grids: map[string]gridView{},
		pages: map[string][]string{}, onPg: map[string]map[string]bool{}, now: time.Now,
	}
}

// onAir reports whether a site is on air: the chair's, or given the floor.
func (f *floor) onAir(id string) bool {
	return id != "" && (id == f.chair || slices.Contains(f.granted, id))
}

// audible reports whether a site's microphone is forwarded: it is on air or
// its microphone was opened, and it is not muted.
func (f *floor) audible(id string) bool {
	return !f.muted[id] && (f.onAir(id) || f.open[id])
}

// Select implements Policy. Video of the spotlighted and on-air sites goes
// to everyone at high quality; a grid viewer also gets the sites on its page
// at low quality; other video is not forwarded, whatever the subscriber
// asked. Audio is forwarded only for audible sites.
func (f *floor) Select(_ RoomView, subscriber string, t TrackInfo) Choice {
	if t.Kind == "audio" {
		return Choice{Receive: f.audible(t.PeerID)}
	}
	switch {
	case t.PeerID == f.spot:
		return Choice{Receive: true, Quality: sfu.QualityHigh, Priority: prioSpotlight}
	case f.onAir(t.PeerID):
		return Choice{Receive: true, Quality: sfu.QualityHigh, Priority: prioOnAir}
	case f.onPg[subscriber][t.PeerID]:
		return Choice{Receive: true, Quality: sfu.QualityLow, Priority: prioGrid}
	}
	return Choice{}
}

// grant puts a site on air; beyond the limit the site longest on air (never
// the chair's) drops off. The site leaves the hand queue and is unmuted:
// giving the floor means "speak now".
func (f *floor) grant(id string) bool {
	changed := f.lower(id)
	if f.muted[id] {
		delete(f.muted, id)
		changed = true
	}
	if f.onAir(id) {
		return changed
	}
	f.granted = append(f.granted, id)
	if len(f.granted) > f.max {
		f.granted = slices.Delete(f.granted, 0, len(f.granted)-f.max)
	}
	return true
}

// revoke takes a site off air. The chair's site cannot be taken off.
func (f *floor) revoke(id string) (bool, error) {
	if id == f.chair {
		return false, errf(CodeBadMessage, "the chair's site is always on air")
	}
	n := len(f.granted)
	f.granted = slices.DeleteFunc(f.granted, func(g string) bool { return g == id })
	return len(f.granted) != n, nil
}

// mute silences a site (on air or with an opened microphone), or lifts it.
func (f *floor) mute(id string, muted bool) bool {
	if f.muted[id] == muted {
		return false
	}
	if muted {
		f.muted[id] = true
	} else {
		delete(f.muted, id)
	}
	return true
}

// openMic forwards an off-air site's microphone (lifting a mute), or stops
// doing so.
func (f *floor) openMic(id string, open bool) bool {
	changed := false
	if open && f.muted[id] {
		delete(f.muted, id)
		changed = true
	}
	if f.open[id] == open {
		return changed
	}
	if open {
		f.open[id] = true
	} else {
		delete(f.open, id)
	}
	return true
}

// spotlight makes a site's video the main one for everyone; "" clears it.
func (f *floor) spotlight(id string) bool {
	if f.spot == id {
		return false
	}
	f.spot = id
	return true
}

// raise puts a site at the end of the hand queue. A site already on air has
// the floor, and a raised hand keeps its place.
func (f *floor) raise(id string) bool {
	if f.onAir(id) || slices.ContainsFunc(f.hands, func(h hand) bool { return h.id == id }) {
		return false
	}
	f.hands = append(f.hands, hand{id: id, since: f.now()})
	return true
}

// lower takes a site out of the hand queue.
func (f *floor) lower(id string) bool {
	n := len(f.hands)
	f.hands = slices.DeleteFunc(f.hands, func(h hand) bool { return h.id == id })
	return len(f.hands) != n
}

// state is the floor as clients see it.
func (f *floor) state() FloorData {
	d := FloorData{Chair: f.chair, MaxOnAir: f.max, OnAir: []string{}, Spotlight: f.spot,
		Hands: make([]HandData, 0, len(f.hands)), Muted: sortedKeys(f.muted), OpenMic: sortedKeys(f.open)}
	if f.chair != "" {
		d.OnAir = append(d.OnAir, f.chair)
	}
	d.OnAir = append(d.OnAir, f.granted...)
	for _, h := range f.hands {
		d.Hands = append(d.Hands, HandData{ID: h.id, Since: h.since})
	}
	return d
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// floorFor looks a meeting up when its room is created: a floor for a
// registered meeting, nil for a plain room (no Meetings configured, or an
// unregistered id).
func (s *Server) floorFor(name string) (*floor, error) {
	if s.cfg.Meetings == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), meetingLookupTimeout)
	defer cancel()
	info, err := s.cfg.Meetings.Meeting(ctx, name)
	if errors.Is(err, ErrNoMeeting) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up meeting %q: %w", name, err)
	}
	return newFloor(info), nil
}

// FloorState returns the floor of a meeting in progress, for dashboards and
// tests; ok is false when the meeting is not in progress or has no floor
// control.
func (s *Server) FloorState(meeting string) (d FloorData, ok bool) {
	s.mu.Lock()
	r := s.rooms[meeting]
	s.mu.Unlock()
	if r == nil {
		return FloorData{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.floor == nil {
		return FloorData{}, false
	}
	return r.floor.state(), true
}

// floorDo runs one floor command under the room's lock. When it changes the
// floor, everyone gets the new state and, when the command concerns media
// (all but hands), the room re-applies the policy.
func (r *room) floorDo(media bool, cmd func(f *floor) (bool, error)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.floor == nil {
		return errf(CodeNoFloor, "this meeting has no floor control")
	}
	changed, err := cmd(r.floor)
	if err != nil || !changed {
		return err
	}
	r.broadcastFloorLocked()
	if media {
		r.reconcileLocked(nil)
	}
	return nil
}

func (r *room) broadcastFloorLocked() {
	d := r.floor.state()
	for _, p := range r.peers {
		p.send(TypeFloor, d)
	}
}

// floorJoinedLocked tells a newcomer the floor and moves grid pages that
// now hold it. The room reconciles after the join.
func (r *room) floorJoinedLocked(s *session) {
	s.send(TypeFloor, r.floor.state())
	r.refreshGridsLocked("")
}

// floorLeftLocked lowers a leaver's hand and closes its grid. Its floor
// state (on air, muted, open, spotlight) stays: a site whose link dropped
// for a moment keeps the floor when it comes back, until the chair revokes.
func (r *room) floorLeftLocked(id string) {
	f := r.floor
	if f.lower(id) {
		r.broadcastFloorLocked()
	}
	delete(f.grids, id)
	delete(f.pages, id)
	delete(f.onPg, id)
	r.refreshGridsLocked("")
}

// gridSitesLocked lists the sites a grid shows: every participant whose role
// may publish (the bridge points, the chair, the secretary), by peer id, so
// a page keeps its sites when others reconnect.
func (r *room) gridSitesLocked() []string {
	out := make([]string, 0, len(r.peers))
	for id, p := range r.peers {
		if registry.Allowed(registry.Role(p.claims.Role), registry.ActPublish) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// refreshGridsLocked recomputes every grid viewer's page and sends it to
// the viewers whose page changed (and to force, who just asked). It reports
// whether any page changed.
func (r *room) refreshGridsLocked(force string) bool {
	f := r.floor
	if len(f.grids) == 0 {
		return false
	}
	sites := r.gridSitesLocked()
	changed := false
	for viewer, g := range f.grids {
		p := r.peers[viewer]
		if p == nil {
			continue
		}
		others := slices.DeleteFunc(slices.Clone(sites), func(id string) bool { return id == viewer })
		lo := min(g.page*g.size, len(others))
		page := others[lo:min(lo+g.size, len(others))]
		if old, had := f.pages[viewer]; !had || !slices.Equal(page, old) {
			changed = true
			set := make(map[string]bool, len(page))
			for _, id := range page {
				set[id] = true
			}
			f.pages[viewer], f.onPg[viewer] = slices.Clip(page), set
		} else if viewer != force {
			continue
		}
		p.send(TypeGridPage, GridPageData{Page: g.page, Size: g.size, Total: len(others), Sites: slices.Clone(page)})
	}
	return changed
}

// gridDo opens, turns or closes (size 0) a viewer's grid page, answers it
// with the page, and re-applies the policy when the page's sites changed.
func (r *room) gridDo(viewer string, page, size int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.floor
	if f == nil {
		return errf(CodeNoFloor, "this meeting has no floor control")
	}
	if size == 0 {
		if _, ok := f.grids[viewer]; !ok {
			return nil
		}
		delete(f.grids, viewer)
		delete(f.pages, viewer)
		delete(f.onPg, viewer)
		r.reconcileLocked(nil)
		return nil
	}
	f.grids[viewer] = gridView{page: page, size: size}
	if r.refreshGridsLocked(viewer) {
		r.reconcileLocked(nil)
	}
	return nil
}
