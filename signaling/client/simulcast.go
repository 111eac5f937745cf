package client

import (
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// simulcastLayer wraps one encoding of a simulcast track so its packets
// carry the MID and RID header extensions: pion does not add them, and the
// server needs them to tell layers apart, since simulcast SSRCs are not
// declared in the SDP.
type simulcastLayer struct {
	*webrtc.TrackLocalStaticSample
	mid func() string
}

// Bind implements webrtc.TrackLocal.
func (l *simulcastLayer) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	return l.TrackLocalStaticSample.Bind(&ridContext{TrackLocalContext: ctx, layer: l})
}

type ridContext struct {
	webrtc.TrackLocalContext
	layer *simulcastLayer
}

func (c *ridContext) WriteStream() webrtc.TrackLocalWriter {
	w := &ridWriter{TrackLocalWriter: c.TrackLocalContext.WriteStream(), layer: c.layer}
	for _, e := range c.HeaderExtensions() {
		switch e.URI {
		case sdp.SDESMidURI:
			w.midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			w.ridID = uint8(e.ID)
		}
	}
	return w
}

type ridWriter struct {
	webrtc.TrackLocalWriter
	layer        *simulcastLayer
	midID, ridID uint8
}

func (w *ridWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if w.midID != 0 {
		_ = h.SetExtension(w.midID, []byte(w.layer.mid()))
	}
	if w.ridID != 0 {
		_ = h.SetExtension(w.ridID, []byte(w.layer.RID()))
	}
	return w.TrackLocalWriter.WriteRTP(h, payload)
}
