package sfu

import (
	"encoding/binary"
	"sync"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// Retransmission. Each video layer keeps its recent packets once, in a
// packetCache shared by all its subscribers (instead of one copy per
// subscriber); each down track remembers which input packet it sent under
// each of its sequence numbers (sendHistory). A subscriber's NACK is
// answered from these: the packet is rewritten again as it was first sent
// and goes out on the RTX stream where the subscriber negotiated RTX, else
// on the media stream.

// cacheSize is the number of packets kept per video layer and remembered per
// down track: about 2 s of 720p.
const cacheSize = 256

// packetCache holds a layer's recent packets as received, by sequence
// number. Its memory is one slab, taken when the layer first sends, so a
// layer that never flows costs nothing and the packet path never allocates.
type packetCache struct {
	mu    sync.Mutex
	slab  []byte // cacheSize slots of slotSize bytes
	slots [cacheSize]cachedPacket
}

const slotSize = 1500

type cachedPacket struct {
	seq   uint16
	valid bool
	n     int
}

func (c *packetCache) put(seq uint16, raw []byte) {
	if len(raw) > slotSize {
		return
	}
	c.mu.Lock()
	if c.slab == nil {
		c.slab = make([]byte, cacheSize*slotSize)
	}
	i := int(seq % cacheSize)
	c.slots[i] = cachedPacket{seq: seq, valid: true, n: copy(c.slab[i*slotSize:], raw)}
	c.mu.Unlock()
}

// get copies the packet with this sequence number into dst.
func (c *packetCache) get(seq uint16, dst []byte) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := int(seq % cacheSize)
	s := c.slots[i]
	if !s.valid || s.seq != seq {
		return 0, false
	}
	return copy(dst, c.slab[i*slotSize:i*slotSize+s.n]), true
}

// sent is what a down track sent under one of its sequence numbers.
type sent struct {
	valid bool
	layer *layer
	inSeq uint16
	out   rewritten
}

type sendHistory struct {
	slots [cacheSize]sent
	seqs  [cacheSize]uint16
}

func (h *sendHistory) record(outSeq uint16, l *layer, inSeq uint16, out rewritten) {
	i := outSeq % cacheSize
	h.slots[i] = sent{valid: true, layer: l, inSeq: inSeq, out: out}
	h.seqs[i] = outSeq
}

func (h *sendHistory) lookup(outSeq uint16) (sent, bool) {
	i := outSeq % cacheSize
	if !h.slots[i].valid || h.seqs[i] != outSeq {
		return sent{}, false
	}
	return h.slots[i], true
}

// retransmitter is a down track's NACK handler state, owned by its RTCP
// reader goroutine.
type retransmitter struct {
	raw    [1500]byte
	pkt    rtp.Packet
	out    [1500]byte
	rtxSeq uint16
}

// resend answers one NACK.
func (d *downTrack) resend(n *rtcp.TransportLayerNack, r *retransmitter) {
	b := d.binding.Load()
	if b == nil || !b.ready.Load() {
		return
	}
	for _, pair := range n.Nacks {
		pair.Range(func(seq uint16) bool {
			d.resendOne(b, seq, r)
			return true
		})
	}
}

func (d *downTrack) resendOne(b *binding, outSeq uint16, r *retransmitter) {
	d.mu.Lock()
	s, ok := d.history.lookup(outSeq)
	d.mu.Unlock()
	if !ok || s.layer.cache == nil {
		return
	}
	n, ok := s.layer.cache.get(s.inSeq, r.raw[:])
	if !ok || r.pkt.Unmarshal(r.raw[:n]) != nil {
		return
	}
	payload := r.pkt.Payload
	if s.out.patch && d.src.vp8 {
		desc := parseVP8Desc(payload)
		patchVP8(payload, &desc, s.out.pic, s.out.tl0)
	}
	h := r.pkt.Header
	h.Padding, h.Extension, h.Extensions = false, false, nil
	h.Timestamp = s.out.ts
	if b.rtxSSRC != 0 {
		// RFC 4588: the original sequence number leads the payload.
		binary.BigEndian.PutUint16(r.out[:2], outSeq)
		m := copy(r.out[2:], payload)
		h.SSRC, h.PayloadType, h.SequenceNumber = b.rtxSSRC, b.rtxPT, r.rtxSeq
		r.rtxSeq++
		payload = r.out[:m+2]
	} else {
		h.SSRC, h.PayloadType, h.SequenceNumber = b.ssrc, b.pt, outSeq
	}
	if _, err := b.w.WriteRTP(&h, payload); err == nil {
		d.retransmitted.Add(1)
	}
}
