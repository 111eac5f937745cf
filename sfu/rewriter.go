package sfu

// rewriter maps one or more consecutive input streams (sources) onto one
// output stream whose sequence numbers, timestamps and, for VP8, picture IDs
// and TL0PICIDX never jump. When the source changes (another simulcast
// layer, a republished track, another speaker in an audio slot), the output
// continues from where the previous source stopped. It is plain arithmetic so
// it can run on the per-packet path.
type rewriter struct {
	video   bool
	tsStep  uint32 // timestamp gap inserted at a source change
	started bool
	resume  bool // forwarding was paused: continue as after a source change
	srcSSRC uint32
	firstIn uint16 // packets before this one are from before the switch
	highIn  uint16 // highest input sequence number of this source
	seqOff  uint16 // out = in - seqOff
	tsOff   uint32 // out = in - tsOff
	lastSeq uint16 // highest output sequence number
	lastTS  uint32 // output timestamp of lastSeq

	// VP8 only.
	picOff  uint16
	tl0Off  uint8
	lastPic uint16
	lastTL0 uint8

	switches uint32
}

// pause marks that packets of the current source will be skipped: when
// forwarding resumes, the output continues without a gap, from a keyframe.
func (r *rewriter) pause() { r.resume = r.started }

// rewritten is where one packet goes in the output stream.
type rewritten struct {
	seq   uint16
	ts    uint32
	pic   uint16
	tl0   uint8
	patch bool // the payload's picture ID or TL0PICIDX must change
}

func newRewriter(video bool, clockRate uint32) rewriter {
	fps := uint32(50) // 20 ms audio frames
	if video {
		fps = 30
	}
	if clockRate == 0 {
		clockRate = 90000
	}
	return rewriter{video: video, tsStep: clockRate / fps}
}

// rewrite places an input packet in the output stream, or returns ok=false
// when it must be dropped: video from a new source before its keyframe, or a
// late packet from before the switch. vp8 may be nil for other codecs.
func (r *rewriter) rewrite(ssrc uint32, seq uint16, ts uint32, keyframe bool, vp8 *vp8Desc) (rewritten, bool) {
	if !r.started || ssrc != r.srcSSRC || r.resume {
		if r.video && !keyframe {
			return rewritten{}, false
		}
		if r.started {
			r.seqOff = seq - (r.lastSeq + 1)
			r.tsOff = ts - (r.lastTS + r.tsStep)
			if vp8 != nil {
				r.picOff = vp8.picID - (r.lastPic + 1)
				r.tl0Off = vp8.tl0 - (r.lastTL0 + 1)
			}
			r.switches++
		} else {
			r.seqOff, r.tsOff, r.picOff, r.tl0Off = 0, 0, 0, 0
		}
		r.started, r.resume = true, false
		r.srcSSRC = ssrc
		r.firstIn = seq
		r.highIn = seq
		r.lastSeq = seq - r.seqOff - 1
	}
	if int16(seq-r.firstIn) < 0 {
		return rewritten{}, false // older than the switch point
	}
	if int16(seq-r.highIn) > 0 {
		r.highIn = seq
		// Keep the switch point within half the sequence space so the
		// signed comparison above stays meaningful as numbers wrap.
		if r.highIn-r.firstIn > 8192 {
			r.firstIn = r.highIn - 8192
		}
	}
	out := rewritten{seq: seq - r.seqOff, ts: ts - r.tsOff}
	if vp8 != nil {
		mask := uint16(0x7f)
		if vp8.pic15 {
			mask = 0x7fff
		}
		out.pic = (vp8.picID - r.picOff) & mask
		out.tl0 = vp8.tl0 - r.tl0Off
		out.patch = (vp8.picOff > 0 && out.pic != vp8.picID) || (vp8.tl0Off > 0 && out.tl0 != vp8.tl0)
	}
	if int16(out.seq-r.lastSeq) > 0 {
		r.lastSeq = out.seq
		r.lastTS = out.ts
		if vp8 != nil {
			// Picture IDs never decrease along the sequence numbers.
			if vp8.picOff > 0 {
				r.lastPic = out.pic
			}
			if vp8.tl0Off > 0 {
				r.lastTL0 = out.tl0
			}
		}
	}
	return out, true
}
