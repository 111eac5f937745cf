package testutil

import (
	"testing"
	"time"

	"github.com/cau-bridge/cau/internal/netem"
)

// TestThrottleParticipant: a pion participant whose connections all run
// over the throttle's wrapped UDP mux receives a publisher's video.
func TestThrottleParticipant(t *testing.T) {
	a := StartServer(t, nil)
	p := Join(t, a, "pub", "m")
	p.Publish(t)
	th := netem.NewThrottle()
	sub := JoinWith(t, a, "sub", "m", ThrottledAPI(t, th))
	Eventually(t, 15*time.Second, "video through the throttle", func() bool {
		r := sub.Track("pub", "video")
		return r != nil && r.Count() > 30
	})
	if passed, _ := th.Stats(); passed == 0 {
		t.Error("video arrived but nothing passed the throttle: the mux is not wrapped")
	}
}
