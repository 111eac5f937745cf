package web_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cau-bridge/cau/internal/testutil"
	"github.com/cau-bridge/cau/web"
)

// scrape fetches the metrics and returns every sample line by series
// (name and labels as exposed).
func scrape(t *testing.T, h http.Handler) (map[string]float64, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want the text exposition format", ct)
	}
	series := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(rec.Body.String()))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample line %q: %v", line, err)
		}
		series[line[:i]] = v
	}
	return series, rec.Body.String()
}

// TestMetrics: /metrics exposes the media plane's totals, every point's
// live quality and the Go runtime, read at scrape time.
func TestMetrics(t *testing.T) {
	const meeting = "metrics"
	a := testutil.StartServer(t, nil)
	h := web.MetricsHandler(a.SFU, a.Signaling)

	before, _ := scrape(t, h)
	if before["cau_forwarded_packets_total"] != 0 || before["cau_peers"] != 0 {
		t.Errorf("before any media: forwarded %v, peers %v", before["cau_forwarded_packets_total"], before["cau_peers"])
	}

	pub := testutil.Join(t, a, "pub", meeting)
	pub.Publish(t)
	sub := testutil.Join(t, a, "sub", meeting)
	testutil.Eventually(t, 15*time.Second, "media forwarded", func() bool {
		r := sub.Track("pub", "video")
		return r != nil && r.Count() > 30
	})
	upBitrate := `cau_point_bitrate_bps{direction="up",meeting="metrics",point="pub"}`
	var got map[string]float64
	var body string
	upLoss := `cau_point_loss_ratio{direction="up",meeting="metrics",point="pub"}`
	testutil.Eventually(t, 5*time.Second, "the publisher's bitrate and loss in the metrics", func() bool {
		got, body = scrape(t, h)
		_, ok := got[upLoss]
		return got[upBitrate] > 0 && ok
	})
	for series, want := range map[string]func(float64) bool{
		"cau_forwarded_packets_total":                     func(v float64) bool { return v > 30 },
		"cau_forwarded_bytes_total":                       func(v float64) bool { return v > 1000 },
		"cau_received_packets_total":                      func(v float64) bool { return v > 30 },
		"cau_peers":                                       func(v float64) bool { return v == 2 },
		"cau_meetings":                                    func(v float64) bool { return v == 1 },
		`cau_nacks_total{direction="down"}`:               func(v float64) bool { return v >= 0 },
		`cau_alerts_total{kind="loss"}`:                   func(v float64) bool { return v == 0 },
		`cau_point_online{meeting="metrics",point="pub"}`: func(v float64) bool { return v == 1 },
		`cau_point_bitrate_bps{direction="down",meeting="metrics",point="sub"}`: func(v float64) bool { return v > 0 },
		`cau_point_loss_ratio{direction="up",meeting="metrics",point="pub"}`:    func(v float64) bool { return v < 0.01 },
		"go_goroutines": func(v float64) bool { return v > 0 },
	} {
		v, ok := got[series]
		if !ok {
			t.Errorf("no series %s in:\n%s", series, body)
			continue
		}
		if !want(v) {
			t.Errorf("%s = %v", series, v)
		}
	}
	if !strings.Contains(body, "# TYPE cau_forwarded_packets_total counter") {
		t.Error("cau_forwarded_packets_total is not typed as a counter")
	}
	t.Logf("sample:\n%s", grepLines(body, "cau_point_"))
	if before["cau_forwarded_packets_total"] >= got["cau_forwarded_packets_total"] {
		t.Error("the forwarded counter did not grow with media")
	}
}

func grepLines(body, prefix string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
