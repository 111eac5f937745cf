package signaling_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/cau-bridge/cau/internal/app"
	"github.com/cau-bridge/cau/internal/testutil"
	"github.com/cau-bridge/cau/sfu"
	"github.com/cau-bridge/cau/signaling"
)

// meetingTable is a signaling.Meetings over a fixed table.
type meetingTable map[string]signaling.MeetingInfo

func (m meetingTable) Meeting(_ context.Context, id string) (signaling.MeetingInfo, error) {
	info, ok := m[id]
	if !ok {
		return signaling.MeetingInfo{}, signaling.ErrNoMeeting
	}
	return info, nil
}

func startFloorServer(t *testing.T, meetings meetingTable) *app.App {
	t.Helper()
	return testutil.StartServer(t, func(c *app.Config) { c.Signaling.Meetings = meetings })
}

// waitEvent reads p's events until one of type typ satisfies ok (nil: any),
// skipping the others.
func waitEvent[T any](t *testing.T, p *testutil.Participant, typ string, ok func(T) bool) T {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case env := <-p.Events():
			if env.Type != typ {
				continue
			}
			var d T
			if err := json.Unmarshal(env.Data, &d); err != nil {
				t.Fatal(err)
			}
			if ok == nil || ok(d) {
				return d
			}
		case <-timeout:
			var zero T
			t.Fatalf("%s: no matching %q within 5 s", p.ID, typ)
			return zero
		}
	}
}

func onAirIs(want ...string) func(signaling.FloorData) bool {
	return func(d signaling.FloorData) bool { return slices.Equal(d.OnAir, want) }
}

// waitPublished waits until p has been told that each peer publishes each
// kind, so that their absence later is the policy's doing.
func waitPublished(t *testing.T, p *testutil.Participant, peers []string, kinds ...string) {
	t.Helper()
	missing := map[string]bool{}
	for _, peer := range peers {
		for _, kind := range kinds {
			missing[peer+"/"+kind] = true
		}
	}
	for len(missing) > 0 {
		waitEvent(t, p, signaling.TypeTrackPublished, func(d signaling.TrackData) bool {
			delete(missing, d.PeerID+"/"+d.Kind)
			return true
		})
	}
}

// waitFlowing waits until p receives peer's kind and packets keep coming.
func waitFlowing(t *testing.T, p *testutil.Participant, peer, kind string, within time.Duration) *testutil.Received {
	t.Helper()
	var r *testutil.Received
	base := -1
	testutil.Eventually(t, within, p.ID+" receiving "+peer+"'s "+kind, func() bool {
		if r == nil || r != p.Track(peer, kind) {
			r, base = p.Track(peer, kind), -1
		}
		if r == nil {
			return false
		}
		if base < 0 {
			base = r.Count()
		}
		return r.Count() > base+5
	})
	return r
}

// waitStopped waits until r has received nothing for 700 ms.
func waitStopped(t *testing.T, r *testutil.Received, what string) {
	t.Helper()
	last, since := r.Count(), time.Now()
	testutil.Eventually(t, 5*time.Second, what, func() bool {
		if c := r.Count(); c != last {
			last, since = c, time.Now()
		}
		return time.Since(since) > 700*time.Millisecond
	})
}

// forwarded reports whether the server forwards peer's kind to sub, and how.
func forwarded(a *app.App, meeting, sub, peer, kind string) (sfu.TrackState, bool) {
	for _, tr := range a.Signaling.SubscriberTracks(meeting, sub) {
		if tr.PeerID == peer && tr.Kind == kind {
			return tr, true
		}
	}
	return sfu.TrackState{}, false
}

// TestFloorOnAirAndGrant: only the chair's site is on air at first, so only
// its audio and video reach the others; granting the floor to a site brings
// its video to everyone at high quality within 2 s, and granting it to
// another (one site beside the chair) takes the first off air.
func TestFloorOnAirAndGrant(t *testing.T) {
	const m = "floor-grant"
	a := startFloorServer(t, meetingTable{m: {OnAirMax: 1, ChairPoint: "chair"}})
	chair := testutil.JoinAs(t, a, "chair", m, "chair")
	chair.PublishSimulcast(t)
	b := testutil.JoinAs(t, a, "site-b", m, "operator")
	b.PublishSimulcast(t)
	c := testutil.JoinAs(t, a, "site-c", m, "operator")
	c.PublishSimulcast(t)
	d := testutil.JoinAs(t, a, "site-d", m, "operator")
	waitPublished(t, d, []string{"site-b", "site-c"}, "audio", "video")
	for _, p := range []*testutil.Participant{b, c, d} {
		waitFlowing(t, p, "chair", "audio", 10*time.Second)
		waitFlowing(t, p, "chair", "video", 10*time.Second)
	}
	time.Sleep(time.Second)
	for _, p := range []*testutil.Participant{chair, b, c, d} {
		for _, pk := range [][2]string{{"site-b", "audio"}, {"site-b", "video"}, {"site-c", "audio"}, {"site-c", "video"}} {
			if pk[0] != p.ID && p.Track(pk[0], pk[1]) != nil {
				t.Errorf("%s receives off-air %s's %s", p.ID, pk[0], pk[1])
			}
		}
	}

	at := time.Now()
	if err := chair.Grant("site-b"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*testutil.Participant{chair, c, d} {
		testutil.Eventually(t, 2*time.Second-time.Since(at), p.ID+": site-b's video at high", func() bool {
			r := p.Track("site-b", "video")
			return r != nil && r.KeyframeSince(at, testutil.WidthIs(1280))
		})
	}
	t.Logf("site-b on air at high for everyone after %v", time.Since(at).Round(10*time.Millisecond))
	waitEvent(t, d, signaling.TypeFloor, onAirIs("chair", "site-b"))
	rb := waitFlowing(t, d, "site-b", "audio", 2*time.Second)

	at = time.Now()
	if err := chair.Grant("site-c"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*testutil.Participant{chair, b, d} {
		testutil.Eventually(t, 2*time.Second-time.Since(at), p.ID+": site-c's video at high", func() bool {
			r := p.Track("site-c", "video")
			return r != nil && r.KeyframeSince(at, testutil.WidthIs(1280))
		})
	}
	waitEvent(t, d, signaling.TypeFloor, onAirIs("chair", "site-c"))
	waitFlowing(t, d, "site-c", "audio", 2*time.Second)
	for _, kind := range []string{"audio", "video"} {
		if _, ok := forwarded(a, m, "site-d", "site-b", kind); ok {
			t.Errorf("site-b's %s still forwarded after it went off air", kind)
		}
	}
	waitStopped(t, rb, "site-b's audio to stop arriving")
	waitStopped(t, d.Track("site-b", "video"), "site-b's video to stop arriving")
}

// TestFloorHandsAndRefusals: raised hands reach the chair in order; roles
// that may not act on the floor are refused with "forbidden" and change
// nothing; bad bodies are refused; a viewer may not publish; a newcomer
// learns the floor; a meeting without floor control answers "no_floor".
func TestFloorHandsAndRefusals(t *testing.T) {
	const m = "floor-hands"
	a := startFloorServer(t, meetingTable{m: {OnAirMax: 1, ChairPoint: "chair"}})
	chair := testutil.JoinAs(t, a, "chair", m, "chair")
	b := testutil.JoinAs(t, a, "site-b", m, "operator")
	c := testutil.JoinAs(t, a, "site-c", m, "operator")
	admin := testutil.JoinAs(t, a, "admin", m, "it_admin")
	waitEvent(t, chair, signaling.TypeFloor, onAirIs("chair")) // sent on join

	handsAre := func(want ...string) func(signaling.FloorData) bool {
		return func(d signaling.FloorData) bool {
			var got []string
			for _, h := range d.Hands {
				got = append(got, h.ID)
			}
			return slices.Equal(got, want)
		}
	}
	if err := b.RaiseHand(true); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, chair, signaling.TypeFloor, handsAre("site-b"))
	if err := c.RaiseHand(true); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, chair, signaling.TypeFloor, handsAre("site-b", "site-c"))

	before, ok := a.Signaling.FloorState(m)
	if !ok {
		t.Fatal("no floor state for a registered meeting")
	}
	refused := []struct {
		who  *testutil.Participant
		what string
		send func() error
	}{
		{b, "grant", func() error { return b.Grant("site-b") }},
		{b, "revoke", func() error { return b.Revoke("chair") }},
		{b, "mute", func() error { return b.Mute("chair", true) }},
		{b, "open a mic", func() error { return b.OpenMic("site-c", true) }},
		{b, "spotlight", func() error { return b.Spotlight("site-b") }},
		{b, "view the grid", func() error { return b.ViewGrid(0, 16) }},
		{admin, "grant", func() error { return admin.Grant("site-c") }},
		{admin, "raise a hand", func() error { return admin.RaiseHand(true) }},
		{chair, "raise a hand", func() error { return chair.RaiseHand(true) }},
	}
	for _, r := range refused {
		if err := r.send(); err != nil {
			t.Fatal(err)
		}
		if e := nextError(t, r.who); e.Code != signaling.CodeForbidden {
			t.Errorf("%s tried to %s: code %q, want %q", r.who.ID, r.what, e.Code, signaling.CodeForbidden)
		}
	}
	bad := []struct {
		who *testutil.Participant
		raw string
	}{
		{b, `{"v":1,"type":"hand","data":{}}`},
		{b, `{"v":1,"type":"hand","data":{"raised":true,"loud":true}}`},
		{chair, `{"v":1,"type":"floor_grant","data":{"peer":""}}`},
		{chair, `{"v":1,"type":"floor_mute","data":{"peer":"site-b"}}`},
		{chair, `{"v":1,"type":"grid","data":{"page":0,"size":0}}`},
		{chair, `{"v":1,"type":"grid","data":{"page":-1,"size":16}}`},
		{chair, `{"v":1,"type":"grid","data":{"page":0,"size":65}}`},
	}
	for _, x := range bad {
		if err := x.who.SendRaw([]byte(x.raw)); err != nil {
			t.Fatal(err)
		}
		if e := nextError(t, x.who); e.Code != signaling.CodeBadMessage {
			t.Errorf("%s: code %q, want %q", x.raw, e.Code, signaling.CodeBadMessage)
		}
	}
	if err := chair.Grant("nobody"); err != nil {
		t.Fatal(err)
	}
	if e := nextError(t, chair); e.Code != signaling.CodeUnknownPeer {
		t.Errorf("grant to an absent site: code %q", e.Code)
	}
	if after, _ := a.Signaling.FloorState(m); !reflect.DeepEqual(before, after) {
		t.Errorf("refused requests changed the floor:\n%+v\n%+v", before, after)
	}
	for len(chair.Events()) > 0 {
		if env := <-chair.Events(); env.Type == signaling.TypeFloor {
			t.Errorf("a floor event followed refused requests: %s", env.Data)
		}
	}

	// The chair gives the floor to the second hand: it leaves the queue.
	if err := chair.Grant("site-c"); err != nil {
		t.Fatal(err)
	}
	st := waitEvent(t, b, signaling.TypeFloor, onAirIs("chair", "site-c"))
	if !handsAre("site-b")(st) {
		t.Errorf("hands after granting site-c: %+v", st.Hands)
	}
	if err := b.RaiseHand(false); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, chair, signaling.TypeFloor, handsAre())

	// A newcomer learns the floor on joining.
	late := testutil.JoinAs(t, a, "site-e", m, "operator")
	waitEvent(t, late, signaling.TypeFloor, onAirIs("chair", "site-c"))

	// Viewers and IT staff may not publish.
	for _, role := range []string{"viewer", "it_admin"} {
		v := testutil.JoinAs(t, a, "no-"+role, m, role)
		v.Publish(t)
		e := nextError(t, v)
		for e.Code == signaling.CodeBadCandidate { // its candidates may come first
			e = nextError(t, v)
		}
		if e.Code != signaling.CodeForbidden {
			t.Errorf("%s published: code %q", role, e.Code)
		}
		if v.Pub().ConnectionState() == webrtc.PeerConnectionStateConnected {
			t.Errorf("%s's publisher connection connected", role)
		}
	}

	// A meeting the registry does not know runs without floor control.
	dev := testutil.JoinAs(t, a, "dev-chair", "dev-room", "chair")
	if err := dev.Grant("dev-chair"); err != nil {
		t.Fatal(err)
	}
	if e := nextError(t, dev); e.Code != signaling.CodeNoFloor {
		t.Errorf("floor request in a plain room: code %q", e.Code)
	}
}

// TestFloorOpenMicMuteSpotlight: the chair opens an off-air site's
// microphone and its audio arrives; muting it stops it; spotlighting a site
// brings its video to everyone at high quality, and clearing the spotlight
// stops it.
func TestFloorOpenMicMuteSpotlight(t *testing.T) {
	const m = "floor-mic"
	a := startFloorServer(t, meetingTable{m: {ChairPoint: "chair"}})
	chair := testutil.JoinAs(t, a, "chair", m, "chair")
	b := testutil.JoinAs(t, a, "site-b", m, "operator")
	b.PublishSimulcast(t)
	d := testutil.JoinAs(t, a, "site-d", m, "operator")
	waitPublished(t, d, []string{"site-b"}, "audio")
	time.Sleep(time.Second)
	if d.Track("site-b", "audio") != nil {
		t.Fatal("an off-air site's audio arrives before its mic is opened")
	}

	if err := chair.OpenMic("site-b", true); err != nil {
		t.Fatal(err)
	}
	st := waitEvent(t, d, signaling.TypeFloor, func(f signaling.FloorData) bool { return slices.Contains(f.OpenMic, "site-b") })
	if slices.Contains(st.OnAir, "site-b") {
		t.Error("opening a mic put the site on air")
	}
	rb := waitFlowing(t, d, "site-b", "audio", 3*time.Second)
	if _, ok := forwarded(a, m, "site-d", "site-b", "video"); ok {
		t.Error("an open mic brought the site's video")
	}

	if err := chair.Mute("site-b", true); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, d, signaling.TypeFloor, func(f signaling.FloorData) bool { return slices.Contains(f.Muted, "site-b") })
	testutil.Eventually(t, 2*time.Second, "site-b's audio unsubscribed", func() bool {
		_, ok := forwarded(a, m, "site-d", "site-b", "audio")
		return !ok
	})
	waitStopped(t, rb, "muted audio to stop arriving")

	at := time.Now()
	if err := chair.Spotlight("site-b"); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, d, signaling.TypeFloor, func(f signaling.FloorData) bool { return f.Spotlight == "site-b" })
	testutil.Eventually(t, 3*time.Second, "the spotlighted video at high", func() bool {
		r := d.Track("site-b", "video")
		return r != nil && r.KeyframeSince(at, testutil.WidthIs(1280))
	})
	if err := chair.Spotlight(""); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 2*time.Second, "the video unsubscribed with the spotlight cleared", func() bool {
		_, ok := forwarded(a, m, "site-d", "site-b", "video")
		return !ok
	})
}

// TestFloorGrid: an IT admin looking at page 0 of size 4 gets exactly those
// sites' video, at the low layer (and the publisher pauses its unneeded
// layers); turning the page moves the subscriptions; closing the grid stops
// them.
func TestFloorGrid(t *testing.T) {
	const m = "floor-grid"
	a := startFloorServer(t, meetingTable{m: {ChairPoint: "chair"}}) // the chair is absent
	g1 := testutil.JoinAs(t, a, "g1", m, "operator")
	g1.PublishSimulcast(t)
	for _, id := range []string{"g2", "g3", "g4", "g5"} {
		testutil.JoinAs(t, a, id, m, "operator").Publish(t)
	}
	admin := testutil.JoinAs(t, a, "admin", m, "it_admin")
	waitPublished(t, admin, []string{"g1", "g2", "g3", "g4", "g5"}, "video")
	time.Sleep(500 * time.Millisecond)
	if n := admin.Tracks(); n != 0 {
		t.Fatalf("admin receives %d tracks before looking at the grid", n)
	}

	at := time.Now()
	if err := admin.ViewGrid(0, 4); err != nil {
		t.Fatal(err)
	}
	page := waitEvent[signaling.GridPageData](t, admin, signaling.TypeGridPage, nil)
	if want := []string{"g1", "g2", "g3", "g4"}; !slices.Equal(page.Sites, want) || page.Total != 5 {
		t.Fatalf("page 0: %+v, want sites %v of 5", page, want)
	}
	testutil.Eventually(t, 5*time.Second, "g1's video at low", func() bool {
		r := admin.Track("g1", "video")
		return r != nil && r.KeyframeSince(at, testutil.WidthIs(320))
	})
	for _, id := range []string{"g2", "g3", "g4"} {
		waitFlowing(t, admin, id, "video", 5*time.Second)
	}
	for _, id := range page.Sites {
		if st, ok := forwarded(a, m, "admin", id, "video"); !ok || st.Quality != sfu.QualityLow {
			t.Errorf("%s on the page: forwarded %v at %v, want low", id, ok, st.Quality)
		}
		if _, ok := forwarded(a, m, "admin", id, "audio"); ok {
			t.Errorf("the grid brought %s's audio", id)
		}
	}
	if _, ok := forwarded(a, m, "admin", "g5", "video"); ok {
		t.Error("g5, on page 1, is forwarded on page 0")
	}
	testutil.Eventually(t, 6*time.Second, "g1's unneeded layers paused", func() bool {
		return g1.LayerPaused("h") && g1.LayerPaused("m") && !g1.LayerPaused("l")
	})

	if err := admin.ViewGrid(1, 4); err != nil {
		t.Fatal(err)
	}
	page = waitEvent[signaling.GridPageData](t, admin, signaling.TypeGridPage, nil)
	if !slices.Equal(page.Sites, []string{"g5"}) {
		t.Fatalf("page 1: %+v", page)
	}
	r5 := waitFlowing(t, admin, "g5", "video", 5*time.Second)
	testutil.Eventually(t, 2*time.Second, "page 0's sites unsubscribed", func() bool {
		_, ok := forwarded(a, m, "admin", "g1", "video")
		return !ok
	})

	if err := admin.CloseGrid(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 2*time.Second, "nothing forwarded once the grid is closed", func() bool {
		return len(a.Signaling.SubscriberTracks(m, "admin")) == 0
	})
	waitStopped(t, r5, "g5's video to stop arriving")
}
