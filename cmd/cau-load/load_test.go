package main

import (
	"context"
	"io"
	"testing"
	"time"
)

// TestSmoke runs the two meeting scenarios briefly against an in-process
// server and checks that media flowed on every expected track with little
// loss. Figures come from the benchmark script, not from here.
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
		})
	}
}

func TestFlagsAreChecked(t *testing.T) {
	for _, args := range [][]string{
		{"--scenario", "party"},
		{"--codec", "av1"},
		{"--scenario", "all-see-all", "--points", "13"},
		{"--points", "0"},
		{"--impair-fraction", "2"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestScenarioPlans(t *testing.T) {
	pts, err := roster("", 215)
	if err != nil {
		t.Fatal(err)
	}
	p := province(pts)
	chair, floor, other := p.bots[0], p.bots[1], p.bots[100]
	if len(chair.videoFrom) != 1+25 || len(floor.videoFrom) != 1 || len(other.videoFrom) != 2 {
		t.Errorf("province video: chair %d, floor %d, others %d; want 26, 1, 2",
			len(chair.videoFrom), len(floor.videoFrom), len(other.videoFrom))
	}
	if len(other.audioFrom) != 2 || len(chair.audioFrom) != 1 {
		t.Errorf("province audio: others hear %d, chair %d; want 2 and 1", len(other.audioFrom), len(chair.audioFrom))
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
