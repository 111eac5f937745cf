package signaling

import (
	"time"

	"github.com/cau-bridge/cau/registry"
)

// Floor control message types, client to server. Each names one action of
// the role table (registry.Allowed decides who may send it).
const (
	TypeHand        = "hand"         // raise or lower one's own hand
	TypeFloorGrant  = "floor_grant"  // put a site on air
	TypeFloorRevoke = "floor_revoke" // take a site off air
	TypeFloorMute   = "floor_mute"   // mute or unmute a site
	TypeFloorMic    = "floor_mic"    // open or close an off-air site's microphone
	TypeSpotlight   = "spotlight"    // make a site's video the main one
	TypeGrid        = "grid"         // look at a page of the grid of sites
	TypeGridClose   = "grid_close"   // stop looking at the grid
)

// Floor control message types, server to client.
const (
	TypeFloor    = "floor"     // the floor state, after every change
	TypeGridPage = "grid_page" // the sites on a grid viewer's page
)

// Error codes of floor control.
const (
	CodeNoFloor     = "no_floor"     // the meeting has no floor control
	CodeUnknownPeer = "unknown_peer" // the named site is not in the meeting
)

// floorAction is the action a floor message performs, and whether t is a
// floor message at all.
func floorAction(t string) (registry.Action, bool) {
	switch t {
	case TypeHand:
		return registry.ActHandRaise, true
	case TypeFloorGrant, TypeFloorRevoke:
		return registry.ActFloorGrant, true
	case TypeFloorMute, TypeFloorMic:
		return registry.ActFloorMute, true
	case TypeSpotlight:
		return registry.ActSpotlight, true
	case TypeGrid, TypeGridClose:
		return registry.ActGridView, true
	}
	return "", false
}

// HandRaiseData is the body of "hand". Raised is required.
type HandRaiseData struct {
	Raised *bool `json:"raised"`
}

// FloorPeerData is the body of "floor_grant", "floor_revoke" and
// "spotlight": the site (peer id) acted on. For "spotlight", "" clears it.
type FloorPeerData struct {
	Peer string `json:"peer"`
}

// FloorMuteData is the body of "floor_mute". Muted is required.
type FloorMuteData struct {
	Peer  string `json:"peer"`
	Muted *bool  `json:"muted"`
}

// FloorMicData is the body of "floor_mic". Open is required.
type FloorMicData struct {
	Peer string `json:"peer"`
	Open *bool  `json:"open"`
}

// GridData is the body of "grid": which page of the grid the viewer looks
// at, counting from 0, and how many sites a page holds (1-64).
type GridData struct {
	Page int `json:"page"`
	Size int `json:"size"`
}

// HandData is one raised hand in the floor state.
type HandData struct {
	ID    string    `json:"id"`
	Since time.Time `json:"since"`
}

// FloorData is the body of "floor": the whole floor state, sent to everyone
// on every change and to each participant when it joins.
type FloorData struct {
	Chair    string `json:"chair"`      // the chair's site, always on air; "" if none
	MaxOnAir int    `json:"max_on_air"` // sites on air beside the chair's
	// OnAir lists the sites on air: the chair's first, then the others,
	// longest on air first.
	OnAir     []string   `json:"on_air"`
	Spotlight string     `json:"spotlight"` // "" when nobody is spotlighted
	Hands     []HandData `json:"hands"`     // the speaking queue, oldest first
	Muted     []string   `json:"muted"`     // sites whose audio is never forwarded
	OpenMic   []string   `json:"open_mic"`  // off-air sites whose audio is forwarded
}

// GridPageData is the body of "grid_page": the sites on the viewer's page.
type GridPageData struct {
	Page  int      `json:"page"`
	Size  int      `json:"size"`
	Total int      `json:"total"` // sites in the whole grid
	Sites []string `json:"sites"`
}

// isFloorType reports whether t is a floor control message from a client.
func isFloorType(t string) bool {
	_, ok := floorAction(t)
	return ok
}

// refuseUnless refuses an action the session's role may not perform.
func (s *session) refuseUnless(act registry.Action) error {
	if !registry.Allowed(registry.Role(s.claims.Role), act) {
		return errf(CodeForbidden, "role %s may not %s", quote(s.claims.Role), act)
	}
	return nil
}

// mayPublish refuses a publish offer from a role that may not publish.
func (s *session) mayPublish() error { return s.refuseUnless(registry.ActPublish) }

// handleFloor decodes a floor control message, checks the sender's role and
// applies it. A refused message changes nothing.
func (s *session) handleFloor(env Envelope) error {
	var (
		peer     FloorPeerData
		raise    HandRaiseData
		mute     FloorMuteData
		mic      FloorMicData
		grid     GridData
		body     any
		required bool // a field that has no default was present
	)
	switch env.Type {
	case TypeHand:
		body = &raise
	case TypeFloorGrant, TypeFloorRevoke, TypeSpotlight:
		body = &peer
	case TypeFloorMute:
		body = &mute
	case TypeFloorMic:
		body = &mic
	case TypeGrid:
		body = &grid
	case TypeGridClose:
		body = &struct{}{}
	}
	if err := decodeData(env, body); err != nil {
		return err
	}
	switch env.Type {
	case TypeHand:
		required = raise.Raised != nil
	case TypeFloorGrant, TypeFloorRevoke:
		required = peer.Peer != ""
	case TypeFloorMute:
		required = mute.Peer != "" && mute.Muted != nil
	case TypeFloorMic:
		required = mic.Peer != "" && mic.Open != nil
	case TypeGrid:
		required = grid.Page >= 0 && grid.Page <= maxGridPage && grid.Size >= 1 && grid.Size <= maxGridSize
	default:
		required = true
	}
	if !required {
		return errf(CodeBadMessage, "bad %s data: a required field is missing or out of range", quote(env.Type))
	}
	act, _ := floorAction(env.Type)
	if err := s.refuseUnless(act); err != nil {
		return err
	}
	r := s.room
	// needPeer refuses to act on a site that is not in the meeting; it runs
	// under the room's lock.
	needPeer := func(id string) error {
		if r.peers[id] == nil {
			return errf(CodeUnknownPeer, "no participant %s in this meeting", quote(id))
		}
		return nil
	}
	switch env.Type {
	case TypeHand:
		return r.floorDo(false, func(f *floor) (bool, error) {
			if *raise.Raised {
				return f.raise(s.peerID), nil
			}
			return f.lower(s.peerID), nil
		})
	case TypeFloorGrant:
		return r.floorDo(true, func(f *floor) (bool, error) {
			if err := needPeer(peer.Peer); err != nil {
				return false, err
			}
			return f.grant(peer.Peer), nil
		})
	case TypeFloorRevoke:
		return r.floorDo(true, func(f *floor) (bool, error) { return f.revoke(peer.Peer) })
	case TypeFloorMute:
		return r.floorDo(true, func(f *floor) (bool, error) { return f.mute(mute.Peer, *mute.Muted), nil })
	case TypeFloorMic:
		return r.floorDo(true, func(f *floor) (bool, error) {
			if *mic.Open {
				if err := needPeer(mic.Peer); err != nil {
					return false, err
				}
			}
			return f.openMic(mic.Peer, *mic.Open), nil
		})
	case TypeSpotlight:
		return r.floorDo(true, func(f *floor) (bool, error) {
			if peer.Peer != "" {
				if err := needPeer(peer.Peer); err != nil {
					return false, err
				}
			}
			return f.spotlight(peer.Peer), nil
		})
	case TypeGrid:
		return r.gridDo(s.peerID, grid.Page, grid.Size)
	default: // TypeGridClose
		return r.gridDo(s.peerID, 0, 0)
	}
}
