package sfu

import (
	"sort"
	"time"
)

// Allocation tuning. The allocator runs off the packet path, a few times a
// second per subscriber, and hands its decisions to the packet path as each
// down track's target layer.
const (
	allocInterval = 250 * time.Millisecond
	audioReserve  = 48_000 // bit/s kept for each forwarded audio track
	upHeadroom    = 1.15   // a higher layer must fit with this margin
	probeHold     = 2 * time.Second
	probeWaitMin  = 2 * time.Second
	probeWaitMax  = 8 * time.Second
	probeGrowth   = 1.5 // a probe tries this much more than the budget
)

// allocator turns a subscriber's bandwidth estimate into layer choices:
// highest-priority video first, each at the highest layer that fits, up to
// what the subscriber asked for.
//
// An estimate from transport-wide feedback only grows to about 1.5x what is
// being sent, so a subscriber that dropped to a low layer could never climb
// back. The allocator therefore probes: when some track is held below its
// request, it tries a budget 1.5x larger for two seconds. If the estimate
// does not fall meanwhile, the larger budget becomes a floor kept until the
// estimate falls (congestion); if it falls, the probe ends at once and the
// next waits twice as long, up to 8 s. A weak link thus sees at most a short
// step up every few seconds, never a flood.
type allocator struct {
	lastEst     int64
	floor       int64
	probing     bool
	probeAt     time.Time
	probeBudget int64
	probeWait   time.Duration
	nextProbe   time.Time
}

func newAllocator() allocator {
	return allocator{probeWait: probeWaitMin}
}

// runAllocator re-plans every allocInterval and whenever subscriptions change.
func (sub *Subscriber) runAllocator() {
	t := time.NewTicker(allocInterval)
	defer t.Stop()
	for {
		select {
		case <-sub.done:
			return
		case <-t.C:
		case <-sub.kick:
		}
		sub.allocate(time.Now())
	}
}

// estimate is the subscriber's downlink estimate in bit/s: transport-wide
// congestion control when negotiated, else a recent REMB, else unlimited.
func (sub *Subscriber) estimate(now time.Time) int64 {
	if at := sub.rembAt.Load(); at != 0 && now.Sub(time.Unix(0, at)) < 5*time.Second {
		if r := sub.remb.Load(); r > 0 && (sub.bwe == nil || r < int64(sub.bwe.GetTargetBitrate())) {
			return r
		}
	}
	if sub.bwe != nil {
		return int64(sub.bwe.GetTargetBitrate())
	}
	return 1 << 40
}

type planItem struct {
	d      *downTrack
	layers [maxLayers]int64 // cost of each present layer, 0 if absent
	pick   int
}

// plan assigns layers within budget. It reports whether any video track got
// less than it asked for, and the bitrate used.
func plan(items []planItem, budget int64) (limited bool, used int64) {
	remaining := budget
	for i := range items {
		it := &items[i]
		maxL := it.d.quality.maxLayer()
		for maxL >= 0 && it.layers[maxL] == 0 {
			maxL--
		}
		it.pick = -1
		if maxL < 0 {
			continue
		}
		cur := int(it.d.target.Load())
		for l := maxL; l >= 0; l-- {
			cost := it.layers[l]
			if cost == 0 {
				continue
			}
			need := cost
			if l > cur {
				need = int64(float64(cost) * upHeadroom)
			}
			if need <= remaining {
				it.pick = l
				break
			}
		}
		if it.pick < 0 && it.d.priority > 0 {
			for l := 0; l <= maxL; l++ { // important video never goes dark
				if it.layers[l] != 0 {
					it.pick = l
					break
				}
			}
		}
		if it.pick < maxL {
			limited = true
		}
		if it.pick >= 0 {
			remaining -= it.layers[it.pick]
			used += it.layers[it.pick]
		}
	}
	return limited, used
}

func (sub *Subscriber) allocate(now time.Time) {
	sub.mu.Lock()
	var items []planItem
	audio := 0
	for _, up := range sub.order {
		d := sub.downs[up].down
		if !d.video {
			audio++
			continue
		}
		it := planItem{d: d}
		up.mu.Lock()
		for i, l := range up.layers {
			if l != nil {
				it.layers[i] = l.nominal.Load()
			}
		}
		up.mu.Unlock()
		items = append(items, it)
	}
	sub.mu.Unlock()
	sort.SliceStable(items, func(i, j int) bool { return items[i].d.priority > items[j].d.priority })

	a := &sub.alloc
	est := sub.estimate(now)
	if a.lastEst > 0 && est < a.lastEst*9/10 {
		// The estimate fell: congestion. Forget what probes proved, and
		// end a probe in progress.
		a.floor = 0
		if a.probing {
			a.probing = false
			a.probeWait = min(2*a.probeWait, probeWaitMax)
			a.nextProbe = now.Add(a.probeWait)
		}
	}
	a.lastEst = est
	budget := max(est, a.floor) - int64(audio)*audioReserve
	if a.probing {
		if now.Sub(a.probeAt) >= probeHold {
			a.probing = false
			_, used := plan(items, a.probeBudget)
			a.floor = used + int64(audio)*audioReserve
			a.probeWait = probeWaitMin
			a.nextProbe = now.Add(a.probeWait)
		}
		budget = a.probeBudget
	}
	limited, _ := plan(items, budget)
	if limited && !a.probing && !now.Before(a.nextProbe) && est < 1<<40 {
		a.probing = true
		a.probeAt = now
		a.probeBudget = int64(float64(max(budget, 100_000)) * probeGrowth)
		plan(items, a.probeBudget)
	}
	for _, it := range items {
		it.d.setTarget(it.pick)
	}
}

// Budget reports the subscriber's current downlink estimate and the floor
// proven by probing, in bit/s.
func (sub *Subscriber) Budget() (estimate, floor int64, probing bool) {
	return sub.alloc.lastEst, sub.alloc.floor, sub.alloc.probing
}
