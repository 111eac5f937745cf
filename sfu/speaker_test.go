package sfu

import (
	"context"
	"math"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock is a manually advanced clock for SpeakerConfig.Now.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

// speakerRig drives a detector deterministically: every step feeds each
// meter, advances the clock by one interval and ticks.
type speakerRig struct {
	t      *testing.T
	clock  *fakeClock
	d      *SpeakerDetector
	meters map[string]*LevelMeter
	step   time.Duration
}

func newSpeakerRig(t *testing.T, cfg SpeakerConfig, ids ...string) *speakerRig {
	t.Helper()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	cfg.Now = clock.Now
	r := &speakerRig{t: t, clock: clock, d: NewSpeakerDetector(cfg), meters: map[string]*LevelMeter{}, step: 100 * time.Millisecond}
	if cfg.Interval > 0 {
		r.step = cfg.Interval
	}
	for _, id := range ids {
		m := &LevelMeter{}
		r.meters[id] = m
		r.d.Add(id, m)
	}
	return r
}

// tick sends five packets (one 20 ms Opus frame each per 100 ms) at the
// given RFC 6464 level for each listed source; unlisted sources send
// nothing.
func (r *speakerRig) tick(levels map[string]uint8) SpeakerEvent {
	for id, level := range levels {
		m, ok := r.meters[id]
		if !ok {
			r.t.Fatalf("no meter for source %q", id)
		}
		for range 5 {
			m.Observe(level, true)
		}
	}
	r.clock.t = r.clock.t.Add(r.step)
	return r.d.Tick()
}

// RFC 6464 levels (dBov below full scale) used by the tests.
const (
	lvlShout   uint8 = 5   // loudness 122
	lvlSpeech  uint8 = 30  // loudness 97
	lvlQuiet   uint8 = 60  // loudness 67
	lvlNoise   uint8 = 110 // loudness 17: below the default threshold
	lvlSilence uint8 = 127 // loudness 0
)

func TestSpeakerDetectorScenarios(t *testing.T) {
	type phase struct {
		ticks  int
		levels map[string]uint8
		want   string // Active after the phase's last tick
	}
	tests := []struct {
		name    string
		cfg     SpeakerConfig
		phases  []phase
		changes int // Changed events over the whole scenario
	}{
		{
			name: "loudest becomes active exactly after HoldTime",
			cfg:  SpeakerConfig{Smoothing: 1},
			phases: []phase{
				// Loudest from tick 1; 500 ms later is tick 6.
				{ticks: 5, levels: map[string]uint8{"a": lvlSpeech, "b": lvlQuiet}, want: ""},
				{ticks: 1, levels: map[string]uint8{"a": lvlSpeech, "b": lvlQuiet}, want: "a"},
			},
			changes: 1,
		},
		{
			name: "loudest becomes active with default smoothing",
			phases: []phase{
				{ticks: 20, levels: map[string]uint8{"a": lvlQuiet, "b": lvlSpeech, "c": lvlNoise}, want: "b"},
			},
			changes: 1,
		},
		{
			name: "a 200 ms burst does not switch",
			phases: []phase{
				{ticks: 20, levels: map[string]uint8{"a": lvlSpeech, "b": lvlNoise}, want: "a"},
				{ticks: 2, levels: map[string]uint8{"a": lvlSpeech, "b": lvlShout}, want: "a"},
				{ticks: 20, levels: map[string]uint8{"a": lvlSpeech, "b": lvlNoise}, want: "a"},
			},
			changes: 1,
		},
		{
			name: "a 200 ms burst does not switch even unsmoothed",
			cfg:  SpeakerConfig{Smoothing: 1},
			phases: []phase{
				{ticks: 10, levels: map[string]uint8{"a": lvlQuiet, "b": lvlNoise}, want: "a"},
				{ticks: 2, levels: map[string]uint8{"a": lvlQuiet, "b": lvlShout}, want: "a"},
				{ticks: 10, levels: map[string]uint8{"a": lvlQuiet, "b": lvlNoise}, want: "a"},
			},
			changes: 1,
		},
		{
			name: "a challenger just short of HoldTime does not switch",
			cfg:  SpeakerConfig{Smoothing: 1},
			phases: []phase{
				{ticks: 10, levels: map[string]uint8{"a": lvlQuiet, "b": lvlNoise}, want: "a"},
				// Loudest for ticks 1-5: only 400 ms since the first.
				{ticks: 5, levels: map[string]uint8{"a": lvlQuiet, "b": lvlSpeech}, want: "a"},
				{ticks: 10, levels: map[string]uint8{"a": lvlQuiet, "b": lvlNoise}, want: "a"},
			},
			changes: 1,
		},
		{
			name: "a sustained louder source switches",
			phases: []phase{
				{ticks: 20, levels: map[string]uint8{"a": lvlQuiet, "b": lvlNoise}, want: "a"},
				{ticks: 20, levels: map[string]uint8{"a": lvlQuiet, "b": lvlShout}, want: "b"},
			},
			changes: 2,
		},
		{
			name: "silent speaker hands over to the one still speaking",
			phases: []phase{
				{ticks: 20, levels: map[string]uint8{"a": lvlSpeech, "b": lvlQuiet}, want: "a"},
				{ticks: 20, levels: map[string]uint8{"a": lvlSilence, "b": lvlQuiet}, want: "b"},
			},
			changes: 2,
		},
		{
			name: "silence packets clear the floor",
			phases: []phase{
				{ticks: 20, levels: map[string]uint8{"a": lvlSpeech}, want: "a"},
				{ticks: 20, levels: map[string]uint8{"a": lvlSilence}, want: ""},
			},
			changes: 2,
		},
		{
			name: "no packets (DTX) clear the floor",
			phases: []phase{
				{ticks: 20, levels: map[string]uint8{"a": lvlSpeech}, want: "a"},
				{ticks: 20, levels: map[string]uint8{}, want: ""},
			},
			changes: 2,
		},
		{
			name: "a short pause keeps the floor",
			phases: []phase{
				{ticks: 20, levels: map[string]uint8{"a": lvlSpeech, "b": lvlNoise}, want: "a"},
				{ticks: 3, levels: map[string]uint8{"b": lvlNoise}, want: "a"},
				{ticks: 20, levels: map[string]uint8{"a": lvlSpeech, "b": lvlNoise}, want: "a"},
			},
			changes: 1,
		},
		{
			name: "background noise never takes the floor",
			phases: []phase{
				{ticks: 50, levels: map[string]uint8{"a": lvlNoise, "b": lvlSilence}, want: ""},
			},
			changes: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newSpeakerRig(t, tt.cfg, "a", "b", "c")
			changes := 0
			prev := ""
			for i, p := range tt.phases {
				var ev SpeakerEvent
				for range p.ticks {
					ev = r.tick(p.levels)
					if ev.Changed != (ev.Active != prev) {
						t.Fatalf("phase %d: Changed=%v but Active went %q -> %q", i, ev.Changed, prev, ev.Active)
					}
					if ev.Changed {
						changes++
					}
					prev = ev.Active
				}
				if ev.Active != p.want {
					t.Fatalf("phase %d: Active = %q, want %q (levels %v)", i, ev.Active, p.want, ev.Levels)
				}
				if got := r.d.Active(); got != p.want {
					t.Fatalf("phase %d: Active() = %q, want %q", i, got, p.want)
				}
			}
			if changes != tt.changes {
				t.Fatalf("%d change events, want %d", changes, tt.changes)
			}
		})
	}
}

func TestSpeakerLevels(t *testing.T) {
	r := newSpeakerRig(t, SpeakerConfig{Smoothing: 1, TopN: 3}, "a", "b", "c", "d", "e", "f")
	ev := r.tick(map[string]uint8{
		"a": 40, "b": 20, "c": lvlNoise, "d": 50, "e": 10, // f sends nothing
	})
	want := []SourceLevel{{"e", 117}, {"b", 107}, {"a", 87}}
	if !slices.Equal(ev.Levels, want) {
		t.Fatalf("Levels = %v, want %v", ev.Levels, want)
	}

	// Fewer than TopN above the threshold: only those, still loudest first.
	ev = r.tick(map[string]uint8{"a": 40, "c": lvlNoise, "d": 50, "f": lvlSilence})
	want = []SourceLevel{{"a", 87}, {"d", 77}}
	if !slices.Equal(ev.Levels, want) {
		t.Fatalf("Levels = %v, want %v", ev.Levels, want)
	}

	ev = r.tick(map[string]uint8{"c": lvlNoise, "f": lvlSilence})
	if len(ev.Levels) != 0 {
		t.Fatalf("Levels = %v, want none when everyone is silent", ev.Levels)
	}
}

func TestSpeakerLevelsSmoothed(t *testing.T) {
	r := newSpeakerRig(t, SpeakerConfig{Threshold: 1}, "a")
	ev := r.tick(map[string]uint8{"a": lvlSpeech}) // 0 + 0.3*(97-0)
	if len(ev.Levels) != 1 || math.Abs(ev.Levels[0].Loudness-29.1) > 1e-9 {
		t.Fatalf("Levels = %v, want a at 29.1", ev.Levels)
	}
	ev = r.tick(nil) // no packets: decays as if silent, 29.1*0.7
	if len(ev.Levels) != 1 || math.Abs(ev.Levels[0].Loudness-20.37) > 1e-9 {
		t.Fatalf("Levels = %v, want a at 20.37", ev.Levels)
	}
}

func TestSpeakerRemove(t *testing.T) {
	t.Run("active speaker hands over after HoldTime", func(t *testing.T) {
		r := newSpeakerRig(t, SpeakerConfig{Smoothing: 1}, "a", "b")
		both := map[string]uint8{"a": lvlSpeech, "b": lvlQuiet}
		for range 10 {
			r.tick(both)
		}
		if got := r.d.Active(); got != "a" {
			t.Fatalf("Active() = %q, want a", got)
		}
		r.d.Remove("a")
		if got := r.d.Active(); got != "" {
			t.Fatalf("Active() after Remove = %q, want \"\"", got)
		}
		onlyB := map[string]uint8{"b": lvlQuiet}
		ev := r.tick(onlyB)
		if !ev.Changed || ev.Active != "" {
			t.Fatalf("first event after Remove = %+v, want Changed to \"\"", ev)
		}
		for range 4 {
			if ev = r.tick(onlyB); ev.Active != "" || ev.Changed {
				t.Fatalf("b took the floor before HoldTime: %+v", ev)
			}
		}
		if ev = r.tick(onlyB); !ev.Changed || ev.Active != "b" {
			t.Fatalf("event after HoldTime = %+v, want Changed to b", ev)
		}
	})
	t.Run("active speaker alone clears the floor", func(t *testing.T) {
		r := newSpeakerRig(t, SpeakerConfig{}, "a")
		for range 20 {
			r.tick(map[string]uint8{"a": lvlSpeech})
		}
		r.d.Remove("a")
		for range 20 {
			if ev := r.tick(nil); ev.Active != "" || len(ev.Levels) != 0 {
				t.Fatalf("event after Remove = %+v, want nobody", ev)
			}
		}
	})
	t.Run("challenger removed mid-challenge", func(t *testing.T) {
		r := newSpeakerRig(t, SpeakerConfig{Smoothing: 1}, "a", "b")
		for range 10 {
			r.tick(map[string]uint8{"a": lvlQuiet})
		}
		for range 4 {
			r.tick(map[string]uint8{"a": lvlQuiet, "b": lvlShout})
		}
		r.d.Remove("b")
		r.d.Remove("nobody") // unknown: no effect
		for range 10 {
			if ev := r.tick(map[string]uint8{"a": lvlQuiet}); ev.Active != "a" || ev.Changed {
				t.Fatalf("event = %+v, want a to keep the floor", ev)
			}
		}
		// Re-added, b starts a new challenge from scratch.
		m := &LevelMeter{}
		r.meters["b"] = m
		r.d.Add("b", m)
		for range 5 {
			r.tick(map[string]uint8{"a": lvlQuiet, "b": lvlShout})
		}
		if got := r.d.Active(); got != "a" {
			t.Fatalf("Active() = %q, want a before b's HoldTime", got)
		}
		r.tick(map[string]uint8{"a": lvlQuiet, "b": lvlShout})
		if got := r.d.Active(); got != "b" {
			t.Fatalf("Active() = %q, want b after its HoldTime", got)
		}
	})
}

func TestSpeakerAddReplacesMeter(t *testing.T) {
	r := newSpeakerRig(t, SpeakerConfig{Smoothing: 1}, "a")
	old := r.meters["a"]
	m := &LevelMeter{}
	m.Observe(lvlShout, true) // gathered before Add: discarded
	r.d.Add("a", m)
	r.meters["a"] = m
	old.Observe(lvlShout, true) // the replaced meter is no longer read
	ev := r.tick(nil)
	if len(ev.Levels) != 0 {
		t.Fatalf("Levels = %v, want none", ev.Levels)
	}
	ev = r.tick(map[string]uint8{"a": lvlSpeech})
	if want := []SourceLevel{{"a", 97}}; !slices.Equal(ev.Levels, want) {
		t.Fatalf("Levels = %v, want %v", ev.Levels, want)
	}
}

func TestLevelMeterTake(t *testing.T) {
	var m LevelMeter
	if sum, n := m.take(); sum != 0 || n != 0 {
		t.Fatalf("empty meter took %d/%d", sum, n)
	}
	m.Observe(0, true)       // loudness 127
	m.Observe(127, false)    // loudness 0
	m.Observe(0x80|30, true) // high bit ignored: loudness 97
	if sum, n := m.take(); sum != 224 || n != 3 {
		t.Fatalf("take = %d/%d, want 224/3", sum, n)
	}
	if sum, n := m.take(); sum != 0 || n != 0 {
		t.Fatalf("take did not reset: %d/%d", sum, n)
	}
}

func TestLevelMeterObserveDoesNotAllocate(t *testing.T) {
	var m LevelMeter
	allocs := testing.AllocsPerRun(1000, func() { m.Observe(lvlSpeech, true) })
	if allocs != 0 {
		t.Fatalf("Observe allocates %v times per call", allocs)
	}
}

func TestSpeakerConcurrentUse(t *testing.T) {
	d := NewSpeakerDetector(SpeakerConfig{})
	meters := []*LevelMeter{{}, {}, {}}
	ids := []string{"a", "b", "c"}
	for i, id := range ids {
		d.Add(id, meters[i])
	}
	var wg sync.WaitGroup
	for i := range meters {
		wg.Go(func() { // each meter's single reader goroutine
			for j := range 2000 {
				meters[i].Observe(uint8(j%128), j%2 == 0)
			}
		})
	}
	wg.Go(func() {
		for range 200 {
			d.Remove("c")
			d.Add("c", meters[2])
			_ = d.Active()
		}
	})
	for range 200 {
		d.Tick()
	}
	wg.Wait()
}

func TestSpeakerSameSources(t *testing.T) {
	tests := []struct {
		name string
		a, b []SourceLevel
		want bool
	}{
		{"both empty", nil, []SourceLevel{}, true},
		{"loudness ignored", []SourceLevel{{"a", 90}, {"b", 50}}, []SourceLevel{{"a", 80}, {"b", 60}}, true},
		{"order differs", []SourceLevel{{"a", 90}, {"b", 50}}, []SourceLevel{{"b", 90}, {"a", 50}}, false},
		{"membership differs", []SourceLevel{{"a", 90}}, []SourceLevel{{"a", 90}, {"b", 50}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sameSources(tt.a, tt.b); got != tt.want {
				t.Fatalf("sameSources = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSpeakerRunEmitsChange(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	d := NewSpeakerDetector(SpeakerConfig{Interval: 5 * time.Millisecond, HoldTime: 10 * time.Millisecond, Smoothing: 1})
	m := &LevelMeter{}
	d.Add("a", m)

	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { // the track's reader goroutine: one packet a millisecond
		tk := time.NewTicker(time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				m.Observe(lvlSpeech, true)
			}
		}
	})
	events := make(chan SpeakerEvent, 16)
	wg.Go(func() {
		d.Run(ctx, func(ev SpeakerEvent) {
			select {
			case events <- ev:
			case <-ctx.Done():
			}
		})
	})

	var prev []SourceLevel
	first := true
	for {
		select {
		case <-ctx.Done():
			t.Fatal("no change event within 2 s")
		case ev := <-events:
			if !ev.Changed && !first && sameSources(ev.Levels, prev) {
				t.Fatalf("Run emitted an unchanged event: %+v", ev)
			}
			first, prev = false, ev.Levels
			if ev.Changed && ev.Active == "a" {
				return
			}
		}
	}
}
