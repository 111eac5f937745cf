package sfu

import (
	"fmt"
	"strings"
)

// Quality is what a subscriber asks of a video track.
type Quality int

// Qualities, lowest first. A quality selects at most that simulcast layer.
const (
	QualityOff Quality = iota
	QualityLow
	QualityMedium
	QualityHigh
)

// maxLayers is the number of simulcast layers a track may have.
const maxLayers = 3

func (q Quality) String() string {
	switch q {
	case QualityOff:
		return "off"
	case QualityLow:
		return "low"
	case QualityMedium:
		return "medium"
	case QualityHigh:
		return "high"
	}
	return fmt.Sprintf("quality(%d)", int(q))
}

// ParseQuality reads "off", "low", "medium" or "high".
func ParseQuality(s string) (Quality, error) {
	for q := QualityOff; q <= QualityHigh; q++ {
		if s == q.String() {
			return q, nil
		}
	}
	return QualityOff, fmt.Errorf("unknown quality %q: use off, low, medium or high", s)
}

// maxLayer is the highest layer index a quality allows, -1 for off.
func (q Quality) maxLayer() int { return int(q) - 1 }

// layerIndex maps a simulcast RID to a layer, lowest first. Cầu clients use
// "l", "m" and "h"; "q", "h", "f" (quarter, half, full) and "0", "1", "2"
// are understood too. A track without simulcast has one layer, index 0.
func layerIndex(rid string, all []string) (int, error) {
	switch strings.ToLower(rid) {
	case "":
		return 0, nil
	case "l", "low", "q", "0":
		return 0, nil
	case "m", "mid", "medium", "1":
		return 1, nil
	case "f", "full", "high", "2":
		return 2, nil
	case "h":
		// "h" is "half" beside "q" and "f", and "high" beside "l" and "m".
		for _, r := range all {
			if r == "q" || r == "f" {
				return 1, nil
			}
		}
		return 2, nil
	}
	return 0, fmt.Errorf("unknown simulcast rid %q", rid)
}

// vp8Desc locates the fields of a VP8 payload descriptor (RFC 7741) that a
// layer switch must rewrite. Offsets are 0 when the field is absent.
type vp8Desc struct {
	picOff  int    // offset of the picture ID
	pic15   bool   // 15-bit picture ID (M bit)
	picID   uint16 //
	tl0Off  int    // offset of TL0PICIDX
	tl0     uint8  //
	present bool   // the descriptor parsed
}

func parseVP8Desc(p []byte) vp8Desc {
	var d vp8Desc
	if len(p) < 1 {
		return d
	}
	if p[0]&0x80 == 0 {
		d.present = true
		return d
	}
	if len(p) < 2 {
		return d
	}
	x := p[1]
	i := 2
	if x&0x80 != 0 {
		if len(p) <= i {
			return d
		}
		d.picOff = i
		if p[i]&0x80 != 0 {
			if len(p) <= i+1 {
				return vp8Desc{}
			}
			d.pic15 = true
			d.picID = uint16(p[i]&0x7f)<<8 | uint16(p[i+1])
			i += 2
		} else {
			d.picID = uint16(p[i])
			i++
		}
	}
	if x&0x40 != 0 {
		if len(p) <= i {
			return vp8Desc{}
		}
		d.tl0Off = i
		d.tl0 = p[i]
	}
	d.present = true
	return d
}

// patchVP8 writes a picture ID and TL0PICIDX into a copy of the payload.
func patchVP8(p []byte, d *vp8Desc, pic uint16, tl0 uint8) {
	if d.picOff > 0 {
		if d.pic15 {
			p[d.picOff] = 0x80 | byte(pic>>8&0x7f)
			p[d.picOff+1] = byte(pic)
		} else {
			p[d.picOff] = byte(pic & 0x7f)
		}
	}
	if d.tl0Off > 0 {
		p[d.tl0Off] = tl0
	}
}
