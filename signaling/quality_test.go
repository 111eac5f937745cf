package signaling_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
	"github.com/pion/webrtc/v4"

	"github.com/cau-bridge/cau/internal/app"
	"github.com/cau-bridge/cau/internal/testmedia"
	"github.com/cau-bridge/cau/internal/testutil"
	"github.com/cau-bridge/cau/signaling"
	"github.com/cau-bridge/cau/signaling/client"
)

// lossyNet is the standard network whose UDP sockets drop a fraction of
// the RTP they send (up) and receive (down), never STUN, DTLS or RTCP, so
// connections come up as usual: a point on a lossy link. Each connection
// keeps its own socket (a shared mux, as netem.Throttle.API gives, would
// make the server's two connections of one client share an address).
type lossyNet struct {
	*stdnet.Net
	up, down float64

	mu            sync.Mutex
	rng           *rand.Rand
	sent, dropped atomic.Uint64 // RTP written
}

// ListenUDP implements transport.Net.
func (n *lossyNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	if u, ok := c.(*net.UDPConn); ok {
		_ = u.SetReadBuffer(4 << 20)
		_ = u.SetWriteBuffer(4 << 20)
	}
	return &lossyUDP{UDPConn: c, n: n}, nil
}

func (n *lossyNet) drop(p []byte, fraction float64) bool {
	// RFC 7983: RTP and RTCP start with 128-191; RTCP's packet type is
	// 192-223.
	if fraction == 0 || len(p) < 2 || p[0] < 128 || p[0] > 191 || (p[1] >= 192 && p[1] <= 223) {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.rng.Float64() < fraction
}

type lossyUDP struct {
	transport.UDPConn
	n *lossyNet
}

func (c *lossyUDP) WriteTo(p []byte, addr net.Addr) (int, error) {
	if c.n.drop(p, c.n.up) {
		c.n.dropped.Add(1)
		return len(p), nil
	}
	if len(p) > 1 && p[0] >= 128 && p[0] <= 191 && (p[1] < 192 || p[1] > 223) {
		c.n.sent.Add(1)
	}
	return c.UDPConn.WriteTo(p, addr)
}

func (c *lossyUDP) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFrom(p)
		if err != nil || !c.n.drop(p[:n], c.n.down) {
			return n, addr, err
		}
	}
}

// lossyAPI is a loopback pion API whose connections lose up of the RTP
// they send and down of the RTP they receive.
func lossyAPI(t *testing.T, up, down float64) (*webrtc.API, *lossyNet) {
	t.Helper()
	std, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	ln := &lossyNet{Net: std, up: up, down: down, rng: rand.New(rand.NewPCG(1, 2))}
	me, ir, err := client.DefaultMedia()
	if err != nil {
		t.Fatal(err)
	}
	logs := logging.NewDefaultLoggerFactory()
	logs.DefaultLogLevel = logging.LogLevelError
	se := webrtc.SettingEngine{LoggerFactory: logs}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNet(ln)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir),
		webrtc.WithSettingEngine(se)), ln
}

// dashboard is a joined client that reads the quality feed.
type dashboard struct {
	c *client.Client

	mu      sync.Mutex
	reports []signaling.QualityReportData
	alerts  []signaling.AlertData
	errors  []signaling.ErrorData
}

func joinAs(t *testing.T, a *app.App, id, meeting, role string) *client.Client {
	t.Helper()
	tok, err := a.Tokens.Mint(id, "Dashboard "+id, meeting, role, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{URL: a.WSURL(), Token: tok})
	if err != nil {
		t.Fatalf("%s: join: %v", id, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// openDashboard joins as role and subscribes to the quality feed.
func openDashboard(t *testing.T, a *app.App, id, meeting, role string) *dashboard {
	t.Helper()
	d := &dashboard{c: joinAs(t, a, id, meeting, role)}
	go func() {
		for env := range d.c.Events() {
			d.mu.Lock()
			switch env.Type {
			case signaling.TypeQualityReport:
				var r signaling.QualityReportData
				if json.Unmarshal(env.Data, &r) == nil {
					d.reports = append(d.reports, r)
				}
			case signaling.TypeAlert:
				var al signaling.AlertData
				if json.Unmarshal(env.Data, &al) == nil {
					d.alerts = append(d.alerts, al)
				}
			case signaling.TypeError:
				var e signaling.ErrorData
				if json.Unmarshal(env.Data, &e) == nil {
					d.errors = append(d.errors, e)
				}
			}
			d.mu.Unlock()
		}
	}()
	if err := d.c.Send(signaling.TypeQualitySubscribe, struct{}{}); err != nil {
		t.Fatal(err)
	}
	return d
}

// point is the latest report's entry for id.
func (d *dashboard) point(id string) (signaling.PointQuality, int, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.reports) == 0 {
		return signaling.PointQuality{}, 0, false
	}
	for _, p := range d.reports[len(d.reports)-1].Points {
		if p.Point == id {
			return p, len(d.reports), true
		}
	}
	return signaling.PointQuality{}, len(d.reports), false
}

// alertsFor lists the alerts received about a point.
func (d *dashboard) alertsFor(point string) []signaling.AlertData {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []signaling.AlertData
	for _, a := range d.alerts {
		if a.Point == point {
			out = append(out, a)
		}
	}
	return out
}

func hasAlert(alerts []signaling.AlertData, kind, state string) bool {
	return slices.ContainsFunc(alerts, func(a signaling.AlertData) bool { return a.Kind == kind && a.State == state })
}

// median of the next n reports' values for a point.
func (d *dashboard) median(t *testing.T, n int, id string, get func(signaling.PointQuality) *float64) float64 {
	t.Helper()
	var vals []float64
	_, seen, _ := d.point(id)
	testutil.Eventually(t, time.Duration(n+3)*time.Second, "quality reports", func() bool {
		p, count, ok := d.point(id)
		if ok && count > seen {
			seen = count
			if v := get(p); v != nil {
				vals = append(vals, *v)
			}
		}
		return len(vals) >= n
	})
	sort.Float64s(vals)
	return vals[len(vals)/2]
}

// TestQualityFeedLoss: an IT admin's dashboard receives the live quality of
// every point. A point whose RTP the test drops at 10% on the way up (and
// on the way down) shows about 10% loss and a loss alert; a clean point
// shows none and raises nothing.
func TestQualityFeedLoss(t *testing.T) {
	const meeting = "quality-loss"
	a := testutil.StartServer(t, nil)
	dash := openDashboard(t, a, "it-1", meeting, "it_admin")

	clean := testutil.Join(t, a, "clean", meeting)
	clean.Publish(t)
	api, lc := lossyAPI(t, 0.10, 0.10)
	lossy := testutil.JoinWith(t, a, "lossy", meeting, api)
	lossy.Publish(t)

	deadline := time.Now().Add(15 * time.Second)
	for {
		r1, r2 := clean.Track("lossy", "video"), lossy.Track("clean", "video")
		if r1 != nil && r1.Count() > 30 && r2 != nil && r2.Count() > 30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no media both ways: clean got %v, lossy got %v (lossy pc %v/%v)", r1 != nil, r2 != nil,
				lossy.Client.Pub().ConnectionState(), lossy.Client.Sub().ConnectionState())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Let the 5 s window fill with lossy traffic.
	time.Sleep(6 * time.Second)

	upLoss := func(p signaling.PointQuality) *float64 { return p.Up.Loss }
	downLoss := func(p signaling.PointQuality) *float64 { return p.Down.Loss }
	lossyUp := dash.median(t, 5, "lossy", upLoss)
	t.Logf("lossy uplink loss %.3f (the test dropped %d of %d RTP packets)", lossyUp, lc.dropped.Load(),
		lc.dropped.Load()+lc.sent.Load())
	if lossyUp < 0.06 || lossyUp > 0.14 {
		t.Errorf("lossy point's uplink loss = %.3f, want about 0.10", lossyUp)
	}
	lossyDown := dash.median(t, 3, "lossy", downLoss)
	t.Logf("lossy downlink loss %.3f", lossyDown)
	if lossyDown < 0.05 || lossyDown > 0.15 {
		t.Errorf("lossy point's downlink loss = %.3f, want about 0.10", lossyDown)
	}
	cleanUp := dash.median(t, 3, "clean", upLoss)
	cleanDown := dash.median(t, 3, "clean", downLoss)
	t.Logf("clean loss up %.3f down %.3f", cleanUp, cleanDown)
	if cleanUp > 0.01 || cleanDown > 0.02 {
		t.Errorf("clean point's loss = up %.3f down %.3f, want about 0 (the lossy publisher's gaps are not its link's)",
			cleanUp, cleanDown)
	}

	testutil.Eventually(t, 5*time.Second, "a loss alert for the lossy point", func() bool {
		return hasAlert(dash.alertsFor("lossy"), signaling.AlertLoss, signaling.AlertRaised)
	})
	if al := dash.alertsFor("clean"); len(al) > 0 {
		t.Errorf("clean point raised alerts: %+v", al)
	}

	for _, id := range []string{"clean", "lossy"} {
		p, _, ok := dash.point(id)
		if !ok {
			t.Fatalf("%s missing from the report", id)
		}
		raw, _ := json.Marshal(p)
		t.Logf("%s", raw)
		if !p.Online || !p.Publishing {
			t.Errorf("%s: online %v publishing %v, want both", id, p.Online, p.Publishing)
		}
		if p.RTTMS == nil || *p.RTTMS <= 0 {
			t.Errorf("%s: RTT %v, want > 0", id, p.RTTMS)
		}
		if p.Up.BitrateBPS <= 0 || p.Down.BitrateBPS <= 0 {
			t.Errorf("%s: bitrate up %d down %d, want > 0", id, p.Up.BitrateBPS, p.Down.BitrateBPS)
		}
		if p.Up.JitterMS == nil || p.Down.JitterMS == nil {
			t.Errorf("%s: jitter up %v down %v, want both known", id, p.Up.JitterMS, p.Down.JitterMS)
		}
		if len(p.Layers) != 1 || p.Layers[0].Layer != 0 {
			t.Errorf("%s: layers %+v, want the other point's video at layer 0", id, p.Layers)
		}
	}
	if !slices.Contains(mustPoint(t, dash, "lossy").Alerts, signaling.AlertLoss) {
		t.Error("the lossy point's report does not list its loss alert")
	}

	// REST reads the same snapshot.
	rest := a.Signaling.Quality(meeting)
	if !slices.ContainsFunc(rest, func(p signaling.PointQuality) bool { return p.Point == "lossy" }) {
		t.Errorf("Quality(%q) = %+v, want the lossy point", meeting, rest)
	}
	if a.Signaling.Quality("no-such-meeting") != nil {
		t.Error("Quality of an unknown meeting is not nil")
	}
}

func mustPoint(t *testing.T, d *dashboard, id string) signaling.PointQuality {
	t.Helper()
	p, _, ok := d.point(id)
	if !ok {
		t.Fatalf("%s missing from the report", id)
	}
	return p
}

// TestQualitySilentAndOffline: a point that stops sending raises a silent
// alert within seconds and clears it when media resumes; a point whose
// WebSocket drops raises an offline alert.
func TestQualitySilentAndOffline(t *testing.T) {
	const meeting = "quality-silent"
	a := testutil.StartServer(t, func(c *app.Config) {
		c.Signaling.Quality = signaling.QualityConfig{SilentAfter: 2 * time.Second}
	})
	dash := openDashboard(t, a, "it-1", meeting, "chair")

	p := testutil.Join(t, a, "quiet", meeting)
	clip, err := testmedia.VP8("vp8-180p.ivf")
	if err != nil {
		t.Fatal(err)
	}
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "camera", "quiet")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Client.Publish(track); err != nil {
		t.Fatal(err)
	}
	player := testmedia.NewPlayer(clip, track)
	ctx, stop := context.WithCancel(context.Background())
	go player.Run(ctx)
	other := testutil.Join(t, a, "other", meeting)

	testutil.Eventually(t, 15*time.Second, "the quiet point publishing", func() bool {
		q, _, ok := dash.point("quiet")
		return ok && q.Publishing && q.Up.BitrateBPS > 0
	})
	stop()
	stopped := time.Now()
	testutil.Eventually(t, 6*time.Second, "a silent alert", func() bool {
		return hasAlert(dash.alertsFor("quiet"), signaling.AlertSilent, signaling.AlertRaised)
	})
	t.Logf("silent alert %v after the media stopped", time.Since(stopped).Round(100*time.Millisecond))
	if q := mustPoint(t, dash, "quiet"); q.SilentMS < 2000 || !slices.Contains(q.Alerts, signaling.AlertSilent) {
		t.Errorf("silent point reported as %+v", q)
	}
	ctx2, stop2 := context.WithCancel(context.Background())
	defer stop2()
	go player.Run(ctx2)
	testutil.Eventually(t, 6*time.Second, "the silent alert cleared", func() bool {
		return hasAlert(dash.alertsFor("quiet"), signaling.AlertSilent, signaling.AlertCleared)
	})

	_ = other.Client.Close() // the socket drops, no leave
	testutil.Eventually(t, 6*time.Second, "an offline alert", func() bool {
		return hasAlert(dash.alertsFor("other"), signaling.AlertOffline, signaling.AlertRaised)
	})
	if o := mustPoint(t, dash, "other"); o.Online || o.OfflineSince == nil {
		t.Errorf("dropped point reported as %+v", o)
	}
	if got := a.Signaling.AlertCounts(); got[signaling.AlertSilent] != 1 || got[signaling.AlertOffline] != 1 {
		t.Errorf("alert counts = %v, want one silent and one offline", got)
	}
}

// TestQualityFeedForbidden: only the chair and IT staff get the feed; the
// others get an error frame "forbidden".
func TestQualityFeedForbidden(t *testing.T) {
	const meeting = "quality-roles"
	a := testutil.StartServer(t, nil)
	for _, tc := range []struct {
		role    string
		allowed bool
	}{
		{"viewer", false},
		{"operator", false},
		{"secretary", false},
		{"chair", true},
		{"it_admin", true},
	} {
		t.Run(tc.role, func(t *testing.T) {
			d := openDashboard(t, a, "d-"+tc.role, meeting, tc.role)
			testutil.Eventually(t, 5*time.Second, "an answer to quality_subscribe", func() bool {
				d.mu.Lock()
				defer d.mu.Unlock()
				return len(d.errors) > 0 || len(d.reports) > 0
			})
			d.mu.Lock()
			defer d.mu.Unlock()
			if tc.allowed {
				if len(d.errors) > 0 {
					t.Errorf("%s refused: %+v", tc.role, d.errors)
				}
				return
			}
			if len(d.reports) > 0 {
				t.Errorf("%s got a quality report", tc.role)
			}
			if len(d.errors) == 0 || d.errors[0].Code != signaling.CodeForbidden {
				t.Errorf("%s: errors %+v, want %q", tc.role, d.errors, signaling.CodeForbidden)
			}
		})
	}
}
