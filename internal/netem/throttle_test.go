package netem

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// throttlePair is a sender and a throttled receiver on loopback.
func throttlePair(t *testing.T, th *Throttle) (send *net.UDPConn, recv net.PacketConn) {
	t.Helper()
	rc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	// A big kernel buffer so that any loss measured is the throttle's.
	_ = rc.SetReadBuffer(4 << 20)
	recv = th.PacketConn(rc)
	t.Cleanup(func() { _ = recv.Close() })
	send, err = net.DialUDP("udp4", nil, rc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = send.Close() })
	return send, recv
}

// throttleRun sends count 1200-byte packets paced at bitsPerSecond and
// collects what the throttled side receives until it has been quiet for
// 300 ms (longer than the default queue), so every packet has either
// arrived or been dropped when it returns.
func throttleRun(t *testing.T, send *net.UDPConn, recv net.PacketConn, bitsPerSecond, count int) (packets int, bps float64) {
	t.Helper()
	const size = 1200
	type result struct {
		packets, bytes int
		first, last    time.Time
	}
	done := make(chan result)
	go func() {
		var r result
		buf := make([]byte, 2048)
		for {
			_ = recv.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			n, _, err := recv.ReadFrom(buf)
			if err != nil {
				done <- r
				return
			}
			now := time.Now()
			if r.packets == 0 {
				r.first = now
			}
			r.packets++
			r.bytes += n
			r.last = now
		}
	}()
	payload := make([]byte, size)
	interval := time.Duration(float64(time.Second) * size * 8 / float64(bitsPerSecond))
	start := time.Now()
	for i := range count {
		// Pace against the start time, not the previous send, so
		// sleep overshoot does not lower the offered rate.
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		if _, err := send.Write(payload); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	r := <-done
	if r.packets > 1 {
		// Over the arrivals' own span: the queue still drains after the
		// sender stops, and that tail is part of what the link carried.
		// The first packet's bytes came before the span began.
		bps = float64(r.bytes-size) * 8 / r.last.Sub(r.first).Seconds()
	}
	return r.packets, bps
}

// TestThrottleRateAndLoss: offered 2 Mbit/s, an 800 kbit/s throttle
// delivers about 800 kbit/s and drops the excess; unlimited passes all;
// 50% loss drops about half.
func TestThrottleRateAndLoss(t *testing.T) {
	th := NewThrottle()
	send, recv := throttlePair(t, th)

	const offered, capped = 2_000_000, 800_000
	const count = offered / (1200 * 8) // one second's worth
	th.SetRate(capped)
	got, bps := throttleRun(t, send, recv, offered, count)
	passed, dropped := th.Stats()
	t.Logf("capped: received %d of %d at %.0f bit/s; stats passed %d dropped %d", got, count, bps, passed, dropped)
	if bps < capped*0.75 || bps > capped*1.25 {
		t.Errorf("throughput %.0f bit/s, want %d ±25%%", bps, capped)
	}
	if dropped == 0 {
		t.Errorf("nothing dropped at %d bit/s offered over a %d bit/s cap", offered, capped)
	}
	if passed != uint64(got) || passed+dropped != count {
		t.Errorf("stats passed %d dropped %d, want %d passed and %d in all", passed, dropped, got, count)
	}

	th.SetRate(0)
	p0, d0 := th.Stats()
	got, _ = throttleRun(t, send, recv, offered, count)
	p1, d1 := th.Stats()
	if got != count || p1-p0 != count || d1 != d0 {
		t.Errorf("unlimited: received %d of %d, stats passed %d dropped %d", got, count, p1-p0, d1-d0)
	}

	th.SetLoss(0.5)
	got, _ = throttleRun(t, send, recv, offered, count)
	p2, d2 := th.Stats()
	lost := float64(d2-d1) / count
	t.Logf("50%% loss: received %d of %d, dropped %.0f%%", got, count, lost*100)
	if lost < 0.3 || lost > 0.7 {
		t.Errorf("dropped %.0f%% at SetLoss(0.5), want 30-70%%", lost*100)
	}
	if p2-p1 != uint64(got) {
		t.Errorf("stats passed %d, received %d", p2-p1, got)
	}
}

// TestThrottleDelay: a fixed delay holds every packet at least that long.
func TestThrottleDelay(t *testing.T) {
	th := NewThrottle()
	th.SetDelay(80 * time.Millisecond)
	send, recv := throttlePair(t, th)
	start := time.Now()
	if _, err := send.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	_ = recv.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 64)
	n, _, err := recv.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Errorf("packet arrived after %v, want at least 80ms", d)
	}
}

// TestThrottleDeadlineAndClose: pion's UDP mux stops its reader with read
// deadlines and Close, so both must unblock ReadFrom.
func TestThrottleDeadlineAndClose(t *testing.T) {
	th := NewThrottle()
	_, recv := throttlePair(t, th)
	buf := make([]byte, 64)

	_ = recv.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, _, err := recv.ReadFrom(buf); !os.IsTimeout(err) {
		t.Errorf("read past deadline: %v, want a timeout", err)
	}

	// A deadline set while a read is blocked applies to that read.
	_ = recv.SetReadDeadline(time.Time{})
	errs := make(chan error, 1)
	go func() { _, _, err := recv.ReadFrom(buf); errs <- err }()
	time.Sleep(50 * time.Millisecond)
	_ = recv.SetReadDeadline(time.Now())
	select {
	case err := <-errs:
		if !os.IsTimeout(err) {
			t.Errorf("read after deadline moved: %v, want a timeout", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("moving the deadline did not unblock ReadFrom")
	}

	_ = recv.SetReadDeadline(time.Time{})
	go func() { _, _, err := recv.ReadFrom(buf); errs <- err }()
	time.Sleep(50 * time.Millisecond)
	if err := recv.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	select {
	case err := <-errs:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("read after close: %v, want net.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not unblock ReadFrom")
	}
}
