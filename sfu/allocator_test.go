package sfu

import "testing"

// TestPlanHoldsRecentlyLoweredTrack: a track lowered moments ago keeps its
// layer even when the budget would lift it (no flapping), may still go
// down, and is lifted once the hold is over.
func TestPlanHoldsRecentlyLoweredTrack(t *testing.T) {
	layers := [maxLayers]int64{150_000, 500_000, 1_500_000}
	for _, tc := range []struct {
		name   string
		hold   bool
		budget int64
		want   int
	}{
		{"held, budget for high", true, 10_000_000, 1},
		{"held, budget only for low", true, 300_000, 0},
		{"not held, budget for high", false, 10_000_000, 2},
	} {
		d := &downTrack{}
		d.target.Store(1)
		items := []planItem{{d: d, quality: QualityHigh, priority: 10, layers: layers, holdUp: tc.hold}}
		plan(items, tc.budget)
		if items[0].pick != tc.want {
			t.Errorf("%s: picked layer %d, want %d", tc.name, items[0].pick, tc.want)
		}
	}
}
