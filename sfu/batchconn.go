package sfu

import (
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// batchConn is the shared ICE UDP socket with batched sends: writers hand
// packets to a queue and one goroutine sends whatever has piled up with a
// single sendmmsg system call, instead of one sendto per packet. Under load
// (hundreds of subscribers) batches grow and the per-packet cost of entering
// the kernel shrinks; when idle, a packet goes out alone at once.
type batchConn struct {
	*net.UDPConn
	writeBatch func([]ipv4.Message, int) (int, error)
	v6         bool
	queue      chan *outPacket
	pool       sync.Pool
	done       chan struct{}
	closeOnce  sync.Once
}

type outPacket struct {
	buf  [1500]byte
	n    int
	addr netip.AddrPort
}

// maxBatch is the most packets one system call sends.
const maxBatch = 64

func newBatchConn(c *net.UDPConn) *batchConn {
	b := &batchConn{UDPConn: c, queue: make(chan *outPacket, 8192), done: make(chan struct{})}
	b.pool.New = func() any { return new(outPacket) }
	if la, ok := c.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() != nil && !la.IP.IsUnspecified() {
		b.writeBatch = ipv4.NewPacketConn(c).WriteBatch
	} else {
		// A dual-stack socket takes IPv4 destinations in their IPv6-mapped
		// form.
		b.v6 = true
		b.writeBatch = ipv6.NewPacketConn(c).WriteBatch
	}
	go b.flush()
	return b
}

// ReadFromAddrPort implements ice.AddrPortReaderWriter.
func (b *batchConn) ReadFromAddrPort(p []byte) (int, netip.AddrPort, error) {
	return b.UDPConn.ReadFromUDPAddrPort(p)
}

// WriteToAddrPort implements ice.AddrPortReaderWriter: it queues a copy.
func (b *batchConn) WriteToAddrPort(p []byte, addr netip.AddrPort) (int, error) {
	if len(p) > 1500 {
		return b.UDPConn.WriteToUDPAddrPort(p, addr)
	}
	o := b.pool.Get().(*outPacket)
	o.n = copy(o.buf[:], p)
	o.addr = addr
	select {
	case b.queue <- o:
		return len(p), nil
	case <-b.done:
		b.pool.Put(o)
		return 0, net.ErrClosed
	}
}

// WriteTo implements net.PacketConn.
func (b *batchConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return b.UDPConn.WriteTo(p, addr)
	}
	return b.WriteToAddrPort(p, ua.AddrPort())
}

// Close stops the sender and closes the socket.
func (b *batchConn) Close() error {
	b.closeOnce.Do(func() { close(b.done) })
	return b.UDPConn.Close()
}

func (b *batchConn) flush() {
	var batch [maxBatch]*outPacket
	msgs := make([]ipv4.Message, maxBatch)
	addrs := make([]net.UDPAddr, maxBatch)
	for i := range msgs {
		msgs[i].Buffers = make([][]byte, 1)
		addrs[i].IP = make(net.IP, 0, 16)
	}
	for {
		var first *outPacket
		select {
		case first = <-b.queue:
		case <-b.done:
			return
		}
		batch[0] = first
		n := 1
	fill:
		for n < maxBatch {
			select {
			case o := <-b.queue:
				batch[n] = o
				n++
			default:
				break fill
			}
		}
		for i := 0; i < n; i++ {
			o := batch[i]
			ip := o.addr.Addr()
			if !b.v6 && !ip.Unmap().Is4() {
				ip = netip.IPv4Unspecified() // cannot happen on an IPv4 socket's ICE pairs; never panic
			}
			if b.v6 {
				a16 := ip.As16()
				addrs[i].IP = append(addrs[i].IP[:0], a16[:]...)
			} else {
				a4 := ip.Unmap().As4()
				addrs[i].IP = append(addrs[i].IP[:0], a4[:]...)
			}
			addrs[i].Port = int(o.addr.Port())
			msgs[i].Buffers[0] = o.buf[:o.n]
			msgs[i].Addr = &addrs[i]
		}
		for sent := 0; sent < n; {
			k, err := b.writeBatch(msgs[sent:n], 0)
			if err != nil || k <= 0 {
				break // a send error loses the batch, as a failed sendto loses a packet
			}
			sent += k
		}
		for i := 0; i < n; i++ {
			b.pool.Put(batch[i])
			batch[i] = nil
		}
	}
}
