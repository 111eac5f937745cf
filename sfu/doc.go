// Package sfu is Cầu's media plane: WebRTC peer connections, publisher tracks,
// and the forwarding of their RTP packets to subscribers.
//
// It owns ICE (one shared UDP port and one shared TCP port), codecs,
// interceptors (NACK, RTCP reports, transport-wide congestion control) and the
// per-packet path. It must not know about meetings, tokens, roles or HTTP:
// the signaling package decides who subscribes to what and drives this
// package through Publisher and Subscriber.
//
// Each participant has up to two peer connections. On the publisher
// connection the client always offers; on the subscriber connection the
// server always offers. With one offerer per connection, offers crossing in
// flight (glare) cannot corrupt a negotiation.
package sfu
