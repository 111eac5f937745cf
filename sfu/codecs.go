package sfu

import (
	"fmt"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Payload types follow Chromium's numbering so SDP diffs stay readable.
const (
	ptOpus = 111
	ptVP8  = 96
	ptH264 = 102
)

// audioLevelURI is the RFC 6464 header extension that carries speech level.
const audioLevelURI = sdp.AudioLevelURI

func videoFeedback() []webrtc.RTCPFeedback {
	return []webrtc.RTCPFeedback{
		{Type: "goog-remb"}, {Type: "transport-cc"}, {Type: "ccm", Parameter: "fir"},
		{Type: "nack"}, {Type: "nack", Parameter: "pli"},
	}
}

// registerCodecs offers Opus and exactly one video codec, so every
// participant of a meeting sends and receives the same video format.
func registerCodecs(me *webrtc.MediaEngine, videoMime string) error {
	opus := webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine:  "minptime=10;useinbandfec=1",
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: "transport-cc"}},
		},
		PayloadType: ptOpus,
	}
	if err := me.RegisterCodec(opus, webrtc.RTPCodecTypeAudio); err != nil {
		return fmt.Errorf("register opus: %w", err)
	}
	var video webrtc.RTPCodecParameters
	switch {
	case equalFoldASCII(videoMime, webrtc.MimeTypeVP8):
		video = webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFeedback(),
			},
			PayloadType: ptVP8,
		}
	case equalFoldASCII(videoMime, webrtc.MimeTypeH264):
		video = webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: videoFeedback(),
				SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
			},
			PayloadType: ptH264,
		}
	default:
		return fmt.Errorf("%w: %s", ErrUnknownCodec, videoMime)
	}
	if err := me.RegisterCodec(video, webrtc.RTPCodecTypeVideo); err != nil {
		return fmt.Errorf("register %s: %w", videoMime, err)
	}
	// No RTX: retransmissions answer NACKs on the media SSRC. With RTX
	// negotiated, pion v4.2.20 receivers did not recover lost packets in
	// our tests (TestRoomFanout, throttled links), while plain NACK does.
	// Simulcast needs the MID and RID header extensions.
	if err := webrtc.ConfigureSimulcastExtensionHeaders(me); err != nil {
		return fmt.Errorf("register simulcast extensions: %w", err)
	}
	if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: audioLevelURI},
		webrtc.RTPCodecTypeAudio); err != nil {
		return fmt.Errorf("register audio level extension: %w", err)
	}
	return nil
}

// registerInterceptors installs NACK generator and responder, RTCP sender and
// receiver reports, TWCC feedback for what we receive, and TWCC sequence
// numbers on what we send (so subscribers report their downlink).
func registerInterceptors(me *webrtc.MediaEngine, ir *interceptor.Registry) error {
	// The responder keeps each outgoing stream's last 256 packets: about 2 s
	// of 720p video, bounded memory for 200 subscribers.
	if err := webrtc.ConfigureNackWithOptions(me, ir, nil, nack.ResponderSize(256)); err != nil {
		return fmt.Errorf("configure nack: %w", err)
	}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return fmt.Errorf("configure rtcp reports: %w", err)
	}
	if err := webrtc.ConfigureTWCCSender(me, ir); err != nil {
		return fmt.Errorf("configure twcc feedback: %w", err)
	}
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(me, ir); err != nil {
		return fmt.Errorf("configure twcc sequence numbers: %w", err)
	}
	return nil
}
