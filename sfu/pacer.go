package sfu

import (
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// passPacer hands packets straight on, like pion's NoOpPacer, with two
// differences that matter here: the lookup takes no lock (pion's holds one
// across the write), and a packet whose SSRC has no stream of its own (an
// RTX retransmission) goes through any stream's writer, since all of them
// end in the connection's one SRTP session, which encrypts by the packet's
// own SSRC. Pion's pacer refuses RTX packets with "unknown ssrc".
type passPacer struct {
	mu      sync.Mutex
	writers atomic.Pointer[map[uint32]interceptor.RTPWriter]
	any     atomic.Pointer[interceptor.RTPWriter]
}

func newPassPacer() *passPacer {
	p := &passPacer{}
	empty := map[uint32]interceptor.RTPWriter{}
	p.writers.Store(&empty)
	return p
}

// AddStream implements gcc.Pacer.
func (p *passPacer) AddStream(ssrc uint32, w interceptor.RTPWriter) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.writers.Load()
	next := make(map[uint32]interceptor.RTPWriter, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[ssrc] = w
	p.writers.Store(&next)
	p.any.Store(&w)
}

// remove forgets a stream that no longer sends (pion's pacer interface has
// no removal, so the subscriber calls this when it unsubscribes a track).
func (p *passPacer) remove(ssrc uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.writers.Load()
	if _, ok := old[ssrc]; !ok {
		return
	}
	next := make(map[uint32]interceptor.RTPWriter, len(old))
	for k, v := range old {
		if k != ssrc {
			next[k] = v
		}
	}
	p.writers.Store(&next)
	for _, w := range next { // RTX goes through a live stream's writer
		p.any.Store(&w)
		return
	}
	p.any.Store(nil)
}

// Write implements interceptor.RTPWriter.
func (p *passPacer) Write(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
	if w, ok := (*p.writers.Load())[h.SSRC]; ok {
		return w.Write(h, payload, a)
	}
	if w := p.any.Load(); w != nil {
		return (*w).Write(h, payload, a)
	}
	return 0, ErrClosed
}

// SetTargetBitrate implements gcc.Pacer: packets are not delayed.
func (p *passPacer) SetTargetBitrate(int) {}

// Close implements gcc.Pacer.
func (p *passPacer) Close() error { return nil }
