package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
)

// botPlan is what one synthetic bridge point does in a scenario.
type botPlan struct {
	id      string
	name    string
	publish bool
	level   uint8             // audio level sent: 127 silent, lower is louder
	want    map[string]string // video quality to ask of each publisher ("off" pauses)
	// expected tracks: publishers whose video and audio must arrive.
	videoFrom []string
	audioFrom []string
}

// plan is a whole scenario.
type plan struct {
	bots []*botPlan
}

// largeRoom mirrors the server's default policy: above this many peers a
// subscriber receives only the videos it asks for and the audio of the 3
// loudest speakers.
const largeRoom = 20

type point struct{ id, name string }

// roster reads points from a CSV with header id,name,... (as
// ../shared/testdata/bridgepoints-langson.csv), or invents n.
func roster(path string, n int) ([]point, error) {
	var pts []point
	if path != "" {
		fh, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		r := csv.NewReader(fh)
		header, err := r.Read()
		if err != nil {
			return nil, fmt.Errorf("roster %s: %w", path, err)
		}
		idCol, nameCol := -1, -1
		for i, h := range header {
			switch h {
			case "id":
				idCol = i
			case "name":
				nameCol = i
			}
		}
		if idCol < 0 {
			return nil, fmt.Errorf("roster %s: no id column", path)
		}
		for row := 2; ; row++ {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("roster %s row %d: %w", path, row, err)
			}
			p := point{id: rec[idCol], name: rec[idCol]}
			if nameCol >= 0 {
				p.name = rec[nameCol]
			}
			pts = append(pts, p)
		}
	}
	for i := len(pts); i < n; i++ {
		pts = append(pts, point{id: fmt.Sprintf("bp%03d", i), name: fmt.Sprintf("Điểm cầu %03d", i)})
	}
	if n > 0 && len(pts) > n {
		pts = pts[:n]
	}
	return pts, nil
}

// allSeeAll: every point publishes and receives every other point.
func allSeeAll(pts []point) plan {
	var p plan
	for _, pt := range pts {
		b := &botPlan{id: pt.id, name: pt.name, publish: true, level: 40, want: map[string]string{}}
		for _, o := range pts {
			if o.id != pt.id {
				b.videoFrom = append(b.videoFrom, o.id)
				b.audioFrom = append(b.audioFrom, o.id)
			}
		}
		p.bots = append(p.bots, b)
	}
	return p
}

// province: point 0 chairs and point 1 has the floor; both are on air at
// the high layer for everyone, and they are the only ones speaking. The chair
// also watches a grid of the next 25 points at the low layer. Every point
// publishes all layers; dynacast pauses what nobody watches.
func province(pts []point) plan {
	var p plan
	large := len(pts) > largeRoom
	chair, floor := pts[0].id, ""
	if len(pts) > 1 {
		floor = pts[1].id
	}
	for i, pt := range pts {
		b := &botPlan{id: pt.id, name: pt.name, publish: true, level: 127, want: map[string]string{}}
		if i < 2 {
			b.level = 30 - uint8(i)*5 // speech
		}
		for j, o := range pts {
			if o.id == pt.id {
				continue
			}
			switch {
			case o.id == chair || o.id == floor:
				b.want[o.id] = "high"
			case i == 0 && j >= 2 && j < 27:
				b.want[o.id] = "low" // the chair's roll-call grid
			case !large:
				b.want[o.id] = "off" // small rooms send everything unless told
			}
			if q := b.want[o.id]; q == "high" || q == "low" {
				b.videoFrom = append(b.videoFrom, o.id)
			}
			if !large || o.id == chair || o.id == floor {
				b.audioFrom = append(b.audioFrom, o.id)
			}
		}
		p.bots = append(p.bots, b)
	}
	return p
}

// speaker: P publishers and S receive-only subscribers; each subscriber
// takes one publisher at the high layer and up to 5 others at the low one,
// like LiveKit's load tester. Publishers speak at distinct levels, so the 3
// loudest are the same throughout.
func speaker(publishers, subscribers int) plan {
	var p plan
	var pubs []string
	for i := 0; i < publishers; i++ {
		id := fmt.Sprintf("pub%03d", i)
		pubs = append(pubs, id)
		p.bots = append(p.bots, &botPlan{id: id, name: "Phát " + id, publish: true, level: uint8(20 + i), want: map[string]string{}})
	}
	large := publishers+subscribers > largeRoom
	for j := 0; j < subscribers; j++ {
		id := fmt.Sprintf("sub%03d", j)
		b := &botPlan{id: id, name: "Xem " + id, want: map[string]string{}}
		main := j % publishers
		for k := 0; k < publishers && k < 6; k++ {
			pi := (main + k) % publishers
			q := "low"
			if k == 0 {
				q = "high"
			}
			b.want[pubs[pi]] = q
			b.videoFrom = append(b.videoFrom, pubs[pi])
		}
		if !large {
			for _, id := range pubs {
				if _, ok := b.want[id]; !ok {
					b.want[id] = "off"
				}
			}
		}
		for i, id := range pubs {
			if !large || i < 3 {
				b.audioFrom = append(b.audioFrom, id)
			}
		}
		p.bots = append(p.bots, b)
	}
	// Publishers receive each other too, under the same policy.
	for _, b := range p.bots[:publishers] {
		for i, id := range pubs {
			if id == b.id {
				continue
			}
			if !large {
				b.want[id] = "off"
			}
			if !large || i < 3 {
				b.audioFrom = append(b.audioFrom, id)
			}
		}
	}
	return p
}
