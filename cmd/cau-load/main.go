// Command cau-load drives a Cầu server with synthetic bridge points: pion
// peers that speak the real signaling protocol with real tokens, publish
// looped VP8 (or H.264) simulcast and Opus, and measure what users feel.
// It prints progress on stderr and a JSON summary at the end.
//
//	cau-load --scenario province --points 215 --duration 60s --ramp 20s --json out.json
//
// With no --url it starts a server in a child process on loopback, so the
// server's CPU and memory are measured apart from the generator's.
//
// The province scenario runs as a real meeting: it signs in as the IT admin,
// imports the roster, schedules and opens a meeting inviting every point,
// and each point's device signs in with its credential and joins through
// the REST API; the chair's device then grants the floor and watches a grid
// page, and the server's floor control decides what is forwarded. The
// all-see-all and speaker scenarios mint tokens from the token secret for an
// unregistered development room under the default policy.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		if err := serveChild(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "cau-load serve:", err)
			os.Exit(1)
		}
		return
	}
	code, err := runMain(os.Args[1:], os.Stdout, os.Stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "cau-load:", err)
	}
	os.Exit(code)
}

// config is cau-load's command line.
type config struct {
	url           string
	tokenSecret   string
	adminUser     string
	adminPassword string
	metricsToken  string
	dataDir       string
	serverPID     int
	inProcess     bool
	pprofAddr     string

	scenario    string
	points      int
	publishers  int
	subscribers int
	codec       string
	duration    time.Duration
	ramp        time.Duration
	rosterPath  string
	meeting     string

	impairFraction float64
	impairLossPct  float64
	impairDelay    time.Duration
	impairRate     int

	jsonPath   string
	maxLoss    float64
	maxJoinP95 time.Duration
	progress   io.Writer
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("cau-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.url, "url", "", "server base URL, e.g. http://127.0.0.1:8080 (empty: start one on loopback)")
	fs.StringVar(&c.tokenSecret, "token-secret", "", "the server's token secret (with --url; all-see-all and speaker)")
	fs.StringVar(&c.dataDir, "data-dir", "./cau-data", "the server's data dir, to read its token secret (with --url; all-see-all and speaker)")
	fs.StringVar(&c.adminUser, "admin-user", "admin", "IT admin account that sets the meeting up (with --url; province)")
	fs.StringVar(&c.metricsToken, "metrics-token", os.Getenv("CAU_METRICS_TOKEN"), "the server's --metrics-token, to read /debug/stats of a remote server (with --url)")
	fs.StringVar(&c.adminPassword, "admin-password", os.Getenv(adminEnv), "its password (with --url; province; default $"+adminEnv+")")
	fs.IntVar(&c.serverPID, "server-pid", 0, "PID of the server (with --url), to measure its CPU and memory")
	fs.BoolVar(&c.inProcess, "in-process", false, "run the server inside this process (server CPU is then not separable)")
	fs.StringVar(&c.pprofAddr, "pprof", "", "serve the started server's pprof on this address (e.g. 127.0.0.1:6060)")
	fs.StringVar(&c.scenario, "scenario", "province", "province, all-see-all or speaker")
	fs.IntVar(&c.points, "points", 10, "number of bridge points (province, all-see-all)")
	fs.IntVar(&c.publishers, "publishers", 1, "video publishers (speaker)")
	fs.IntVar(&c.subscribers, "subscribers", 10, "receive-only subscribers (speaker)")
	fs.StringVar(&c.codec, "codec", "vp8", "video codec: vp8 or h264")
	fs.DurationVar(&c.duration, "duration", 60*time.Second, "how long to run once everyone has joined")
	fs.DurationVar(&c.ramp, "ramp", 10*time.Second, "how long joining everyone takes (join storm speed); speaker joins 10 per second")
	fs.StringVar(&c.rosterPath, "roster", "", "CSV of bridge points (id,name,...) to take ids and names from")
	fs.StringVar(&c.meeting, "meeting", "load", "meeting title (province: a registered meeting) or dev-room name")
	fs.Float64Var(&c.impairFraction, "impair-fraction", 0, "fraction of points behind an impaired link (0-1)")
	fs.Float64Var(&c.impairLossPct, "impair-loss", 0, "impaired links: random loss, percent")
	fs.DurationVar(&c.impairDelay, "impair-delay", 0, "impaired links: extra delay")
	fs.IntVar(&c.impairRate, "impair-rate", 0, "impaired links: downlink cap in bit/s (0 none)")
	fs.StringVar(&c.jsonPath, "json", "", "write the JSON summary to this file (always printed on stdout)")
	fs.Float64Var(&c.maxLoss, "max-loss", -1, "exit 1 if loss after NACK exceeds this percent")
	fs.DurationVar(&c.maxJoinP95, "max-join-p95", 0, "exit 1 if the p95 join time exceeds this")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch c.scenario {
	case "province", "all-see-all", "speaker":
	default:
		return c, fmt.Errorf("--scenario %q: use province, all-see-all or speaker", c.scenario)
	}
	if c.codec != "vp8" && c.codec != "h264" {
		return c, fmt.Errorf("--codec %q: use vp8 or h264", c.codec)
	}
	if c.scenario == "all-see-all" && c.points > 12 {
		return c, fmt.Errorf("all-see-all is for small meetings: at most 12 points, not %d", c.points)
	}
	if c.points < 1 || c.publishers < 1 || c.subscribers < 0 || c.duration <= 0 || c.ramp < 0 {
		return c, errors.New("points and publishers must be at least 1, durations positive")
	}
	if c.scenario == "province" && c.url != "" && c.adminPassword == "" {
		return c, errors.New("province with --url sets the meeting up through the REST API: give --admin-password (or $" + adminEnv + ")")
	}
	if c.impairFraction < 0 || c.impairFraction > 1 {
		return c, errors.New("--impair-fraction is between 0 and 1")
	}
	return c, nil
}

// redactArgs hides secrets given on the command line from the summary.
// secretFlag reports whether a flag's value must not be printed.
func secretFlag(name string) bool {
	switch strings.TrimLeft(name, "-") {
	case "admin-password", "token-secret", "metrics-token":
		return true
	}
	return false
}

func redactArgs(args []string) string {
	out := make([]string, len(args))
	hide := false
	for i, a := range args {
		switch {
		case hide:
			out[i], hide = "***", false
		case secretFlag(a):
			out[i], hide = a, true
		case strings.Contains(a, "=") && secretFlag(a[:strings.IndexByte(a, '=')]):
			out[i] = a[:strings.IndexByte(a, '=')+1] + "***"
		default:
			out[i] = a
		}
	}
	return strings.Join(out, " ")
}

func runMain(args []string, stdout, stderr io.Writer) (int, error) {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return 2, err
	}
	cfg.progress = stderr
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	sum, err := run(ctx, cfg)
	if err != nil {
		return 1, err
	}
	out, _ := json.MarshalIndent(sum, "", "  ")
	fmt.Fprintln(stdout, string(out))
	if cfg.jsonPath != "" {
		if err := os.WriteFile(cfg.jsonPath, append(out, '\n'), 0o644); err != nil {
			return 1, err
		}
	}
	if breach := sum.breaches(cfg); breach != "" {
		return 1, errors.New(breach)
	}
	return 0, nil
}
