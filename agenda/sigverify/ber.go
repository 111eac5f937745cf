package sigverify

import (
	"errors"
)

// maxBERDepth bounds the nesting berToDER follows.
const maxBERDepth = 64

var errBER = errors.New("invalid BER")

// berToDER re-encodes the first BER element of b with definite, minimal
// lengths, joining constructed OCTET STRINGs, which is what DER needs for
// the shapes signing tools emit (NSS, used by poppler and Firefox, writes
// CMS with indefinite lengths). It returns the DER and the bytes left over.
func berToDER(b []byte) (der, rest []byte, err error) {
	return berElement(b, 0)
}

func berElement(b []byte, depth int) (out, rest []byte, err error) {
	if depth > maxBERDepth {
		return nil, nil, errBER
	}
	if len(b) < 2 {
		return nil, nil, errBER
	}
	hdrEnd := 1
	tag := b[0]
	if tag&0x1f == 0x1f { // high tag number form
		for {
			if hdrEnd >= len(b) || hdrEnd > 5 {
				return nil, nil, errBER
			}
			hdrEnd++
			if b[hdrEnd-1]&0x80 == 0 {
				break
			}
		}
	}
	identifier := b[:hdrEnd]
	constructed := tag&0x20 != 0
	if hdrEnd >= len(b) {
		return nil, nil, errBER
	}
	l := b[hdrEnd]
	pos := hdrEnd + 1
	var body []byte
	switch {
	case l == 0x80: // indefinite
		if !constructed {
			return nil, nil, errBER
		}
		rest = b[pos:]
		for {
			if len(rest) >= 2 && rest[0] == 0 && rest[1] == 0 {
				rest = rest[2:]
				break
			}
			var child []byte
			child, rest, err = berElement(rest, depth+1)
			if err != nil {
				return nil, nil, err
			}
			body = append(body, child...)
		}
		return encodeTLV(identifier, body, tag), rest, nil
	case l&0x80 != 0:
		n := int(l & 0x7f)
		if n > 4 || pos+n > len(b) {
			return nil, nil, errBER
		}
		length := 0
		for _, c := range b[pos : pos+n] {
			length = length<<8 | int(c)
		}
		pos += n
		if length < 0 || length > len(b)-pos {
			return nil, nil, errBER
		}
		body, rest = b[pos:pos+length], b[pos+length:]
	default:
		if int(l) > len(b)-pos {
			return nil, nil, errBER
		}
		body, rest = b[pos:pos+int(l)], b[pos+int(l):]
	}
	if !constructed {
		return encodeTLV(identifier, body, tag), rest, nil
	}
	var inner []byte
	for len(body) > 0 {
		var child []byte
		child, body, err = berElement(body, depth+1)
		if err != nil {
			return nil, nil, err
		}
		inner = append(inner, child...)
	}
	return encodeTLV(identifier, inner, tag), rest, nil
}

// encodeTLV writes identifier, a minimal definite length and body. A
// constructed universal OCTET STRING becomes a primitive one holding the
// concatenated contents of its (already converted) parts.
func encodeTLV(identifier, body []byte, tag byte) []byte {
	if tag == 0x24 && len(identifier) == 1 {
		var joined []byte
		for len(body) > 0 {
			// body holds DER OCTET STRINGs written by this function.
			_, hdr, n := derHeader(body)
			if n < 0 || hdr+n > len(body) {
				break
			}
			joined = append(joined, body[hdr:hdr+n]...)
			body = body[hdr+n:]
		}
		identifier, body = []byte{0x04}, joined
	}
	out := append([]byte(nil), identifier...)
	n := len(body)
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n <= 0xff:
		out = append(out, 0x81, byte(n))
	case n <= 0xffff:
		out = append(out, 0x82, byte(n>>8), byte(n))
	case n <= 0xffffff:
		out = append(out, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		out = append(out, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(out, body...)
}

// derHeader reads a single-byte-tag definite header; n is -1 on error.
func derHeader(b []byte) (tag byte, hdr, n int) {
	if len(b) < 2 {
		return 0, 0, -1
	}
	l := b[1]
	if l < 0x80 {
		return b[0], 2, int(l)
	}
	k := int(l & 0x7f)
	if k == 0 || k > 4 || len(b) < 2+k {
		return 0, 0, -1
	}
	for _, c := range b[2 : 2+k] {
		n = n<<8 | int(c)
	}
	return b[0], 2 + k, n
}
