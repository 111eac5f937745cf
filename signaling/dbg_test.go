package signaling_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/cau-bridge/cau/internal/testutil"
)

func TestDbgNack(t *testing.T) {
	a := testutil.StartServer(t, nil)
	pub := testutil.Join(t, a, "pub", "cc")
	pub.Publish(t)
	th := testutil.NewThrottle()
	sub := testutil.JoinWith(t, a, "weak", "cc", th.API(t))
	testutil.Eventually(t, 20*time.Second, "video", func() bool {
		r := sub.Track("pub", "video")
		return r != nil && r.Count() > 10
	})
	r := sub.Track("pub", "video")
	au := sub.Track("pub", "audio")
	th.SetLoss(0.05)
	time.Sleep(3 * time.Second)
	th.SetLoss(0)
	time.Sleep(2 * time.Second)
	p, d := th.Stats()
	fmt.Println("video count", r.Count(), "missing", r.Missing(), "audio missing", au.Missing(), "passed", p, "dropped", d)
}
