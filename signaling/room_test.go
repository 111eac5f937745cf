package signaling_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/cau-bridge/cau/internal/app"
	"github.com/cau-bridge/cau/internal/testutil"
	"github.com/cau-bridge/cau/signaling"
	"github.com/cau-bridge/cau/signaling/client"
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
				// The server's output has no holes: video losses on the
				// wire are retransmitted; audio (no NACK in WebRTC) may
				// lose a rare packet when the machine is loaded.
				allowed := 0
				if kind == "audio" {
					allowed = r.Count() / 100
				}
				testutil.Eventually(t, 3*time.Second, "no sequence gap", func() bool { return r.Missing() <= allowed })
				if kind == "video" && !r.StartedOnKeyframe() {
					t.Errorf("%s: video from %s did not start on a keyframe", p.ID, pub.ID)
				}
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

// TestSharedPortsAndICETCP: every connection, publisher and subscriber, of
// every participant uses the server's one UDP port, and a participant that
// can only do TCP gets through on the one ICE-TCP port.
func TestSharedPortsAndICETCP(t *testing.T) {
	a := testutil.StartServer(t, nil)
	tcpAPI, err := client.LoopbackAPI(webrtc.NetworkTypeTCP4)
	if err != nil {
		t.Fatal(err)
	}
	udpPub := testutil.Join(t, a, "udp-pub", "ports")
	udpPub.Publish(t)
	tcpPub := testutil.JoinWith(t, a, "tcp-pub", "ports", tcpAPI)
	tcpPub.Publish(t)
	watcher := testutil.Join(t, a, "watcher", "ports")
	testutil.Eventually(t, 15*time.Second, "media from both publishers", func() bool {
		u, tc := watcher.Track("udp-pub", "video"), watcher.Track("tcp-pub", "video")
		return u != nil && tc != nil && u.Count() > 20 && tc.Count() > 20
	})
	udpPort := a.SFU.UDPAddr().(*net.UDPAddr).Port
	tcpPort := a.SFU.TCPAddr().(*net.TCPAddr).Port
	for _, c := range []struct {
		name  string
		pc    *webrtc.PeerConnection
		port  int
		proto string
	}{
		{"udp-pub publisher", udpPub.Pub(), udpPort, "udp"},
		{"udp-pub subscriber", udpPub.Sub(), udpPort, "udp"},
		{"watcher subscriber", watcher.Sub(), udpPort, "udp"},
		{"tcp-pub publisher", tcpPub.Pub(), tcpPort, "tcp"},
		{"tcp-pub subscriber", tcpPub.Sub(), tcpPort, "tcp"},
	} {
		var port int
		var proto string
		testutil.Eventually(t, 10*time.Second, c.name+" to connect", func() bool {
			port, proto = testutil.RemotePort(c.pc)
			return port != 0
		})
		if port != c.port || proto != c.proto {
			t.Errorf("%s: server side of the ICE pair is %s port %d, want %s port %d", c.name, proto, port, c.proto, c.port)
		}
	}
}

// TestH264Meeting: a meeting configured for H.264 (room systems that only do
// H.264) forwards H.264 from a publisher to a subscriber, starting on a
// keyframe.
func TestH264Meeting(t *testing.T) {
	a := testutil.StartServer(t, func(c *app.Config) { c.VideoCodec = webrtc.MimeTypeH264 })
	pub := testutil.Join(t, a, "room-system", "h264")
	if pub.Joined.VideoCodec != webrtc.MimeTypeH264 {
		t.Fatalf("joined says video codec %q", pub.Joined.VideoCodec)
	}
	pub.PublishCodec(t, webrtc.MimeTypeH264)
	sub := testutil.Join(t, a, "viewer", "h264")
	testutil.Eventually(t, 15*time.Second, "H.264 video", func() bool {
		r := sub.Track(pub.ID, "video")
		return r != nil && r.Count() > 30
	})
	r := sub.Track(pub.ID, "video")
	if mime := r.Track.Codec().MimeType; !strings.EqualFold(mime, webrtc.MimeTypeH264) {
		t.Errorf("subscriber receives %s, want H.264", mime)
	}
	if !r.KeyframeAfter(time.Time{}) {
		t.Error("no H.264 keyframe received")
	}
	if r.Missing() != 0 {
		t.Errorf("%d packets missing", r.Missing())
	}
}

// TestAllInterfacesSocket: with the ICE port bound to all interfaces (the
// production default, a dual-stack socket), batched sends reach an IPv4
// client.
func TestAllInterfacesSocket(t *testing.T) {
	a := testutil.StartServer(t, func(c *app.Config) { c.ICEIP = "" })
	pub := testutil.Join(t, a, "pub", "dual")
	pub.Publish(t)
	sub := testutil.Join(t, a, "sub", "dual")
	testutil.Eventually(t, 10*time.Second, "video over a dual-stack socket", func() bool {
		r := sub.Track("pub", "video")
		return r != nil && r.Count() > 30
	})
}

// TestRejoinWhileMeetingEmpties: a site that reloads, so its old session
// closes while the new one joins, always lands in the meeting's live room.
func TestRejoinWhileMeetingEmpties(t *testing.T) {
	a := testutil.StartServer(t, nil)
	for i := 0; i < 20; i++ {
		old := testutil.Join(t, a, fmt.Sprintf("site-%d", i), "reload")
		_ = old.Close()
		fresh := testutil.Join(t, a, fmt.Sprintf("site-%d-again", i), "reload")
		testutil.Eventually(t, 3*time.Second, "only the new session in the meeting", func() bool {
			peers := a.Signaling.RoomPeers("reload")
			return len(peers) == 1 && peers[0].ID == fresh.ID
		})
		_ = fresh.Close()
	}
}
