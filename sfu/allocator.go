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
	// upCooldown holds a track at its layer for a while after it was
	// lowered: near a layer's cost, the cost's swings (keyframes) would
	// otherwise flip it up and down every step, each step up asking the
	// publisher for a keyframe.
	upCooldown = 3 * time.Second
)

// allocator turns a subscriber's bandwidth estimate into layer choices:
// highest-priority video first, each at the highest layer that fits, up to
// what the subscriber asked for.
//
// An estimate from transport-wide feedback only grows to about 1.5x what is
// being sent, so it says little about a link that has not been pushed. The
// allocator therefore trusts a link that has shown no congestion for a while
// (10 s, doubling each time renewed trust proved wrong within 10 s, up to
// 60 s) and gives
// every track what it asks for. After congestion (the estimate falls by a
// tenth or more) it goes by the estimate and probes upward: it tries a
// budget 1.5x larger, or large enough for the next layer, for two seconds.
// If the estimate holds, the larger budget becomes a floor kept until the
// next congestion; if it falls, the probe ends at once and the next waits
// twice as long, up to 8 s. A weak link thus sees short steps, never a
// flood.
type allocator struct {
	lastEst        int64
	lastUsed       int64 // bitrate planned at the previous step
	floor          int64
	lastCongestion time.Time
	quiet          time.Duration // congestion-free time before trusting the link
	trusting       bool
	retrust        bool // trust was granted again after congestion
	trustedSince   time.Time
	probing        bool
	probeAt        time.Time
	probeBudget    int64
	probeWait      time.Duration
	nextProbe      time.Time
}

const (
	trustQuietMin = 10 * time.Second
	trustQuietMax = 60 * time.Second
)

func newAllocator() allocator {
	return allocator{probeWait: probeWaitMin, quiet: trustQuietMin}
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
	d        *downTrack
	quality  Quality // copied under the subscriber's lock
	priority int
	layers   [maxLayers]int64 // cost of each present layer, 0 if absent
	pick     int
	holdUp   bool // lowered recently: may not go above its current target
}

// plan assigns layers within budget. It reports whether any video track got
// less than it asked for, and the bitrate used.
func plan(items []planItem, budget int64) (limited bool, used int64) {
	remaining := budget
	for i := range items {
		it := &items[i]
		maxL := it.quality.maxLayer()
		for maxL >= 0 && it.layers[maxL] == 0 {
			maxL--
		}
		it.pick = -1
		if maxL < 0 {
			continue
		}
		cur := int(it.d.target.Load())
		if it.holdUp && cur >= 0 && cur < maxL {
			maxL = cur
		}
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
		if it.pick < 0 && it.priority >= 0 {
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
		it := planItem{d: d, quality: d.quality, priority: d.priority, holdUp: now.Sub(d.lastDown) < upCooldown}
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
	sort.SliceStable(items, func(i, j int) bool { return items[i].priority > items[j].priority })

	a := &sub.alloc
	est := sub.estimate(now)
	reserve := int64(audio) * audioReserve
	if a.lastEst > 0 && est < a.lastEst*9/10 && est < a.lastUsed {
		// The estimate fell below what is being sent: congestion. (It also
		// falls when less is sent, which says nothing about the link.) Forget what probes proved, stop
		// trusting the link, and end a probe in progress.
		a.lastCongestion = now
		a.floor = 0
		if a.trusting {
			a.trusting = false
			if a.retrust && now.Sub(a.trustedSince) < trustQuietMin {
				a.quiet = min(2*a.quiet, trustQuietMax) // trusted too soon
			}
		}
		if a.probing {
			a.probing = false
			a.probeWait = min(2*a.probeWait, probeWaitMax)
			a.nextProbe = now.Add(a.probeWait)
		}
	}
	a.lastEst = est
	if !a.trusting && (a.lastCongestion.IsZero() || now.Sub(a.lastCongestion) >= a.quiet) {
		a.retrust = !a.lastCongestion.IsZero()
		a.trusting, a.trustedSince, a.probing = true, now, false
	}
	if a.trusting && now.Sub(a.trustedSince) >= 2*trustQuietMin {
		a.quiet = trustQuietMin // trust held: be quick to trust again
	}
	budget := max(est, a.floor) - reserve
	switch {
	case a.trusting:
		budget = 1 << 40
	case a.probing:
		if now.Sub(a.probeAt) >= probeHold {
			a.probing = false
			_, used := plan(items, a.probeBudget)
			a.floor = used + reserve
			a.probeWait = probeWaitMin
			a.nextProbe = now.Add(a.probeWait)
		} else {
			budget = a.probeBudget
		}
	}
	limited, used := plan(items, budget)
	if limited && !a.trusting && !a.probing && !now.Before(a.nextProbe) {
		probe := max(int64(float64(max(budget, 100_000))*probeGrowth), nextStep(items, used))
		if l, u := plan(items, probe); u > used || !l {
			a.probing, a.probeAt, a.probeBudget = true, now, probe
		} else {
			plan(items, budget)
		}
	}
	a.lastUsed = reserve
	for _, it := range items {
		if it.pick >= 0 {
			a.lastUsed += it.layers[it.pick]
		}
	}
	for _, it := range items {
		if int(it.d.target.Load()) != it.pick {
			sub.log.Debug("layer change", "track", it.d.id, "from", it.d.target.Load(), "to", it.pick,
				"estimate", est, "floor", a.floor, "trusting", a.trusting, "probing", a.probing)
		}
		if it.pick < int(it.d.target.Load()) && it.pick >= 0 {
			it.d.lastDown = now
		}
		it.d.setTarget(it.pick)
	}
}

// nextStep is the budget that lifts the first held-back track one layer.
func nextStep(items []planItem, used int64) int64 {
	for _, it := range items {
		maxL := it.quality.maxLayer()
		for l := it.pick + 1; l <= maxL && l < maxLayers; l++ {
			if it.layers[l] != 0 {
				cur := int64(0)
				if it.pick >= 0 {
					cur = it.layers[it.pick]
				}
				return used + int64(float64(it.layers[l]-cur)*upHeadroom) + 1
			}
		}
	}
	return used
}
