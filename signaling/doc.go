// Package signaling owns Cầu's WebSocket protocol: sessions, tokens, and
// the meetings in progress (rooms that peers join and leave). It decides who
// receives which tracks and drives the media plane (package sfu) through the
// small Media interface; it never touches RTP itself.
//
// The protocol is documented message by message in docs/protocol.md.
package signaling
