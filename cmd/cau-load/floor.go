package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/cau-bridge/cau/signaling"
)

// gridPageSize is the chair's roll-call grid: one page of 25 sites.
const gridPageSize = 25

// floorControl is the chair's part in the province scenario: once every bot
// has joined (or failed to), the chair's device gives the floor to one site
// and asks for the first page of the grid.
func (l *load) floorControl(ctx context.Context) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			l.setFloorErr("floor: the run ended before every point had joined; the floor was never granted")
			return
		case <-t.C:
		}
		settled := true
		for _, b := range l.bots {
			if !b.joined.Load() && !b.failed.Load() {
				settled = false
				break
			}
		}
		if settled {
			break
		}
	}
	chair, floor := l.bot(l.chair), l.bot(l.floor)
	if !chair.joined.Load() {
		l.setFloorErr("floor: the chair " + l.chair + " did not join")
		return
	}
	if floor != nil {
		if !floor.joined.Load() {
			l.setFloorErr("floor: the floor site " + l.floor + " did not join")
			return
		}
		l.floorMu.Lock()
		l.grantAt = time.Now()
		l.floorMu.Unlock()
		if err := chair.c.Grant(l.floor); err != nil {
			l.setFloorErr("floor: grant: " + err.Error())
			return
		}
	}
	l.floorMu.Lock()
	l.gridAskedAt = time.Now()
	l.floorMu.Unlock()
	if err := chair.c.ViewGrid(0, gridPageSize); err != nil {
		l.setFloorErr("floor: grid: " + err.Error())
	}
}

func (l *load) setFloorErr(msg string) {
	l.floorMu.Lock()
	defer l.floorMu.Unlock()
	if l.floorErr == "" {
		l.floorErr = msg
	}
}

// onFloorEvent handles what the chair's device hears of floor control: its
// grid page, and refusals of its commands.
func (b *bot) onFloorEvent(env signaling.Envelope) {
	switch env.Type {
	case signaling.TypeGridPage:
		var d signaling.GridPageData
		if json.Unmarshal(env.Data, &d) != nil {
			return
		}
		now := time.Now()
		b.mu.Lock()
		b.grid = d.Sites
		for _, id := range d.Sites {
			if _, ok := b.gridAt[id]; !ok {
				b.gridAt[id] = now
			}
		}
		b.mu.Unlock()
	case signaling.TypeError:
		// Only the codes a floor command can earn: other errors (a trickled
		// candidate racing its offer, say) are not the floor's.
		var d signaling.ErrorData
		if json.Unmarshal(env.Data, &d) == nil && slices.Contains([]string{signaling.CodeForbidden, signaling.CodeNoFloor,
			signaling.CodeUnknownPeer, signaling.CodeBadMessage}, d.Code) {
			b.load.setFloorErr(fmt.Sprintf("floor: the server refused the chair's command: %s %s", d.Code, d.Message))
		}
	}
}

// expected lists the publishers whose kind of track this bot must receive:
// the plan's, and for the chair the sites on its grid page (video).
func (b *bot) expected(kind string) []string {
	if kind == "audio" {
		return b.plan.audioFrom
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.grid) == 0 {
		return b.plan.videoFrom
	}
	out := slices.Clone(b.plan.videoFrom)
	for _, id := range b.grid {
		if id != b.plan.id && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// availableAt is when a publisher's media could first reach a receiver:
// once both had joined and it published, and in a meeting once it was on
// air (the floor site: from the grant) or on the receiver's grid page.
func (l *load) availableAt(b *bot, pub string) time.Time {
	from := b.start
	if v, ok := l.publishedAt.Load(pub); ok && v.(time.Time).After(from) {
		from = v.(time.Time)
	}
	l.floorMu.Lock()
	grant := l.grantAt
	l.floorMu.Unlock()
	switch {
	case pub == l.chair:
	case pub == l.floor:
		if grant.After(from) {
			from = grant
		}
	default:
		b.mu.Lock()
		at := b.gridAt[pub]
		b.mu.Unlock()
		if at.After(from) {
			from = at
		}
	}
	return from
}

// meetingSummary reports the province scenario's meeting, or nil.
func (l *load) meetingSummary() *MeetingSummary {
	if l.meeting == nil {
		return nil
	}
	l.floorMu.Lock()
	grant := l.grantAt
	l.floorMu.Unlock()
	ms := &MeetingSummary{ID: l.meeting.id, Invited: l.meeting.invited, SetupS: l.meeting.took.Seconds(),
		Chair: l.chair, Floor: l.floor}
	if !grant.IsZero() {
		ms.GrantS = grant.Sub(l.begin).Seconds()
	}
	if chair := l.bot(l.chair); chair != nil {
		chair.mu.Lock()
		grid := slices.Clone(chair.grid)
		chair.mu.Unlock()
		ms.GridSites = len(grid)
		for _, id := range grid {
			if id == l.floor {
				continue // on air: high
			}
			if st := chair.track(id, "video"); st != nil && l.media.lowWidth > 0 && st.lastKeyWidth() == l.media.lowWidth {
				ms.GridLow++
			}
		}
	}
	if !grant.IsZero() && l.media.highWidth > 0 {
		var d []float64
		for _, b := range l.bots {
			if b.plan.id == l.floor || !b.joined.Load() || !b.start.Before(grant) {
				continue
			}
			if st := b.track(l.floor, "video"); st != nil {
				if at := st.firstHigh(); !at.IsZero() {
					d = append(d, float64(at.Sub(grant))/float64(time.Millisecond))
				}
			}
		}
		ms.GrantToHighN = len(d)
		ms.GrantToHighP50MS, ms.GrantToHighP95MS = percentile(d, 50), percentile(d, 95)
	}
	return ms
}

// vp8KeyWidth returns the picture width of a VP8 keyframe that starts in
// this RTP payload (RFC 7741 descriptor, then the frame), or 0.
func vp8KeyWidth(p []byte) int {
	if len(p) < 1 {
		return 0
	}
	start, pid := p[0]&0x10 != 0, p[0]&0x07
	i := 1
	if p[0]&0x80 != 0 { // X: extension byte
		if len(p) < 2 {
			return 0
		}
		ext := p[1]
		i = 2
		if ext&0x80 != 0 { // I: picture id, 7 or 15 bits
			if len(p) <= i {
				return 0
			}
			if p[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if ext&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if ext&0x30 != 0 { // T or K: TID/KEYIDX
			i++
		}
	}
	if !start || pid != 0 || len(p) < i+10 {
		return 0
	}
	return vp8FrameWidth(p[i:])
}

// vp8FrameWidth returns the width of a VP8 keyframe, or 0.
func vp8FrameWidth(f []byte) int {
	if len(f) < 10 || f[0]&0x01 != 0 || f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a {
		return 0
	}
	return int(binary.LittleEndian.Uint16(f[6:8]) & 0x3fff)
}
