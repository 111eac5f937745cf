package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/cau-bridge/cau/internal/app"
	"github.com/cau-bridge/cau/internal/netem"
	"github.com/cau-bridge/cau/sfu"
	"github.com/cau-bridge/cau/signaling"
)

// load is one run: the server it drives, the bots and what they measured.
type load struct {
	cfg       config
	tokens    *signaling.Tokens
	httpURL   string
	wsURL     string
	serverPID int
	media     *media

	bots        []*bot
	byID        map[string]*bot
	publishedAt sync.Map // bot id -> time.Time
	e2e         samples

	// The province scenario's meeting and floor control.
	chair, floor string // peer ids; "" in development rooms
	meeting      *meetingSetup
	floorMu      sync.Mutex
	grantAt      time.Time // when the chair granted the floor
	gridAskedAt  time.Time // when the chair asked for its grid page
	floorErr     string
	begin        time.Time
}

func (l *load) bot(id string) *bot { return l.byID[id] }

// run starts or reaches the server, runs the scenario and summarises.
func run(ctx context.Context, cfg config) (*Summary, error) {
	l := &load{cfg: cfg, byID: map[string]*bot{}}
	stopServer, err := l.server(ctx)
	if err != nil {
		return nil, err
	}
	defer stopServer()
	if l.media, err = loadMedia(cfg.codec); err != nil {
		return nil, err
	}
	var p plan
	switch cfg.scenario {
	case "speaker":
		p = speaker(cfg.publishers, cfg.subscribers)
		if cfg.ramp == 10*time.Second { // the default: LiveKit's 10 joins per second
			cfg.ramp = time.Duration(len(p.bots)) * time.Second / 10
		}
	default:
		pts, file, err := roster(cfg.rosterPath, cfg.points)
		if err != nil {
			return nil, err
		}
		if cfg.scenario == "province" {
			p = province(pts)
			l.chair, l.floor = p.chair, p.floor
			fmt.Fprintf(cfg.progress, "setting up the meeting through the REST API (%d points)... ", len(pts))
			if l.meeting, err = l.setupMeeting(ctx, pts, file, p); err != nil {
				return nil, fmt.Errorf("meeting setup: %w", err)
			}
			fmt.Fprintf(cfg.progress, "meeting %s, %d invited, %.1f s\n", l.meeting.id, l.meeting.invited, l.meeting.took.Seconds())
		} else {
			p = allSeeAll(pts)
		}
	}
	l.cfg.ramp = cfg.ramp
	for _, bp := range p.bots {
		b := newBot(l, bp)
		if l.meeting != nil {
			b.token = l.meeting.tokens[bp.id]
		}
		l.bots = append(l.bots, b)
		l.byID[bp.id] = b
	}
	return l.drive(ctx)
}

// server returns a function that stops what it started.
func (l *load) server(ctx context.Context) (func(), error) {
	cfg := l.cfg
	if cfg.url != "" {
		secret := []byte(cfg.tokenSecret)
		if len(secret) == 0 && cfg.scenario != "province" { // province signs in through the REST API
			var err error
			if secret, err = app.LoadOrCreateSecret(cfg.dataDir); err != nil {
				return nil, err
			}
		}
		return func() {}, l.useServer(cfg.url, secret, cfg.serverPID)
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	secret := hex.EncodeToString(raw)
	// The started server's first IT admin gets a password only we know.
	_, _ = rand.Read(raw[:16])
	l.cfg.adminUser, l.cfg.adminPassword = "admin", hex.EncodeToString(raw[:16])
	if cfg.inProcess {
		dir, err := os.MkdirTemp("", "cau-load-")
		if err != nil {
			return nil, err
		}
		a, err := startServer(dir, secret, l.cfg.adminPassword, cfg.codec, cfg.pprofAddr, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			return nil, err
		}
		stop := func() {
			c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = a.Shutdown(c)
			_ = os.RemoveAll(dir)
		}
		return stop, l.useServer(a.URL(), []byte(secret), os.Getpid())
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "serve", "--codec", cfg.codec, "--pprof", cfg.pprofAddr)
	cmd.Env = append(os.Environ(), secretEnv+"="+secret, adminEnv+"="+l.cfg.adminPassword)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	stop := func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
		}
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		return nil, fmt.Errorf("server did not start: %w", err)
	}
	return stop, l.useServer(strings.TrimSpace(line), []byte(secret), cmd.Process.Pid)
}

func (l *load) useServer(url string, secret []byte, pid int) error {
	if len(secret) > 0 {
		tokens, err := signaling.NewTokens(secret)
		if err != nil {
			return err
		}
		l.tokens = tokens
	}
	l.httpURL, l.serverPID = strings.TrimSuffix(url, "/"), pid
	l.wsURL = "ws" + strings.TrimPrefix(l.httpURL, "http") + "/ws"
	res, err := http.Get(l.httpURL + "/healthz")
	if err != nil {
		return fmt.Errorf("server at %s: %w", url, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("server at %s is not ready: %s", url, res.Status)
	}
	return nil
}

func (l *load) serverTotals() sfu.Totals {
	var t sfu.Totals
	req, err := http.NewRequest(http.MethodGet, l.httpURL+"/debug/stats", nil)
	if err != nil {
		return t
	}
	if l.cfg.metricsToken != "" {
		req.Header.Set("Authorization", "Bearer "+l.cfg.metricsToken)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return t
	}
	defer res.Body.Close()
	_ = json.NewDecoder(res.Body).Decode(&t)
	return t
}

// drive joins the bots over the ramp, lets them run, and measures.
func (l *load) drive(ctx context.Context) (*Summary, error) {
	cfg := l.cfg
	begin := time.Now()
	l.begin = begin
	srvCPU0, _ := procCPU(l.serverPID)
	selfCPU0, _ := procCPU(os.Getpid())
	tot0 := l.serverTotals()

	end := begin.Add(cfg.ramp + cfg.duration)
	runCtx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	var impaired int
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var joinErrs []string
	step := time.Duration(0)
	if len(l.bots) > 1 {
		step = cfg.ramp / time.Duration(len(l.bots))
	}
	every := 0
	if cfg.impairFraction > 0 {
		every = int(1 / cfg.impairFraction)
	}
	go l.progress(runCtx, begin)
	if l.chair != "" {
		go l.floorControl(runCtx)
	}
	for i, b := range l.bots {
		var th *netem.Throttle
		if every > 0 && i%every == every-1 && i > 1 { // never the chair or the floor
			th = netem.NewThrottle()
			th.SetLoss(cfg.impairLossPct / 100)
			th.SetDelay(cfg.impairDelay)
			th.SetRate(cfg.impairRate)
			impaired++
		}
		wg.Add(1)
		go func(b *bot) {
			defer wg.Done()
			if err := b.run(runCtx, th); err != nil {
				b.failed.Store(true)
				errMu.Lock()
				joinErrs = append(joinErrs, err.Error())
				errMu.Unlock()
			}
		}(b)
		select {
		case <-time.After(step):
		case <-runCtx.Done():
		}
	}
	<-runCtx.Done()
	wall := time.Since(begin)
	srvCPU1, _ := procCPU(l.serverPID)
	selfCPU1, _ := procCPU(os.Getpid())
	rss, _ := procPeakRSS(l.serverPID)
	tot1 := l.serverTotals()
	time.Sleep(500 * time.Millisecond) // let in-flight packets land
	s := l.summarise(wall, srvCPU1-srvCPU0, selfCPU1-selfCPU0, rss, tot0, tot1)
	s.ImpairedPoints = impaired
	s.JoinErrors = joinErrs
	if l.floorErr != "" {
		s.JoinErrors = append(s.JoinErrors, l.floorErr)
	}
	for _, b := range l.bots {
		b.close()
	}
	wg.Wait()
	return s, nil
}

func (l *load) progress(ctx context.Context, begin time.Time) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last, _ := procCPU(l.serverPID)
	lastAt := time.Now()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(l.cfg.progress)
			return
		case now := <-t.C:
			joined, expected, receiving := 0, 0, 0
			for _, b := range l.bots {
				if b.joined.Load() {
					joined++
					e, r := b.receiving()
					expected += e
					receiving += r
				}
			}
			cpu, _ := procCPU(l.serverPID)
			pct := (cpu - last) / now.Sub(lastAt).Seconds() * 100
			last, lastAt = cpu, now
			fmt.Fprintf(l.cfg.progress, "\r%5.0fs  joined %d/%d  tracks %d/%d  server cpu %5.1f%%   ",
				now.Sub(begin).Seconds(), joined, len(l.bots), receiving, expected, pct)
		}
	}
}

// receiving counts a joined bot's expected tracks and those with media.
func (b *bot) receiving() (expected, receiving int) {
	for _, kind := range []string{"video", "audio"} {
		for _, pub := range b.expected(kind) {
			if other := b.load.bot(pub); other == nil || !other.joined.Load() {
				continue
			}
			expected++
			if st := b.track(pub, kind); st != nil {
				st.mu.Lock()
				ok := !st.firstAt.IsZero()
				st.mu.Unlock()
				if ok {
					receiving++
				}
			}
		}
	}
	return expected, receiving
}

// Summary is cau-load's JSON output.
type Summary struct {
	Scenario    string  `json:"scenario"`
	Codec       string  `json:"codec"`
	Points      int     `json:"points"`
	Publishers  int     `json:"publishers,omitempty"`
	Subscribers int     `json:"subscribers,omitempty"`
	DurationS   float64 `json:"duration_s"`
	RampS       float64 `json:"ramp_s"`
	GoVersion   string  `json:"go_version"`
	CPUs        int     `json:"cpus"`
	Flags       string  `json:"flags"`

	ExpectedTracks  int      `json:"expected_tracks"`
	ReceivingTracks int      `json:"receiving_tracks"`
	ImpairedPoints  int      `json:"impaired_points"`
	JoinErrors      []string `json:"join_errors,omitempty"`

	LossPct          float64 `json:"loss_pct"`
	LossAfterNackPct float64 `json:"loss_after_nack_pct"`
	VideoLossPct     float64 `json:"video_loss_after_nack_pct"`
	AudioLossPct     float64 `json:"audio_loss_after_nack_pct"`
	JoinP50MS        float64 `json:"join_p50_ms"`
	JoinP95MS        float64 `json:"join_p95_ms"`
	JoinMaxMS        float64 `json:"join_max_ms"`
	JitterP95MS      float64 `json:"jitter_p95_ms"`
	ForwardP50MS     float64 `json:"forward_p50_ms"`
	ForwardP99MS     float64 `json:"forward_p99_ms"`
	E2EP50MS         float64 `json:"e2e_p50_ms"`
	E2EP95MS         float64 `json:"e2e_p95_ms"`
	ReceivedMbps     float64 `json:"received_mbps"`

	ServerCPUPct           float64 `json:"server_cpu_pct"`         // of one core
	ServerCPUMachinePct    float64 `json:"server_cpu_machine_pct"` // of all cores
	ServerRSSMB            float64 `json:"server_rss_mb"`
	ForwardedPackets       uint64  `json:"forwarded_packets"`
	ServerWriteErrors      uint64  `json:"server_write_errors"`
	ServerIngressGaps      uint64  `json:"server_ingress_gaps"`
	ServerIngressLate      uint64  `json:"server_ingress_late"`
	ForwardedMbps          float64 `json:"forwarded_mbps"`
	ServerCPUUsPerPacket   float64 `json:"server_cpu_us_per_packet"`
	ServerCPUPctPer100Mbps float64 `json:"server_cpu_pct_per_100mbps"`
	ServerCPUPerKpps       float64 `json:"server_cpu_pct_per_1000_pps"`
	GeneratorCPUPct        float64 `json:"generator_cpu_pct"`
	ServerMeasured         bool    `json:"server_measured"` // false when the server shares the generator's process or its PID is unknown

	Meeting *MeetingSummary `json:"meeting,omitempty"` // province: the registered meeting and its floor
}

// MeetingSummary describes the province scenario's registered meeting.
type MeetingSummary struct {
	ID        string  `json:"id"`
	Invited   int     `json:"invited"`    // points the meeting's scope invites (= points)
	SetupS    float64 `json:"setup_s"`    // REST setup wall time: roster import, meeting, every device's sign-in and join
	Chair     string  `json:"chair"`      // the chair point, on air throughout
	Floor     string  `json:"floor"`      // the site the chair gave the floor to
	GrantS    float64 `json:"grant_s"`    // when the chair granted the floor, seconds into the run (0: never)
	GridSites int     `json:"grid_sites"` // sites on the chair's grid page (25 at most)
	GridLow   int     `json:"grid_low"`   // of those, sites whose last keyframe at the chair was the low layer (VP8 only)
	// From the grant to the first keyframe of the floor site's high layer
	// at each receiver (VP8 only; receivers counted in grant_to_high_n).
	GrantToHighN     int     `json:"grant_to_high_n"`
	GrantToHighP50MS float64 `json:"grant_to_high_p50_ms"`
	GrantToHighP95MS float64 `json:"grant_to_high_p95_ms"`
}

func (l *load) summarise(wall time.Duration, srvCPU, selfCPU, rss float64, t0, t1 sfu.Totals) *Summary {
	cfg := l.cfg
	s := &Summary{
		Scenario: cfg.scenario, Codec: cfg.codec, Points: len(l.bots),
		DurationS: wall.Seconds(), RampS: cfg.ramp.Seconds(), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
		Flags: redactArgs(os.Args[1:]),
	}
	if cfg.scenario == "speaker" {
		s.Publishers, s.Subscribers = cfg.publishers, cfg.subscribers
	}
	var joins, jitters []float64
	var expPkts, gotPkts, late, bytes int
	var kindExp, kindGot [2]int
	for _, b := range l.bots {
		if !b.joined.Load() {
			continue
		}
		for _, kind := range []string{"video", "audio"} {
			for _, pub := range b.expected(kind) {
				other := l.bot(pub)
				if other == nil || !other.joined.Load() {
					continue
				}
				s.ExpectedTracks++
				st := b.track(pub, kind)
				var first time.Time
				if st != nil {
					st.mu.Lock()
					first = st.firstAt
					st.mu.Unlock()
				}
				if first.IsZero() {
					if os.Getenv("CAU_LOAD_DEBUG") != "" {
						fmt.Fprintf(os.Stderr, "silent track %s <- %s/%s (subscribed %v)\n", b.plan.id, pub, kind, st != nil)
					}
					continue
				}
				s.ReceivingTracks++
				joins = append(joins, float64(first.Sub(l.availableAt(b, pub)))/float64(time.Millisecond))
				e, r, lt := st.counts()
				if os.Getenv("CAU_LOAD_DEBUG") != "" && e > 0 && e-r > e/100 {
					fmt.Fprintf(os.Stderr, "lossy track %s <- %s/%s: expected %d got %d late %d\n", b.plan.id, pub, kind, e, r, lt)
				}
				k := 0
				if kind == "audio" {
					k = 1
				}
				kindExp[k] += e
				kindGot[k] += r
				expPkts += e
				gotPkts += r
				late += lt
				st.mu.Lock()
				bytes += st.bytes
				st.mu.Unlock()
				jitters = append(jitters, st.jitterMS())
			}
		}
	}
	if expPkts > 0 {
		s.LossAfterNackPct = 100 * float64(expPkts-gotPkts) / float64(expPkts)
		s.LossPct = 100 * float64(expPkts-gotPkts+late) / float64(expPkts)
	}
	if kindExp[0] > 0 {
		s.VideoLossPct = 100 * float64(kindExp[0]-kindGot[0]) / float64(kindExp[0])
	}
	if kindExp[1] > 0 {
		s.AudioLossPct = 100 * float64(kindExp[1]-kindGot[1]) / float64(kindExp[1])
	}
	s.JoinP50MS, s.JoinP95MS, s.JoinMaxMS = percentile(joins, 50), percentile(joins, 95), percentile(joins, 100)
	s.JitterP95MS = percentile(jitters, 95)
	s.E2EP50MS, s.E2EP95MS = l.e2e.percentile(50), l.e2e.percentile(95)
	s.ReceivedMbps = float64(bytes) * 8 / wall.Seconds() / 1e6
	s.ForwardP50MS, s.ForwardP99MS = t1.ForwardP50MS, t1.ForwardP99MS
	s.ForwardedPackets = t1.ForwardedPackets - t0.ForwardedPackets
	s.ServerWriteErrors = t1.WriteErrors - t0.WriteErrors
	s.ServerIngressGaps = t1.IngressGaps - t0.IngressGaps
	s.ServerIngressLate = t1.IngressLate - t0.IngressLate
	s.ForwardedMbps = float64(t1.ForwardedBytes-t0.ForwardedBytes) * 8 / wall.Seconds() / 1e6
	s.ServerMeasured = l.serverPID > 0 && l.serverPID != os.Getpid()
	if l.serverPID > 0 {
		s.ServerCPUPct = srvCPU / wall.Seconds() * 100
		s.ServerCPUMachinePct = s.ServerCPUPct / float64(runtime.NumCPU())
		s.ServerRSSMB = rss
		if s.ForwardedPackets > 0 {
			s.ServerCPUUsPerPacket = srvCPU * 1e6 / float64(s.ForwardedPackets)
			pps := float64(s.ForwardedPackets) / wall.Seconds()
			s.ServerCPUPerKpps = s.ServerCPUPct / (pps / 1000)
		}
		if s.ForwardedMbps > 0 {
			s.ServerCPUPctPer100Mbps = s.ServerCPUPct / (s.ForwardedMbps / 100)
		}
	}
	s.Meeting = l.meetingSummary()
	s.GeneratorCPUPct = selfCPU / wall.Seconds() * 100
	if !s.ServerMeasured && l.serverPID == os.Getpid() {
		s.GeneratorCPUPct -= s.ServerCPUPct // both are this process: report the total once
		s.ServerCPUPct, s.ServerCPUMachinePct = selfCPU/wall.Seconds()*100, selfCPU/wall.Seconds()*100/float64(runtime.NumCPU())
	}
	return s
}

// breaches reports a threshold the run missed, or "".
func (s *Summary) breaches(cfg config) string {
	if cfg.maxLoss >= 0 && s.LossAfterNackPct > cfg.maxLoss {
		return fmt.Sprintf("loss after NACK %.3f%% exceeds --max-loss %.3f%%", s.LossAfterNackPct, cfg.maxLoss)
	}
	if cfg.maxJoinP95 > 0 && s.JoinP95MS > float64(cfg.maxJoinP95.Milliseconds()) {
		return fmt.Sprintf("p95 join %.0f ms exceeds --max-join-p95 %v", s.JoinP95MS, cfg.maxJoinP95)
	}
	return ""
}
