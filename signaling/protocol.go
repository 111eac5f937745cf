package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cau-bridge/cau/sfu"
)

// ProtocolVersion is the value of the "v" field this server speaks.
const ProtocolVersion = 1

// Message types, client to server.
const (
	TypeJoin      = "join"
	TypeOffer     = "offer"
	TypeAnswer    = "answer"
	TypeCandidate = "candidate"
	TypeLeave     = "leave"
	TypePing      = "ping"
	TypeQuality   = "quality"

	// Live quality feed (chair and IT staff dashboards), see quality.go.
	TypeQualitySubscribe   = "quality_subscribe"
	TypeQualityUnsubscribe = "quality_unsubscribe"
)

// Message types, server to client (offer, answer and candidate also flow
// this way).
const (
	TypeJoined     = "joined"
	TypePeerJoined = "peer_joined"
	TypePeerLeft   = "peer_left"
	TypePong       = "pong"
	TypeError      = "error"
	TypeLayers     = "layers"
	TypeSpeaker    = "speaker"

	TypeTrackPublished   = "track_published"
	TypeTrackUnpublished = "track_unpublished"

	TypeQualityReport = "quality_report" // live quality of every point
	TypeAlert         = "alert"          // a point's quality alert raised or cleared
)

// Targets name which of a participant's two peer connections an SDP or
// candidate message is about.
const (
	TargetPub = "pub" // client sends media; the client offers
	TargetSub = "sub" // client receives media; the server offers
)

// Error codes carried in error frames. They are stable: clients switch on
// them.
const (
	CodeBadJSON            = "bad_json"
	CodeBadMessage         = "bad_message"
	CodeUnknownType        = "unknown_type"
	CodeUnsupportedVersion = "unsupported_version"
	CodeUnauthorized       = "unauthorized"
	CodeTokenExpired       = "token_expired"
	CodeNotJoined          = "not_joined"
	CodeAlreadyJoined      = "already_joined"
	CodeBadSDP             = "bad_sdp"
	CodeNoMedia            = "no_media"
	CodeBadCandidate       = "bad_candidate"
	CodeUnknownTrack       = "unknown_track"
	CodeRateLimited        = "rate_limited"
	CodeForbidden          = "forbidden" // the role may not do this
	CodeInternal           = "internal"
)

// Envelope is every frame's outer shape.
type Envelope struct {
	V    int             `json:"v"`
	Type string          `json:"type"`
	ID   string          `json:"id,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
}

// JoinData is the body of "join".
type JoinData struct {
	Token string `json:"token"`
}

// SDPData is the body of "offer" and "answer".
type SDPData struct {
	Target string `json:"target"`
	SDP    string `json:"sdp"`
}

// CandidateData is the body of "candidate".
type CandidateData struct {
	Target    string        `json:"target"`
	Candidate sfu.Candidate `json:"candidate"`
}

// PeerInfo describes a participant to the others.
type PeerInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

// JoinedData is the body of "joined".
type JoinedData struct {
	PeerID      string     `json:"peer_id"`
	Meeting     string     `json:"meeting"`
	Name        string     `json:"name"`
	Role        string     `json:"role"`
	VideoCodec  string     `json:"video_codec"`
	Peers       []PeerInfo `json:"peers"`
	KeepaliveMS int64      `json:"keepalive_ms"`
}

// QualityData is the body of "quality": a subscriber asks for a video
// track at another quality ("high", "medium", "low" or "off").
type QualityData struct {
	Track   string `json:"track"`
	Quality string `json:"quality"`
}

// TrackData is the body of "track_published" and "track_unpublished": a
// track another participant publishes, by the ID subscribers see.
type TrackData struct {
	PeerID string   `json:"peer_id"`
	Track  string   `json:"track"`
	Kind   string   `json:"kind"`
	RIDs   []string `json:"rids,omitempty"`
}

// LayersData is the body of "layers": the server asks a publisher to send
// (true) or pause (false) each simulcast layer of one of its tracks, by RID.
type LayersData struct {
	Track  string          `json:"track"`
	Active map[string]bool `json:"active"`
}

// SpeakerLevel is one loud publisher in a "speaker" event.
type SpeakerLevel struct {
	ID    string `json:"id"`
	Level int    `json:"level"` // smoothed loudness, 0-127 (127 = 0 dBov)
}

// SpeakerData is the body of "speaker".
type SpeakerData struct {
	Active  string         `json:"active"`
	Changed bool           `json:"changed"`
	Levels  []SpeakerLevel `json:"levels"`
}

// PeerLeftData is the body of "peer_left".
type PeerLeftData struct {
	ID string `json:"id"`
}

// ErrorData is the body of "error".
type ErrorData struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Ref     string `json:"ref,omitempty"`
}

// protoError is an error with a stable code for the client.
type protoError struct {
	code string
	msg  string
}

func (e *protoError) Error() string { return e.code + ": " + e.msg }

func errf(code, format string, args ...any) error {
	return &protoError{code: code, msg: fmt.Sprintf(format, args...)}
}

// codeOf maps an error to the code and message sent to the client.
func codeOf(err error) (string, string) {
	var pe *protoError
	switch {
	case errors.As(err, &pe):
		return pe.code, pe.msg
	case errors.Is(err, sfu.ErrNoMedia):
		return CodeNoMedia, "the offer has no audio or video section"
	case errors.Is(err, sfu.ErrBadSDP):
		return CodeBadSDP, err.Error()
	case errors.Is(err, sfu.ErrUnexpectedAnswer):
		return CodeBadMessage, "no offer is waiting for an answer"
	case errors.Is(err, sfu.ErrClosed):
		return CodeBadMessage, "the media connection is closed"
	case errors.Is(err, sfu.ErrTooManyCands):
		return CodeBadCandidate, err.Error()
	}
	return CodeInternal, "internal error"
}

// decodeStrict decodes JSON rejecting unknown fields and trailing data.
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// decodeEnvelope parses and checks a frame's outer shape.
func decodeEnvelope(raw []byte) (Envelope, error) {
	var env Envelope
	if !json.Valid(raw) {
		return env, errf(CodeBadJSON, "the frame is not valid JSON")
	}
	if err := decodeStrict(raw, &env); err != nil {
		return env, errf(CodeBadMessage, "bad frame: %v", err)
	}
	if env.V != ProtocolVersion {
		return env, errf(CodeUnsupportedVersion, "protocol version %d is not supported; use %d", env.V, ProtocolVersion)
	}
	if env.Type == "" {
		return env, errf(CodeBadMessage, "the frame has no type")
	}
	return env, nil
}

// decodeData decodes a message body strictly; an absent body is an empty one.
func decodeData(env Envelope, v any) error {
	raw := []byte(env.Data)
	if len(raw) == 0 {
		raw = []byte("{}")
	}
	if err := decodeStrict(raw, v); err != nil {
		return errf(CodeBadMessage, "bad %q data: %v", env.Type, err)
	}
	return nil
}
