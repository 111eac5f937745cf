package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strings"
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
	// chair and floor are set for the province scenario, which runs as a
	// registered meeting under floor control.
	chair, floor string
}

// largeRoom mirrors the server's default policy (development rooms: the
// all-see-all and speaker scenarios): above this many peers a subscriber
// receives only the videos it asks for and the audio of the 3 loudest
// speakers.
const largeRoom = 20

// point is one bridge point of the roster: its id (also its device's peer
// id), name, level and parent as in the registry's CSV format.
type point struct{ id, name, level, parent string }

// roster reads points from a CSV with header id,name,level,parent,... (as
// ../shared/testdata/bridgepoints-langson.csv; level and parent may be
// missing), or invents n: one province root, the rest its districts. Points
// beyond the file's are invented too (their level and parent are settled at
// import, see extraPoints). The raw file is returned for the registry import.
func roster(path string, n int) (pts []point, file []byte, err error) {
	if path != "" {
		if file, err = os.ReadFile(path); err != nil {
			return nil, nil, err
		}
		r := csv.NewReader(bytes.NewReader(file))
		r.FieldsPerRecord = -1
		header, err := r.Read()
		if err != nil {
			return nil, nil, fmt.Errorf("roster %s: %w", path, err)
		}
		col := map[string]int{}
		for i, h := range header {
			col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
		}
		if _, ok := col["id"]; !ok {
			return nil, nil, fmt.Errorf("roster %s: no id column", path)
		}
		get := func(rec []string, name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		for row := 2; ; row++ {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, nil, fmt.Errorf("roster %s row %d: %w", path, row, err)
			}
			p := point{id: get(rec, "id"), name: get(rec, "name"), level: get(rec, "level"), parent: get(rec, "parent")}
			if p.name == "" {
				p.name = p.id
			}
			pts = append(pts, p)
		}
	}
	invented := len(pts) == 0
	for i := len(pts); i < n; i++ {
		p := point{id: fmt.Sprintf("bp%03d", i), name: fmt.Sprintf("Điểm cầu %03d", i)}
		if invented {
			p.level, p.parent = "district", "bp000"
			if i == 0 {
				p.level, p.parent = "province", ""
			}
		}
		pts = append(pts, p)
	}
	if n > 0 && len(pts) > n {
		pts = pts[:n]
	}
	return pts, file, nil
}

// chairAndFloor picks the province scenario's chair, the roster's main
// province point (the first at level "province", else the first point), and
// the site given the floor, the point after it.
func chairAndFloor(pts []point) (chair, floor int) {
	for i, p := range pts {
		if p.level == "province" {
			chair = i
			break
		}
	}
	floor = -1
	if len(pts) > 1 {
		floor = (chair + 1) % len(pts)
	}
	return chair, floor
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

// province runs as a registered meeting under floor control: the chair
// point's device is the chair, on air from the start; once everyone has
// joined it gives the floor to one site and watches a 25-site grid page at
// the low layer. The floor policy sends on-air video at high to everyone and
// forwards only on-air audio, so nobody asks for qualities. Every point
// publishes all layers; dynacast pauses what nobody watches. The plan's bots
// are the chair, the floor, then the others in roster order; the chair's
// grid expectations come from its grid_page events at run time.
func province(pts []point) plan {
	chairIdx, floorIdx := chairAndFloor(pts)
	order := []point{pts[chairIdx]}
	if floorIdx >= 0 {
		order = append(order, pts[floorIdx])
	}
	for i, pt := range pts {
		if i != chairIdx && i != floorIdx {
			order = append(order, pt)
		}
	}
	p := plan{chair: order[0].id}
	if len(order) > 1 {
		p.floor = order[1].id
	}
	for i, pt := range order {
		b := &botPlan{id: pt.id, name: pt.name, publish: true, level: 127, want: map[string]string{}}
		if i < 2 {
			b.level = 30 - uint8(i)*5 // speech
		}
		for _, on := range []string{p.chair, p.floor} {
			if on != "" && on != pt.id {
				b.videoFrom = append(b.videoFrom, on)
				b.audioFrom = append(b.audioFrom, on)
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
