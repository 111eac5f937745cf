package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSmoke runs the two meeting scenarios briefly against an in-process
// server and checks that media flowed on every expected track with little
// loss. The province scenario goes through the REST setup (roster import,
// meeting, credentials, joins) and floor control (grant, grid page).
// Figures come from the benchmark script, not from here.
func TestSmoke(t *testing.T) {
	for _, scenario := range []string{"all-see-all", "province"} {
		t.Run(scenario, func(t *testing.T) {
			cfg, err := parseFlags([]string{"--in-process", "--scenario", scenario, "--points", "10",
				"--duration", "10s", "--ramp", "2s"}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			cfg.progress = io.Discard
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			s, err := run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d/%d tracks, loss %.3f%% (after NACK %.3f%%), join p95 %.0f ms, %.1f Mbit/s forwarded",
				scenario, s.ReceivingTracks, s.ExpectedTracks, s.LossPct, s.LossAfterNackPct, s.JoinP95MS, s.ForwardedMbps)
			if s.ExpectedTracks == 0 || s.ReceivingTracks != s.ExpectedTracks {
				t.Errorf("media on %d of %d expected tracks", s.ReceivingTracks, s.ExpectedTracks)
			}
			if s.LossAfterNackPct >= 1 {
				t.Errorf("loss after NACK %.3f%%, want under 1%%", s.LossAfterNackPct)
			}
			if s.ForwardedPackets == 0 {
				t.Error("the server forwarded nothing")
			}
			if len(s.JoinErrors) > 0 {
				t.Errorf("join errors: %v", s.JoinErrors)
			}
			if scenario != "province" {
				if s.Meeting != nil {
					t.Errorf("%s ran as a registered meeting: %+v", scenario, s.Meeting)
				}
				return
			}
			m := s.Meeting
			if m == nil {
				t.Fatal("no meeting section in the summary")
			}
			t.Logf("meeting %s: %d invited, setup %.2f s, grant at %.1f s, grid %d sites (%d at low), grant to high p50 %.0f ms (n=%d)",
				m.ID, m.Invited, m.SetupS, m.GrantS, m.GridSites, m.GridLow, m.GrantToHighP50MS, m.GrantToHighN)
			if m.Invited != s.Points || s.Points != 10 {
				t.Errorf("meeting invites %d points, the run has %d (want 10)", m.Invited, s.Points)
			}
			if m.GrantS <= 0 {
				t.Error("the chair never granted the floor")
			}
			if m.GridSites != s.Points-1 {
				t.Errorf("the chair's grid page shows %d sites, want %d", m.GridSites, s.Points-1)
			}
			// Every site sees the chair and the floor (video and audio); the
			// chair sees the floor and its grid, hears only the floor.
			if want := (s.Points-2)*4 + 2 + (s.Points - 1) + 1; s.ExpectedTracks != want {
				t.Errorf("%d expected tracks, want %d", s.ExpectedTracks, want)
			}
		})
	}
}

func TestSecretsAreRedacted(t *testing.T) {
	got := redactArgs([]string{"--url", "http://x", "--admin-password", "hunter22", "--token-secret=abc", "--points", "5",
		"-metrics-token", "m", "--metrics-token=n"})
	if want := "--url http://x --admin-password *** --token-secret=*** --points 5 -metrics-token *** --metrics-token=***"; got != want {
		t.Errorf("redacted %q, want %q", got, want)
	}
}

func TestFlagsAreChecked(t *testing.T) {
	for _, args := range [][]string{
		{"--scenario", "party"},
		{"--codec", "av1"},
		{"--scenario", "all-see-all", "--points", "13"},
		{"--points", "0"},
		{"--impair-fraction", "2"},
		{"--url", "http://127.0.0.1:1", "--scenario", "province", "--admin-password", ""},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestScenarioPlans(t *testing.T) {
	pts, file, err := roster("", 215)
	if err != nil {
		t.Fatal(err)
	}
	if file != nil || pts[0].level != "province" || pts[0].parent != "" || pts[214].level != "district" || pts[214].parent != pts[0].id {
		t.Errorf("invented roster: %+v ... %+v", pts[0], pts[214])
	}
	p := province(pts)
	chair, floor, other := p.bots[0], p.bots[1], p.bots[100]
	if p.chair != "bp000" || p.floor != "bp001" || chair.id != p.chair || floor.id != p.floor {
		t.Errorf("province chair %s, floor %s; want bp000, bp001 first", p.chair, p.floor)
	}
	// The chair's grid comes from grid_page at run time.
	if len(chair.videoFrom) != 1 || len(floor.videoFrom) != 1 || len(other.videoFrom) != 2 {
		t.Errorf("province video: chair %d, floor %d, others %d; want 1, 1, 2",
			len(chair.videoFrom), len(floor.videoFrom), len(other.videoFrom))
	}
	if len(other.audioFrom) != 2 || len(chair.audioFrom) != 1 || len(chair.want)+len(other.want) != 0 {
		t.Errorf("province audio: others hear %d, chair %d; want 2 and 1; qualities asked: %v %v",
			len(other.audioFrom), len(chair.audioFrom), chair.want, other.want)
	}
	// A roster's chair is its main province point; the floor follows it.
	path := filepath.Join(t.TempDir(), "roster.csv")
	csv := "id,name,level,parent\ntw,TW,central,\nls,Tỉnh,province,tw\nls-2,Tỉnh ủy,province,ls\nhuyen,Huyện,district,ls\n"
	if err := os.WriteFile(path, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	pts, file, err = roster(path, 5)
	if err != nil || len(pts) != 5 || string(file) != csv || pts[4].level != "" {
		t.Fatalf("roster file: %v, %+v", err, pts)
	}
	if p := province(pts); p.chair != "ls" || p.floor != "ls-2" || p.bots[2].id != "tw" {
		t.Errorf("roster province: chair %s, floor %s, third %s; want ls, ls-2, tw", p.chair, p.floor, p.bots[2].id)
	}
	s := speaker(5, 100)
	sub := s.bots[5]
	if sub.publish || len(sub.videoFrom) != 5 || len(sub.audioFrom) != 3 {
		t.Errorf("speaker subscriber: publish %v, %d videos, %d audios; want false, 5, 3", sub.publish, len(sub.videoFrom), len(sub.audioFrom))
	}
	highs := 0
	for _, q := range sub.want {
		if q == "high" {
			highs++
		}
	}
	if highs != 1 {
		t.Errorf("speaker subscriber asks high of %d publishers, want 1", highs)
	}
}

// TestMeetingSetup runs the province scenario's REST setup alone (no media)
// against an in-process server: the meeting must invite exactly the run's
// points, whether the roster is invented, larger than the run (excludes) or
// smaller (invented extras), and every device must get its token quickly.
func TestMeetingSetup(t *testing.T) {
	langson := "../../registry/testdata/bridgepoints-langson.csv"
	cases := []struct {
		name   string
		roster string
		points int
		chair  string
	}{
		{"invented", "", 30, "bp000"},
		{"roster-subset", langson, 10, "ls-ubnd"},
		{"roster-plus-one", langson, 215, "ls-ubnd"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.roster != "" {
				if _, err := os.Stat(tc.roster); err != nil {
					t.Fatal("the roster copy in registry/testdata:", err)
				}
			}
			args := []string{"--in-process", "--scenario", "province", "--points", fmt.Sprint(tc.points)}
			if tc.roster != "" {
				args = append(args, "--roster", tc.roster)
			}
			cfg, err := parseFlags(args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			cfg.progress = io.Discard
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			l := &load{cfg: cfg, byID: map[string]*bot{}}
			stop, err := l.server(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			pts, file, err := roster(cfg.rosterPath, cfg.points)
			if err != nil {
				t.Fatal(err)
			}
			p := province(pts)
			if p.chair != tc.chair {
				t.Errorf("chair %s, want %s", p.chair, tc.chair)
			}
			ms, err := l.setupMeeting(ctx, pts, file, p)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d points: meeting %s set up in %.2f s", len(pts), ms.id, ms.took.Seconds())
			if ms.invited != tc.points || len(ms.tokens) != tc.points {
				t.Errorf("%d invited, %d tokens; want %d", ms.invited, len(ms.tokens), tc.points)
			}
		})
	}
}
