package sfu

// isVP8Keyframe reports whether an RTP payload starts a VP8 keyframe
// (RFC 7741): the payload descriptor marks the start of partition 0 and the
// first byte of the VP8 frame header has its inverse key frame flag clear.
func isVP8Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	b0 := p[0]
	if b0&0x10 == 0 || b0&0x07 != 0 { // S bit, PID == 0
		return false
	}
	i := 1
	if b0&0x80 != 0 { // X: extension byte follows
		if len(p) < 2 {
			return false
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I: picture ID
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K: TID/KEYIDX byte
			i++
		}
	}
	if len(p) <= i {
		return false
	}
	return p[i]&0x01 == 0
}

// isH264Keyframe reports whether an RTP payload (RFC 6184) carries an IDR
// slice or a sequence parameter set, which starts a decodable picture.
func isH264Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	switch nal := p[0] & 0x1f; nal {
	case 5, 7:
		return true
	case 24: // STAP-A: 16-bit sizes then NAL units
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			i += 2
			if i >= len(p) {
				return false
			}
			if t := p[i] & 0x1f; t == 5 || t == 7 {
				return true
			}
			i += size
		}
	case 28: // FU-A: start bit and original type
		if len(p) < 2 {
			return false
		}
		return p[1]&0x80 != 0 && (p[1]&0x1f == 5 || p[1]&0x1f == 7)
	}
	return false
}

// IsKeyframe reports whether an RTP payload of the given codec MIME type
// starts a keyframe. Clients use it to measure time to first picture.
func IsKeyframe(mime string, payload []byte) bool {
	switch {
	case equalFoldASCII(mime, "video/VP8"):
		return isVP8Keyframe(payload)
	case equalFoldASCII(mime, "video/H264"):
		return isH264Keyframe(payload)
	}
	return false
}

// VP8KeyframeSize returns the picture size a VP8 keyframe's first RTP
// payload declares (RFC 6386 section 9.1). Clients use it to tell which
// simulcast layer they receive.
func VP8KeyframeSize(p []byte) (width, height int, ok bool) {
	if !isVP8Keyframe(p) {
		return 0, 0, false
	}
	d := parseVP8Desc(p)
	i := 1
	switch {
	case d.tl0Off > 0:
		i = d.tl0Off + 1
	case d.picOff > 0 && d.pic15:
		i = d.picOff + 2
	case d.picOff > 0:
		i = d.picOff + 1
	case p[0]&0x80 != 0:
		i = 2
	}
	if p[0]&0x80 != 0 && p[1]&0x30 != 0 {
		i++ // TID/KEYIDX byte
	}
	f := p[i:]
	if len(f) < 10 || f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a {
		return 0, 0, false
	}
	return int(f[6]) | int(f[7]&0x3f)<<8, int(f[8]) | int(f[9]&0x3f)<<8, true
}

// VP8PictureID returns the picture ID of a VP8 RTP payload, if it has one.
func VP8PictureID(p []byte) (uint16, bool) {
	d := parseVP8Desc(p)
	return d.picID, d.present && d.picOff > 0
}
