package sfu

// rewriter maps one or more consecutive input streams (sources) onto one
// output stream whose sequence numbers and timestamps never jump. When the
// source changes (a new SSRC: a republished track, or later a simulcast
// layer), the output continues from where the previous source stopped.
// It is plain arithmetic so it can run on the per-packet path.
type rewriter struct {
	video    bool
	tsStep   uint32 // timestamp gap inserted at a source change
	started  bool
	srcSSRC  uint32
	firstIn  uint16 // packets before this one are from before the switch
	highIn   uint16 // highest input sequence number of this source
	seqOff   uint16 // out = in - seqOff
	tsOff    uint32 // out = in - tsOff
	lastSeq  uint16 // highest output sequence number
	lastTS   uint32 // output timestamp of lastSeq
	switches uint32
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

// rewrite returns the output sequence number and timestamp for an input
// packet, or ok=false when the packet must be dropped: video from a new
// source before its keyframe, or a late packet from before the switch.
func (r *rewriter) rewrite(ssrc uint32, seq uint16, ts uint32, keyframe bool) (uint16, uint32, bool) {
	if !r.started || ssrc != r.srcSSRC {
		if r.video && !keyframe {
			return 0, 0, false
		}
		if r.started {
			r.seqOff = seq - (r.lastSeq + 1)
			r.tsOff = ts - (r.lastTS + r.tsStep)
			r.switches++
		} else {
			r.seqOff, r.tsOff = 0, 0
		}
		r.started = true
		r.srcSSRC = ssrc
		r.firstIn = seq
		r.highIn = seq
		r.lastSeq = seq - r.seqOff - 1
	}
	if int16(seq-r.firstIn) < 0 {
		return 0, 0, false // older than the switch point
	}
	if int16(seq-r.highIn) > 0 {
		r.highIn = seq
		// Keep the switch point within half the sequence space so the
		// signed comparison above stays meaningful as numbers wrap.
		if r.highIn-r.firstIn > 8192 {
			r.firstIn = r.highIn - 8192
		}
	}
	outSeq := seq - r.seqOff
	outTS := ts - r.tsOff
	if int16(outSeq-r.lastSeq) > 0 {
		r.lastSeq = outSeq
		r.lastTS = outTS
	}
	return outSeq, outTS, true
}
