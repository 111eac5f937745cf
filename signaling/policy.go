package signaling

import "github.com/cau-bridge/cau/sfu"

// TrackInfo names a published track for a Policy.
type TrackInfo struct {
	PeerID  string // publisher
	TrackID string // as subscribers see it: "<peer>:<track>"
	Kind    string // "audio" or "video"
	// Requested is the quality this subscriber asked for (video), and
	// Explicit whether it asked at all (else Requested is high).
	Requested sfu.Quality
	Explicit  bool
}

// RoomView is what a Policy may look at when it decides.
type RoomView struct {
	Peers int
	// Speakers are the recent loudest publishers, loudest first (at most as
	// many as the speaker detector's TopN), kept until others displace them.
	Speakers []string
	// Active is the active speaker, "" when nobody speaks.
	Active string
}

// Choice is a Policy's decision for one subscriber and one track.
type Choice struct {
	Receive bool
	// Quality caps a video track; the subscriber's own request may lower it.
	Quality sfu.Quality
	// Priority orders video when bandwidth is short (higher first); at 0 or
	// above the track keeps at least its lowest layer, below 0 it may be
	// paused.
	Priority int
}

// Policy decides who receives what. The room consults it whenever peers,
// tracks or speakers change, and applies its choices live through the media
// plane. Floor control (who is on air) is a Policy.
type Policy interface {
	Select(v RoomView, subscriber string, t TrackInfo) Choice
}

// DefaultPolicy is the policy of a plain meeting: every video at the quality
// each subscriber asks for, and every publisher's audio. A room of more than
// LargeRoom peers is different: a subscriber receives only the videos it
// asked for (with "quality"), and only the audio of the SpeakerAudio recent
// loudest speakers.
type DefaultPolicy struct {
	LargeRoom    int // default 20
	SpeakerAudio int // default 3
}

// Select implements Policy.
func (p DefaultPolicy) Select(v RoomView, _ string, t TrackInfo) Choice {
	large, n := p.LargeRoom, p.SpeakerAudio
	if large <= 0 {
		large = 20
	}
	if n <= 0 {
		n = 3
	}
	if t.Kind == "video" {
		if v.Peers > large && !t.Explicit {
			return Choice{}
		}
		return Choice{Receive: t.Requested != sfu.QualityOff || v.Peers <= large, Quality: sfu.QualityHigh}
	}
	if v.Peers <= large {
		return Choice{Receive: true}
	}
	for i, id := range v.Speakers {
		if i >= n {
			break
		}
		if id == t.PeerID {
			return Choice{Receive: true}
		}
	}
	return Choice{}
}
