package signaling

import (
	"slices"
	"testing"
	"time"

	"github.com/cau-bridge/cau/sfu"
)

// TestFloorStateMachine walks the floor through a meeting's typical moves
// and checks the state clients would see after each.
func TestFloorStateMachine(t *testing.T) {
	f := newFloor(MeetingInfo{OnAirMax: 2, ChairPoint: "chair"})
	clock := time.Unix(1_700_000_000, 0)
	f.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	hands := func() []string {
		var out []string
		for _, h := range f.state().Hands {
			out = append(out, h.ID)
		}
		return out
	}
	check := func(step string, onAir, queue []string) {
		t.Helper()
		if got := f.state().OnAir; !slices.Equal(got, onAir) {
			t.Errorf("%s: on air %v, want %v", step, got, onAir)
		}
		if got := hands(); !slices.Equal(got, queue) {
			t.Errorf("%s: hands %v, want %v", step, got, queue)
		}
	}
	check("start", []string{"chair"}, nil)
	f.raise("c")
	f.raise("a")
	f.raise("b")
	if f.raise("c") {
		t.Error("raising a raised hand changed the floor")
	}
	check("three hands", []string{"chair"}, []string{"c", "a", "b"})
	if !f.lower("a") || f.lower("a") {
		t.Error("lower: want a change once")
	}
	check("a lowered", []string{"chair"}, []string{"c", "b"})
	f.mute("c", true)
	f.grant("c")
	if f.muted["c"] {
		t.Error("a granted site stays muted")
	}
	check("c granted", []string{"chair", "c"}, []string{"b"})
	if f.raise("c") {
		t.Error("a site on air joined the hand queue")
	}
	f.grant("b")
	check("b granted", []string{"chair", "c", "b"}, nil)
	f.grant("d") // over the limit of 2: c, longest on air, drops off
	check("d granted", []string{"chair", "b", "d"}, nil)
	if f.grant("chair") {
		t.Error("granting the chair's site changed the floor")
	}
	if _, err := f.revoke("chair"); err == nil {
		t.Error("the chair's site was taken off air")
	}
	if ch, err := f.revoke("b"); !ch || err != nil {
		t.Errorf("revoke b: changed %v, err %v", ch, err)
	}
	check("b revoked", []string{"chair", "d"}, nil)
	if hs := f.state().Hands; len(hs) != 0 {
		t.Errorf("hands %v", hs)
	}
}

// TestFloorSelect checks the floor policy's choice for each kind of site.
func TestFloorSelect(t *testing.T) {
	f := newFloor(MeetingInfo{ChairPoint: "chair"})
	f.grant("onair")
	f.grant("onair-muted")  // OnAirMax 0 means 1: onair drops off...
	f.grant("onair")        // ...and comes back, dropping onair-muted
	f.mute("muted", true)   // off air and muted
	f.openMic("open", true) // off air, microphone opened
	f.openMic("open-muted", true)
	f.mute("open-muted", true)
	f.spotlight("spot")
	f.pages["viewer"] = []string{"tile"}
	f.onPg["viewer"] = map[string]bool{"tile": true}
	high := func(prio int) Choice { return Choice{Receive: true, Quality: sfu.QualityHigh, Priority: prio} }
	for _, c := range []struct {
		sub, peer, kind string
		want            Choice
	}{
		{"x", "chair", "audio", Choice{Receive: true}},
		{"x", "onair", "audio", Choice{Receive: true}},
		{"x", "onair-muted", "audio", Choice{}},
		{"x", "open", "audio", Choice{Receive: true}},
		{"x", "open-muted", "audio", Choice{}},
		{"x", "muted", "audio", Choice{}},
		{"x", "other", "audio", Choice{}},
		{"x", "chair", "video", high(prioOnAir)},
		{"x", "onair", "video", high(prioOnAir)},
		{"x", "spot", "video", high(prioSpotlight)},
		{"x", "open", "video", Choice{}},
		{"x", "tile", "video", Choice{}},
		{"viewer", "tile", "video", Choice{Receive: true, Quality: sfu.QualityLow, Priority: prioGrid}},
		{"viewer", "chair", "video", high(prioOnAir)},
		{"viewer", "other", "video", Choice{}},
	} {
		got := f.Select(RoomView{}, c.sub, TrackInfo{PeerID: c.peer, Kind: c.kind, Requested: sfu.QualityHigh, Explicit: true})
		if got != c.want {
			t.Errorf("%s receiving %s %s: %+v, want %+v", c.sub, c.peer, c.kind, got, c.want)
		}
	}
}
