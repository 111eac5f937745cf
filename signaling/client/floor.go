package client

import "github.com/cau-bridge/cau/signaling"

// Floor control requests. Each sends one message and returns once it is
// written; the server answers a change with a "floor" event to everyone, a
// refusal with an "error" event (code "forbidden" when the role may not).

// RaiseHand raises (true) or lowers (false) this site's hand.
func (c *Client) RaiseHand(raised bool) error {
	return c.Send(signaling.TypeHand, signaling.HandRaiseData{Raised: &raised})
}

// Grant puts a site on air (chair).
func (c *Client) Grant(peer string) error {
	return c.Send(signaling.TypeFloorGrant, signaling.FloorPeerData{Peer: peer})
}

// Revoke takes a site off air (chair).
func (c *Client) Revoke(peer string) error {
	return c.Send(signaling.TypeFloorRevoke, signaling.FloorPeerData{Peer: peer})
}

// Mute mutes (true) or unmutes (false) a site (chair).
func (c *Client) Mute(peer string, muted bool) error {
	return c.Send(signaling.TypeFloorMute, signaling.FloorMuteData{Peer: peer, Muted: &muted})
}

// OpenMic opens (true) or closes (false) an off-air site's microphone
// (chair).
func (c *Client) OpenMic(peer string, open bool) error {
	return c.Send(signaling.TypeFloorMic, signaling.FloorMicData{Peer: peer, Open: &open})
}

// Spotlight makes a site's video the main one for everyone; "" clears it
// (chair).
func (c *Client) Spotlight(peer string) error {
	return c.Send(signaling.TypeSpotlight, signaling.FloorPeerData{Peer: peer})
}

// ViewGrid asks for one page of the grid of sites at low quality (chair, IT
// staff); the server answers with "grid_page".
func (c *Client) ViewGrid(page, size int) error {
	return c.Send(signaling.TypeGrid, signaling.GridData{Page: page, Size: size})
}

// CloseGrid stops receiving the grid.
func (c *Client) CloseGrid() error {
	return c.Send(signaling.TypeGridClose, struct{}{})
}
