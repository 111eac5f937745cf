package web

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cau-bridge/cau/sfu"
	"github.com/cau-bridge/cau/signaling"
)

// MediaTotals is what the metrics need from the media plane (sfu.SFU).
type MediaTotals interface {
	Totals() sfu.Totals
}

// QualitySource is what the metrics need from signaling (signaling.Server):
// the monitor's latest snapshot, read at scrape time.
type QualitySource interface {
	Counts() (meetings, peers int)
	QualityMeetings() []signaling.MeetingQuality
	AlertCounts() map[string]uint64
}

// MetricsHandler serves Prometheus metrics (text exposition) from a private
// registry: the media plane's totals, every point's live quality, alerts,
// and the Go runtime and process collectors. Nothing is counted on the
// packet path: every value is read when Prometheus scrapes.
func MetricsHandler(media MediaTotals, quality QualitySource) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newCauCollector(media, quality))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// cauCollector turns snapshots into constant metrics at each scrape.
type cauCollector struct {
	media   MediaTotals
	quality QualitySource

	peers, meetings                    *prometheus.Desc
	received, forwarded, fwdBytes      *prometheus.Desc
	writeErrors, ingressLost, nacks    *prometheus.Desc
	rtt, loss, jitter, bitrate, online *prometheus.Desc
	alerts                             *prometheus.Desc
}

func newCauCollector(media MediaTotals, quality QualitySource) *cauCollector {
	point := []string{"meeting", "point"}
	dir := []string{"meeting", "point", "direction"}
	return &cauCollector{
		media: media, quality: quality,
		peers:       prometheus.NewDesc("cau_peers", "Participants (points) connected to meetings in progress.", nil, nil),
		meetings:    prometheus.NewDesc("cau_meetings", "Meetings in progress.", nil, nil),
		received:    prometheus.NewDesc("cau_received_packets_total", "RTP packets received from publishers.", nil, nil),
		forwarded:   prometheus.NewDesc("cau_forwarded_packets_total", "RTP packets forwarded to subscribers.", nil, nil),
		fwdBytes:    prometheus.NewDesc("cau_forwarded_bytes_total", "RTP payload bytes forwarded to subscribers.", nil, nil),
		writeErrors: prometheus.NewDesc("cau_write_errors_total", "Packets a subscriber's writer refused.", nil, nil),
		ingressLost: prometheus.NewDesc("cau_ingress_lost_packets_total",
			"Sequence numbers skipped in what publishers sent (lost before NACK repair).", nil, nil),
		nacks: prometheus.NewDesc("cau_nacks_total",
			"Packets NACKed: direction=down asked by subscribers, direction=up asked of publishers by the server.",
			[]string{"direction"}, nil),
		rtt:     prometheus.NewDesc("cau_point_rtt_seconds", "A point's round-trip time.", point, nil),
		loss:    prometheus.NewDesc("cau_point_loss_ratio", "A point's packet loss over the monitor window, before repair; direction up (it publishes) or down (we forward).", dir, nil),
		jitter:  prometheus.NewDesc("cau_point_jitter_seconds", "A point's worst interarrival jitter.", dir, nil),
		bitrate: prometheus.NewDesc("cau_point_bitrate_bps", "A point's bitrate over the monitor window.", dir, nil),
		online:  prometheus.NewDesc("cau_point_online", "1 while a point is connected, 0 while it is listed offline.", point, nil),
		alerts: prometheus.NewDesc("cau_alerts_total", "Quality alerts raised, by kind (silent, loss, offline).",
			[]string{"kind"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *cauCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.peers, c.meetings, c.received, c.forwarded, c.fwdBytes, c.writeErrors,
		c.ingressLost, c.nacks, c.rtt, c.loss, c.jitter, c.bitrate, c.online, c.alerts} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *cauCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if c.media != nil {
		t := c.media.Totals()
		counter(c.received, t.ReceivedPackets)
		counter(c.forwarded, t.ForwardedPackets)
		counter(c.fwdBytes, t.ForwardedBytes)
		counter(c.writeErrors, t.WriteErrors)
		counter(c.ingressLost, t.IngressGaps)
		counter(c.nacks, t.NACKsReceived, "down")
		counter(c.nacks, t.NACKsSent, "up")
	}
	if c.quality == nil {
		return
	}
	meetings, peers := c.quality.Counts()
	gauge(c.meetings, float64(meetings))
	gauge(c.peers, float64(peers))
	for kind, n := range c.quality.AlertCounts() {
		counter(c.alerts, n, kind)
	}
	for _, m := range c.quality.QualityMeetings() {
		for _, p := range m.Points {
			online := 0.0
			if p.Online {
				online = 1
			}
			gauge(c.online, online, m.Meeting, p.Point)
			if !p.Online {
				continue
			}
			if p.RTTMS != nil {
				gauge(c.rtt, *p.RTTMS/1000, m.Meeting, p.Point)
			}
			for _, l := range []struct {
				dir  string
				link signaling.LinkQuality
			}{{"up", p.Up}, {"down", p.Down}} {
				gauge(c.bitrate, float64(l.link.BitrateBPS), m.Meeting, p.Point, l.dir)
				if l.link.Loss != nil {
					gauge(c.loss, *l.link.Loss, m.Meeting, p.Point, l.dir)
				}
				if l.link.JitterMS != nil {
					gauge(c.jitter, *l.link.JitterMS/1000, m.Meeting, p.Point, l.dir)
				}
			}
		}
	}
}
