package signaling_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cau-bridge/cau/internal/testutil"
	"github.com/cau-bridge/cau/signaling"
)

// checkOnce sends "check" and returns the answer.
func checkOnce(t *testing.T, p *testutil.Participant) signaling.CheckResultData {
	t.Helper()
	if err := p.Send(signaling.TypeCheck, struct{}{}); err != nil {
		t.Fatal(err)
	}
	return waitEvent[signaling.CheckResultData](t, p, signaling.TypeCheckResult, nil)
}

func TestPreMeetingCheck(t *testing.T) {
	a := startFloorServer(t, meetingTable{"m-check": {OnAirMax: 1, ChairPoint: "chair"}})
	idle := testutil.JoinAs(t, a, "idle", "m-check", "operator")
	pub := testutil.JoinAs(t, a, "pub", "m-check", "operator")
	pub.Publish(t)

	// A point that sends nothing is not ready, and says why.
	res := checkOnce(t, idle)
	if res.Ready || len(res.Problems) == 0 {
		t.Fatalf("an idle point is ready: %+v", res)
	}
	if c := res.Problems[0].Code; c != "no_sample" && c != "not_publishing" {
		t.Errorf("idle point's problem %q", c)
	}
	// A publishing point on a clean loopback link becomes ready.
	deadline := time.Now().Add(10 * time.Second)
	for {
		res = checkOnce(t, pub)
		if res.Ready {
			break
		}
		if time.Now().After(deadline) {
			b, _ := json.Marshal(res)
			t.Fatalf("a publishing point never became ready: %s", b)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if res.Point == nil || res.Point.Point != "pub" || !res.Point.Publishing || res.Point.Up.BitrateBPS <= 0 {
		t.Errorf("check result's own sample: %+v", res.Point)
	}
}
