package signaling_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cau-bridge/cau/internal/app"
	"github.com/cau-bridge/cau/internal/testutil"
	"github.com/cau-bridge/cau/signaling"
)

func dialRaw(t *testing.T, a *app.App) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(a.WSURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func frame(typ string, data any) []byte {
	body, _ := json.Marshal(data)
	b, _ := json.Marshal(signaling.Envelope{V: 1, Type: typ, Data: body})
	return b
}

// readUntilClose reads frames until the server closes the socket and returns
// the error codes seen and the close code.
func readUntilClose(t *testing.T, c *websocket.Conn) (codes []string, closeCode int, reason string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, raw, err := c.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return codes, ce.Code, ce.Text
			}
			t.Fatalf("read: %v (want a close frame)", err)
		}
		var env signaling.Envelope
		if json.Unmarshal(raw, &env) == nil && env.Type == signaling.TypeError {
			var e signaling.ErrorData
			_ = json.Unmarshal(env.Data, &e)
			codes = append(codes, e.Code)
		}
	}
}

// nextError waits for the next error event on a joined client.
func nextError(t *testing.T, p *testutil.Participant) signaling.ErrorData {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case env := <-p.Events():
			if env.Type == signaling.TypeError {
				var e signaling.ErrorData
				if err := json.Unmarshal(env.Data, &e); err != nil {
					t.Fatal(err)
				}
				return e
			}
		case <-timeout:
			t.Fatal("no error frame within 5 s")
		}
	}
}

func TestBadInput(t *testing.T) {
	a := testutil.StartServer(t, nil)
	const meeting = "bad"
	// A healthy pair whose media must keep flowing through everything below.
	pub := testutil.Join(t, a, "healthy-pub", meeting)
	pub.Publish(t)
	watcher := testutil.Join(t, a, "healthy-sub", meeting)
	testutil.Eventually(t, 10*time.Second, "healthy media", func() bool {
		r := watcher.Track(pub.ID, "audio")
		return r != nil && r.Count() > 20
	})
	healthy := watcher.Track(pub.ID, "audio")

	t.Run("joined session errors", func(t *testing.T) {
		p := testutil.Join(t, a, "clumsy", meeting)
		noMedia := "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
		cases := []struct {
			name string
			raw  []byte
			code string
		}{
			{"malformed JSON", []byte(`{"v":1,"type":`), signaling.CodeBadJSON},
			{"unknown type", frame("dance", struct{}{}), signaling.CodeUnknownType},
			{"unknown envelope field", []byte(`{"v":1,"type":"ping","data":{},"extra":true}`), signaling.CodeBadMessage},
			{"unknown data field", []byte(`{"v":1,"type":"ping","data":{"extra":true}}`), signaling.CodeBadMessage},
			{"wrong version", []byte(`{"v":2,"type":"ping"}`), signaling.CodeUnsupportedVersion},
			{"malformed SDP", frame("offer", signaling.SDPData{Target: "pub", SDP: "this is not SDP"}), signaling.CodeBadSDP},
			{"offer with no media", frame("offer", signaling.SDPData{Target: "pub", SDP: noMedia}), signaling.CodeNoMedia},
			{"offer on the wrong connection", frame("offer", signaling.SDPData{Target: "sub", SDP: noMedia}), signaling.CodeBadMessage},
			{"answer with nothing offered", frame("answer", signaling.SDPData{Target: "sub", SDP: noMedia}), signaling.CodeBadMessage},
			{"join twice", frame("join", signaling.JoinData{Token: "x"}), signaling.CodeAlreadyJoined},
		}
		for _, tc := range cases {
			if err := p.SendRaw(tc.raw); err != nil {
				t.Fatal(err)
			}
			if e := nextError(t, p); e.Code != tc.code || e.Message == "" {
				t.Errorf("%s: got error %q (%q), want code %q", tc.name, e.Code, e.Message, tc.code)
			}
		}
		// The session survived all of that: it can still publish for real.
		p.Publish(t)
		testutil.Eventually(t, 10*time.Second, "the clumsy client's media after bad offers", func() bool {
			r := watcher.Track(p.ID, "video")
			return r != nil && r.Count() > 10
		})
	})

	t.Run("before join", func(t *testing.T) {
		c := dialRaw(t, a)
		_ = c.WriteMessage(websocket.TextMessage, frame("offer", signaling.SDPData{Target: "pub", SDP: "x"}))
		_ = c.WriteMessage(websocket.TextMessage, frame("leave", struct{}{}))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, raw, err := c.ReadMessage()
		if err != nil || !strings.Contains(string(raw), signaling.CodeNotJoined) {
			t.Fatalf("got %s, %v; want %s", raw, err, signaling.CodeNotJoined)
		}
	})

	forger, err := signaling.NewTokens([]byte("an attacker's secret that is long enough!"))
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := forger.Mint("intruder", "Kẻ gian", meeting, "chair", time.Hour)
	expired, _ := a.Tokens.Mint("late", "Đến muộn", meeting, "operator", -time.Minute)
	valid := testutil.Token(t, a, "tamper", meeting)
	tampered := valid[:strings.LastIndex(valid, ".")+1] + "AAAA" + valid[strings.LastIndex(valid, ".")+5:]
	for _, tc := range []struct{ name, token, code string }{
		{"missing token", "", signaling.CodeUnauthorized},
		{"forged token", forged, signaling.CodeUnauthorized},
		{"tampered signature", tampered, signaling.CodeUnauthorized},
		{"expired token", expired, signaling.CodeTokenExpired},
		{"not a JWT", "hello", signaling.CodeUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, a)
			if err := c.WriteMessage(websocket.TextMessage, frame("join", signaling.JoinData{Token: tc.token})); err != nil {
				t.Fatal(err)
			}
			codes, closeCode, _ := readUntilClose(t, c)
			if len(codes) != 1 || codes[0] != tc.code || closeCode != websocket.ClosePolicyViolation {
				t.Errorf("got errors %v and close %d; want [%s] and close 1008", codes, closeCode, tc.code)
			}
		})
	}

	t.Run("frame over 64 KiB", func(t *testing.T) {
		c := dialRaw(t, a)
		big := frame("join", signaling.JoinData{Token: strings.Repeat("a", 70<<10)})
		_ = c.WriteMessage(websocket.TextMessage, big)
		_, closeCode, _ := readUntilClose(t, c)
		if closeCode != websocket.CloseMessageTooBig {
			t.Errorf("close %d, want 1009", closeCode)
		}
	})

	t.Run("flood of 1000 messages per second", func(t *testing.T) {
		c := dialRaw(t, a)
		_ = c.WriteMessage(websocket.TextMessage, frame("join", signaling.JoinData{Token: testutil.Token(t, a, "flooder", meeting)}))
		go func() {
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for i := 0; i < 1000; i++ {
				<-tick.C
				if c.WriteMessage(websocket.TextMessage, frame("ping", struct{}{})) != nil {
					return
				}
			}
		}()
		codes, closeCode, reason := readUntilClose(t, c)
		if len(codes) == 0 || codes[len(codes)-1] != signaling.CodeRateLimited || closeCode != websocket.ClosePolicyViolation {
			t.Errorf("got errors %v, close %d %q; want rate_limited then 1008", codes, closeCode, reason)
		}
		testutil.Eventually(t, 5*time.Second, "the flooder to leave the room", func() bool {
			for _, p := range a.Signaling.RoomPeers(meeting) {
				if p.ID == "flooder" {
					return false
				}
			}
			return true
		})
	})

	// Through all of it the healthy pair kept its media and a newcomer can
	// still join.
	n := healthy.Count()
	testutil.Eventually(t, 5*time.Second, "healthy media to keep flowing", func() bool { return healthy.Count() > n+25 })
	if m := healthy.Missing(); m > healthy.Count()/100 {
		t.Errorf("healthy audio lost %d of %d packets", m, healthy.Count())
	}
	testutil.Join(t, a, "newcomer", meeting)
}

func TestKeepaliveCleansUpSilentPeer(t *testing.T) {
	a := testutil.StartServer(t, func(c *app.Config) {
		c.Signaling.KeepaliveInterval = 200 * time.Millisecond
		c.Signaling.KeepaliveTimeout = time.Second
	})
	const meeting = "keepalive"
	// A live client answers the server's pings (gorilla does, while reading).
	live := testutil.Join(t, a, "live", meeting)
	// A silent one joins, then stops reading, so it never answers a ping.
	silent := dialRaw(t, a)
	if err := silent.WriteMessage(websocket.TextMessage, frame("join", signaling.JoinData{Token: testutil.Token(t, a, "silent", meeting)})); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 3*time.Second, "both peers in the room", func() bool {
		return len(a.Signaling.RoomPeers(meeting)) == 2
	})
	start := time.Now()
	testutil.Eventually(t, 5*time.Second, "the silent peer to be removed", func() bool {
		return len(a.Signaling.RoomPeers(meeting)) == 1
	})
	if waited := time.Since(start); waited < 500*time.Millisecond {
		t.Errorf("silent peer removed after %v, before its timeout", waited)
	}
	if peers := a.Signaling.RoomPeers(meeting); peers[0].ID != "live" {
		t.Errorf("remaining peer is %q, want live", peers[0].ID)
	}
	gotLeft := false
	for !gotLeft {
		select {
		case env := <-live.Events():
			gotLeft = env.Type == signaling.TypePeerLeft && strings.Contains(string(env.Data), "silent")
		case <-time.After(2 * time.Second):
			t.Fatal("live peer was not told that the silent one left")
		}
	}
	// The live client, which answers pings, is still there well past the timeout.
	time.Sleep(1500 * time.Millisecond)
	select {
	case <-live.Done():
		t.Fatal("the live client was disconnected")
	default:
	}
}
