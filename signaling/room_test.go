package signaling_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"

	"github.com/cau-bridge/cau/internal/testutil"
	"github.com/cau-bridge/cau/signaling"
)

// TestRoomFanout: 3 publishers and 10 subscribers in one room, all pion
// clients sending real VP8 and Opus through a real server on loopback.
func TestRoomFanout(t *testing.T) {
	a := testutil.StartServer(t, nil)
	const meeting = "fanout"
	var pubs, subs []*testutil.Participant
	for i := 0; i < 3; i++ {
		p := testutil.Join(t, a, fmt.Sprintf("pub%d", i), meeting)
		p.Publish(t)
		pubs = append(pubs, p)
	}
	for i := 0; i < 10; i++ {
		subs = append(subs, testutil.Join(t, a, fmt.Sprintf("sub%d", i), meeting))
	}
	everyone := append(append([]*testutil.Participant{}, pubs...), subs...)

	// Every participant receives every other publisher's audio and video,
	// with no hole in the sequence numbers once retransmissions are in.
	testutil.Eventually(t, 20*time.Second, "every track to deliver media", func() bool {
		for _, p := range everyone {
			for _, pub := range pubs {
				if pub == p {
					continue
				}
				v, au := p.Track(pub.ID, "video"), p.Track(pub.ID, "audio")
				if v == nil || au == nil || v.Count() < 30 || au.Count() < 50 {
					return false
				}
			}
		}
		return true
	})
	for _, p := range everyone {
		if p.Track(p.ID, "video") != nil {
			t.Errorf("%s receives its own video", p.ID)
		}
		for _, pub := range pubs {
			if pub == p {
				continue
			}
			for _, kind := range []string{"audio", "video"} {
				r := p.Track(pub.ID, kind)
				// Let in-flight retransmissions land before judging holes.
				testutil.Eventually(t, 3*time.Second, "no sequence gap", func() bool { return r.Missing() == 0 })
				if ssrc := r.Track.StreamID(); ssrc != pub.ID {
					t.Errorf("%s: stream id %q, want the publisher's id %q", p.ID, ssrc, pub.ID)
				}
			}
		}
	}

	// A subscriber's PLI reaches the publisher, which sends a keyframe.
	time.Sleep(time.Second) // outside the publisher's keyframe throttle window
	target := pubs[1]
	before := target.KeyRequests.Load()
	r := subs[3].Track(target.ID, "video")
	sentAt := time.Now()
	if err := subs[3].Sub().WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(r.Track.SSRC())}}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 2*time.Second, "the PLI to reach the publisher", func() bool {
		return target.KeyRequests.Load() > before
	})
	testutil.Eventually(t, 2*time.Second, "a keyframe after the PLI", func() bool { return r.KeyframeAfter(sentAt) })

	// A publisher that leaves disappears from every subscriber through
	// renegotiation.
	gone := pubs[0]
	offersBefore := map[string]int{}
	for _, p := range everyone[1:] {
		offersBefore[p.ID], _ = p.SubOffers()
	}
	if err := gone.Leave(); err != nil {
		t.Logf("leave: %v", err)
	}
	for _, p := range everyone[1:] {
		testutil.Eventually(t, 5*time.Second, p.ID+" to be offered the removal", func() bool {
			n, sdp := p.SubOffers()
			return n > offersBefore[p.ID] && !strings.Contains(sdp, "msid:"+gone.ID+" ")
		})
		testutil.Eventually(t, 5*time.Second, p.ID+" to see the track end", func() bool {
			return p.Track(gone.ID, "video").Ended() && p.Track(gone.ID, "audio").Ended()
		})
	}
	// The others keep receiving from the remaining publishers.
	r2 := subs[0].Track(pubs[2].ID, "audio")
	n := r2.Count()
	testutil.Eventually(t, 3*time.Second, "media to keep flowing", func() bool { return r2.Count() > n+20 })
	if got := len(a.Signaling.RoomPeers(meeting)); got != 12 {
		t.Errorf("room has %d peers after one left, want 12", got)
	}
	_ = signaling.ProtocolVersion
}
