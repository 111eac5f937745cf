package sfu

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// dynacastPauseAfter is how long a layer must go unwanted before the
// publisher is told to pause it, so brief layout changes do not flap.
const dynacastPauseAfter = 2 * time.Second

// dynacast pauses simulcast layers that no subscriber needs, so a site nobody
// watches in high quality does not spend its uplink on 720p. The lowest layer
// always stays on: it is cheap and keeps the chair's grid instant.
type dynacast struct {
	paused     atomic.Uint32 // bit i set: layer i is paused at the publisher
	kick       chan struct{}
	lastNeeded [maxLayers]time.Time
	notify     func(active [maxLayers]bool)
	log        *slog.Logger
}

// LayerDemand is sent to a publisher: which of a track's simulcast layers
// (by RID) it should encode and send.
type LayerDemand struct {
	TrackID string
	Active  map[string]bool
}

// poke asks for a prompt re-evaluation after a subscriber's target changed.
func (dy *dynacast) poke() {
	if dy.kick == nil {
		return
	}
	select {
	case dy.kick <- struct{}{}:
	default:
	}
}

// runDynacast samples layer bitrates and adjusts paused layers until the
// track ends.
func (u *UpTrack) runDynacast() {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	now := time.Now()
	for i := range u.dyn.lastNeeded {
		u.dyn.lastNeeded[i] = now
	}
	for {
		select {
		case <-u.done:
			return
		case <-t.C:
		case <-u.dyn.kick:
		}
		now := time.Now()
		u.sampleBitrates(now)
		u.updateDynacast(now)
	}
}

func (u *UpTrack) updateDynacast(now time.Time) {
	var needed uint32 = 1 // the lowest layer always stays on
	for _, d := range *u.downs.Load() {
		if t := d.target.Load(); t >= 0 {
			needed |= 1 << t
		}
		if c := d.currentLayer(); c >= 0 {
			needed |= 1 << c // keep it until the switch away from it is done
		}
	}
	u.mu.Lock()
	var present uint32
	n := 0
	for i, l := range u.layers {
		if l != nil {
			present |= 1 << i
			n++
		}
	}
	u.mu.Unlock()
	if n < 2 {
		return
	}
	var paused uint32
	for i := 0; i < maxLayers; i++ {
		if needed&(1<<i) != 0 {
			u.dyn.lastNeeded[i] = now
		} else if present&(1<<i) != 0 && now.Sub(u.dyn.lastNeeded[i]) >= dynacastPauseAfter {
			paused |= 1 << i
		}
	}
	old := u.dyn.paused.Swap(paused)
	if old == paused {
		return
	}
	var active [maxLayers]bool
	for i := range active {
		active[i] = paused&(1<<i) == 0
	}
	if u.dyn.notify != nil {
		u.dyn.notify(active)
	}
	if u.dyn.log != nil {
		u.dyn.log.Debug("dynacast", "track", u.id, "active", active)
	}
	// A resumed layer starts with whatever the encoder sends first; ask for
	// a keyframe so its subscribers can switch to it at once.
	for i := 0; i < maxLayers; i++ {
		if old&(1<<i) != 0 && paused&(1<<i) == 0 {
			if l := u.layer(i); l != nil {
				l.requestKeyframe()
			}
		}
	}
}

// demand turns active flags into the message for the publisher.
func (u *UpTrack) demand(active [maxLayers]bool) LayerDemand {
	u.mu.Lock()
	defer u.mu.Unlock()
	dm := LayerDemand{TrackID: u.id, Active: map[string]bool{}}
	for i, l := range u.layers {
		if l != nil && l.rid != "" {
			dm.Active[l.rid] = active[i]
		}
	}
	return dm
}
