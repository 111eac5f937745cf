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
func registerCodecs(me *webrtc.MediaEngine, videoMime string, subscriber bool) error {
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
	// Subscribers may negotiate RTX: the SFU answers their NACKs itself
	// (retransmit.go) on the RTX stream. Publishers are not offered RTX:
	// their retransmissions come on the media stream, which pion's receive
	// path recovers reliably.
	if subscriber {
		rtx := webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: fmt.Sprintf("apt=%d", video.PayloadType),
			},
			PayloadType: video.PayloadType + 1,
		}
		if err := me.RegisterCodec(rtx, webrtc.RTPCodecTypeVideo); err != nil {
			return fmt.Errorf("register rtx: %w", err)
		}
	}
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

// registerInterceptors installs RTCP sender and receiver reports, TWCC
// feedback for what we receive, TWCC sequence numbers on what we send (so
// subscribers report their downlink), and on publisher connections a NACK
// generator. Subscribers' NACKs are answered by the SFU itself from one
// cache per track (retransmit.go), not by pion's responder, which would copy
// every packet once per subscriber.
func registerInterceptors(me *webrtc.MediaEngine, ir *interceptor.Registry, subscriber bool) error {
	if !subscriber {
		gen, err := nack.NewGeneratorInterceptor()
		if err != nil {
			return fmt.Errorf("configure nack: %w", err)
		}
		ir.Add(gen)
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
