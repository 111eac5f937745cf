package testmedia

import "testing"

func TestClipsLoad(t *testing.T) {
	vp8, err := VP8("vp8-180p.ivf")
	if err != nil {
		t.Fatal(err)
	}
	h264, err := H264("h264-180p.h264", 15)
	if err != nil {
		t.Fatal(err)
	}
	opus, err := Opus("tone.ogg")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		clip   *Clip
		frames int
	}{{"vp8", vp8, 60}, {"h264", h264, 60}, {"opus", opus, 201}} {
		if len(c.clip.Frames) != c.frames {
			t.Errorf("%s: %d frames, want %d", c.name, len(c.clip.Frames), c.frames)
		}
		if !c.clip.Key[0] {
			t.Errorf("%s: does not start with a keyframe", c.name)
		}
	}
}
