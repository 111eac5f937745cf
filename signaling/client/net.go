package client

import (
	"net"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
)

// socketBuffer is asked of the kernel for every client socket (it caps the
// request at net.core.rmem_max and wmem_max). A busy process running many
// clients, like the load generator, would otherwise drop keyframe bursts
// before reading them.
const socketBuffer = 4 << 20

// bigBufferNet is the standard network with large socket buffers.
type bigBufferNet struct{ *stdnet.Net }

func newBigBufferNet() (transport.Net, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return bigBufferNet{n}, nil
}

// ListenUDP implements transport.Net.
func (n bigBufferNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	if u, ok := c.(*net.UDPConn); ok {
		_ = u.SetReadBuffer(socketBuffer)
		_ = u.SetWriteBuffer(socketBuffer)
	}
	return c, nil
}
