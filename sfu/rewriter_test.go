package sfu

import "testing"

func TestRewriterSourceChangeKeepsContinuity(t *testing.T) {
	r := newRewriter(true, 90000)
	type in struct {
		ssrc uint32
		seq  uint16
		ts   uint32
		key  bool
	}
	steps := []struct {
		in      in
		ok      bool
		wantSeq uint16
		wantTS  uint32
	}{
		{in{1, 100, 1000, false}, false, 0, 0},         // video must start on a keyframe
		{in{1, 101, 1000, true}, true, 101, 1000},      // first keyframe passes as is
		{in{1, 102, 4000, false}, true, 102, 4000},     //
		{in{1, 65535, 4000, false}, false, 0, 0},       // older than the switch point
		{in{2, 5000, 777000, false}, false, 0, 0},      // new source: wait for its keyframe
		{in{2, 5001, 777000, true}, true, 103, 7000},   // continues at 103, ts +1 frame
		{in{2, 5002, 780000, false}, true, 104, 10000}, //
		{in{1, 103, 7000, false}, false, 0, 0},         // the old source's stragglers stay out
		{in{2, 5000, 777000, false}, false, 0, 0},      // late packet from before the switch
	}
	for i, s := range steps {
		o, ok := r.rewrite(s.in.ssrc, s.in.seq, s.in.ts, s.in.key, nil)
		seq, ts := o.seq, o.ts
		if ok != s.ok || (ok && (seq != s.wantSeq || ts != s.wantTS)) {
			t.Errorf("step %d %+v: got (%d, %d, %v), want (%d, %d, %v)", i, s.in, seq, ts, ok, s.wantSeq, s.wantTS, s.ok)
		}
	}
}

func TestRewriterWrapsAround(t *testing.T) {
	r := newRewriter(false, 48000)
	prev := uint16(0)
	for i := 0; i < 200000; i++ {
		in := uint16(60000 + i)
		o, ok := r.rewrite(9, in, uint32(i*960), false, nil)
		seq := o.seq
		if !ok {
			t.Fatalf("packet %d dropped", i)
		}
		if i > 0 && seq != prev+1 {
			t.Fatalf("packet %d: seq %d after %d", i, seq, prev)
		}
		prev = seq
	}
	// A retransmission a little older than the newest still passes.
	if _, ok := r.rewrite(9, prev+r.seqOff-50, 0, false, nil); !ok {
		t.Error("a late retransmission was dropped")
	}
}

func TestKeyframeDetection(t *testing.T) {
	cases := []struct {
		name string
		mime string
		p    []byte
		want bool
	}{
		{"vp8 key, no extension", "video/VP8", []byte{0x10, 0x00}, true},
		{"vp8 delta", "video/VP8", []byte{0x10, 0x01}, false},
		{"vp8 key, 15-bit picture id", "video/VP8", []byte{0x90, 0x80, 0x81, 0x23, 0x00}, true},
		{"vp8 key, 7-bit picture id, tl0, tid", "video/VP8", []byte{0x90, 0xe0, 0x05, 0x07, 0x20, 0x00}, true},
		{"vp8 continuation", "video/VP8", []byte{0x00, 0x00}, false},
		{"vp8 other partition", "video/VP8", []byte{0x11, 0x00}, false},
		{"vp8 truncated", "video/VP8", []byte{0x90, 0x80}, false},
		{"h264 idr", "video/H264", []byte{0x65, 0x88}, true},
		{"h264 sps", "video/H264", []byte{0x67, 0x42}, true},
		{"h264 non-idr", "video/H264", []byte{0x41, 0x9a}, false},
		{"h264 stap-a with sps", "video/H264", []byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, true},
		{"h264 fu-a idr start", "video/H264", []byte{0x7c, 0x85, 0x00}, true},
		{"h264 fu-a idr middle", "video/H264", []byte{0x7c, 0x05, 0x00}, false},
		{"empty", "video/VP8", nil, false},
		{"audio", "audio/opus", []byte{0x10, 0x00}, false},
	}
	for _, c := range cases {
		if got := IsKeyframe(c.mime, c.p); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestRewriterResumesWithoutGap(t *testing.T) {
	r := newRewriter(true, 90000)
	if _, ok := r.rewrite(1, 10, 0, true, nil); !ok {
		t.Fatal("keyframe dropped")
	}
	o, _ := r.rewrite(1, 11, 0, false, nil)
	r.pause() // packets 12..49 are not forwarded
	if _, ok := r.rewrite(1, 50, 90000, false, nil); ok {
		t.Error("a delta frame resumed the stream")
	}
	o2, ok := r.rewrite(1, 51, 93000, true, nil)
	if !ok || o2.seq != o.seq+1 {
		t.Errorf("resumed at %d (ok=%v), want %d", o2.seq, ok, o.seq+1)
	}
}
