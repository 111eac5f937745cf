package sigverify

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Object identifiers this package reads.
var (
	oidData             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidAttrContentType  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrDigest       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningTime  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidAttrTimestamp    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
	oidAttrSigningCert  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	oidAttrSigningCert2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
)

// ErrMalformed wraps every failure to parse a CMS structure.
var ErrMalformed = errors.New("sigverify: malformed CMS")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// signedData is the parts of a CMS SignedData (RFC 5652 §5.1) the verifier
// uses. Raw slices point into the caller's DER.
type signedData struct {
	eContentType asn1.ObjectIdentifier
	eContent     []byte // nil when detached
	hasEContent  bool
	certs        []*x509.Certificate
	signers      []signerInfo
}

// signerInfo is one RFC 5652 §5.3 SignerInfo.
type signerInfo struct {
	sid             asn1.RawValue
	digestAlg       pkix.AlgorithmIdentifier
	signedAttrsFull []byte // the [0] IMPLICIT element as encoded, or nil
	signedAttrs     []attribute
	sigAlg          pkix.AlgorithmIdentifier
	signature       []byte
	unsignedAttrs   []attribute
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values []asn1.RawValue `asn1:"set"`
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

// elements splits the contents of a constructed value into its children.
func elements(b []byte) ([]asn1.RawValue, error) {
	var out []asn1.RawValue
	for len(b) > 0 {
		var v asn1.RawValue
		rest, err := asn1.Unmarshal(b, &v)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		b = rest
	}
	return out, nil
}

func isUniversal(v asn1.RawValue, tag int) bool {
	return v.Class == asn1.ClassUniversal && v.Tag == tag
}

func isContext(v asn1.RawValue, tag int) bool {
	return v.Class == asn1.ClassContextSpecific && v.Tag == tag
}

// parseContentInfo reads a ContentInfo holding SignedData. Trailing zero
// bytes are allowed because PDF /Contents strings are zero-padded.
func parseContentInfo(der []byte) (*signedData, error) {
	var ci asn1.RawValue
	rest, err := asn1.Unmarshal(der, &ci)
	if err != nil {
		// Not DER: try reading it as BER (indefinite lengths).
		conv, berRest, berErr := berToDER(der)
		if berErr != nil {
			return nil, malformed("content info: %v", err)
		}
		if rest, err = asn1.Unmarshal(conv, &ci); err != nil || len(rest) != 0 {
			return nil, malformed("content info: %v", err)
		}
		rest = berRest
	}
	if len(bytes.Trim(rest, "\x00")) != 0 {
		return nil, malformed("%d bytes of trailing data", len(rest))
	}
	if !isUniversal(ci, asn1.TagSequence) {
		return nil, malformed("content info is not a SEQUENCE")
	}
	parts, err := elements(ci.Bytes)
	if err != nil || len(parts) != 2 {
		return nil, malformed("content info: want 2 elements")
	}
	var ct asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(parts[0].FullBytes, &ct); err != nil {
		return nil, malformed("content type: %v", err)
	}
	if !ct.Equal(oidSignedData) {
		return nil, malformed("content type %v is not signedData", ct)
	}
	if !isContext(parts[1], 0) || !parts[1].IsCompound {
		return nil, malformed("content is not [0] EXPLICIT")
	}
	var sdSeq asn1.RawValue
	if rest, err := asn1.Unmarshal(parts[1].Bytes, &sdSeq); err != nil || len(rest) != 0 || !isUniversal(sdSeq, asn1.TagSequence) {
		return nil, malformed("signed data is not one SEQUENCE")
	}
	return parseSignedData(sdSeq.Bytes)
}

func parseSignedData(b []byte) (*signedData, error) {
	parts, err := elements(b)
	if err != nil {
		return nil, malformed("signed data: %v", err)
	}
	// version, digestAlgorithms, encapContentInfo, [0] certs?, [1] crls?, signerInfos
	if len(parts) < 4 {
		return nil, malformed("signed data has %d elements", len(parts))
	}
	sd := &signedData{}
	eci, err := elements(parts[2].Bytes)
	if err != nil || !isUniversal(parts[2], asn1.TagSequence) || len(eci) < 1 || len(eci) > 2 {
		return nil, malformed("encapsulated content info")
	}
	if _, err := asn1.Unmarshal(eci[0].FullBytes, &sd.eContentType); err != nil {
		return nil, malformed("eContentType: %v", err)
	}
	if len(eci) == 2 {
		if !isContext(eci[1], 0) {
			return nil, malformed("eContent is not [0] EXPLICIT")
		}
		var oct []byte
		if rest, err := asn1.Unmarshal(eci[1].Bytes, &oct); err != nil || len(rest) != 0 {
			return nil, malformed("eContent is not one OCTET STRING")
		}
		sd.eContent, sd.hasEContent = oct, true
	}
	i := 3
	for ; i < len(parts)-1; i++ {
		switch {
		case isContext(parts[i], 0):
			certs, err := elements(parts[i].Bytes)
			if err != nil {
				return nil, malformed("certificates: %v", err)
			}
			for _, c := range certs {
				if !isUniversal(c, asn1.TagSequence) {
					continue // attribute or other certificate formats are not used
				}
				cert, err := x509.ParseCertificate(c.FullBytes)
				if err != nil {
					return nil, malformed("embedded certificate: %v", err)
				}
				sd.certs = append(sd.certs, cert)
			}
		case isContext(parts[i], 1):
			// CRLs are not consulted; revocation is out of scope (see docs).
		default:
			return nil, malformed("unexpected element in signed data")
		}
	}
	last := parts[len(parts)-1]
	if !isUniversal(last, asn1.TagSet) {
		return nil, malformed("signerInfos is not a SET")
	}
	sis, err := elements(last.Bytes)
	if err != nil {
		return nil, malformed("signer infos: %v", err)
	}
	for n, raw := range sis {
		si, err := parseSignerInfo(raw)
		if err != nil {
			return nil, fmt.Errorf("signer info %d: %w", n, err)
		}
		sd.signers = append(sd.signers, *si)
	}
	return sd, nil
}

func parseSignerInfo(raw asn1.RawValue) (*signerInfo, error) {
	if !isUniversal(raw, asn1.TagSequence) {
		return nil, malformed("signer info is not a SEQUENCE")
	}
	parts, err := elements(raw.Bytes)
	if err != nil {
		return nil, malformed("signer info: %v", err)
	}
	// version, sid, digestAlgorithm, [0] signedAttrs?, signatureAlgorithm, signature, [1] unsignedAttrs?
	if len(parts) < 5 {
		return nil, malformed("signer info has %d elements", len(parts))
	}
	si := &signerInfo{sid: parts[1]}
	if _, err := asn1.Unmarshal(parts[2].FullBytes, &si.digestAlg); err != nil {
		return nil, malformed("digest algorithm: %v", err)
	}
	i := 3
	if isContext(parts[i], 0) {
		si.signedAttrsFull = parts[i].FullBytes
		if si.signedAttrs, err = parseAttributes(parts[i].Bytes); err != nil {
			return nil, malformed("signed attributes: %v", err)
		}
		i++
	}
	if len(parts) < i+2 {
		return nil, malformed("signer info truncated")
	}
	if _, err := asn1.Unmarshal(parts[i].FullBytes, &si.sigAlg); err != nil {
		return nil, malformed("signature algorithm: %v", err)
	}
	if _, err := asn1.Unmarshal(parts[i+1].FullBytes, &si.signature); err != nil {
		return nil, malformed("signature value: %v", err)
	}
	i += 2
	if i < len(parts) {
		if !isContext(parts[i], 1) || i != len(parts)-1 {
			return nil, malformed("unexpected element after signature")
		}
		if si.unsignedAttrs, err = parseAttributes(parts[i].Bytes); err != nil {
			return nil, malformed("unsigned attributes: %v", err)
		}
	}
	return si, nil
}

func parseAttributes(b []byte) ([]attribute, error) {
	var out []attribute
	for len(b) > 0 {
		var a attribute
		rest, err := asn1.Unmarshal(b, &a)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
		b = rest
	}
	return out, nil
}

// attr returns the single value of the attribute typ. present reports
// whether it occurs at all; err reports duplicates or multiple values, which
// RFC 5652 §5.3 forbids for the attributes this package reads.
func attr(attrs []attribute, typ asn1.ObjectIdentifier) (val asn1.RawValue, present bool, err error) {
	n := 0
	for _, a := range attrs {
		if a.Type.Equal(typ) {
			n++
			if len(a.Values) != 1 {
				return val, true, fmt.Errorf("attribute %v has %d values", typ, len(a.Values))
			}
			val = a.Values[0]
		}
	}
	if n > 1 {
		return val, true, fmt.Errorf("attribute %v occurs %d times", typ, n)
	}
	return val, n == 1, nil
}

// signedAttrsDER is the byte string the signature covers: the signed
// attributes with their [0] IMPLICIT tag replaced by the SET OF tag
// (RFC 5652 §5.4).
func (si *signerInfo) signedAttrsDER() []byte {
	b := bytes.Clone(si.signedAttrsFull)
	b[0] = 0x31
	return b
}

// findSigner returns the one embedded certificate the SignerIdentifier names.
// It never guesses: no match or more than one match is an error.
func (sd *signedData) findSigner(si *signerInfo) (*x509.Certificate, error) {
	var match []*x509.Certificate
	switch {
	case isUniversal(si.sid, asn1.TagSequence):
		var ias issuerAndSerial
		if rest, err := asn1.Unmarshal(si.sid.FullBytes, &ias); err != nil || len(rest) != 0 || ias.Serial == nil {
			return nil, fmt.Errorf("signer identifier: malformed issuerAndSerialNumber")
		}
		for _, c := range sd.certs {
			if bytes.Equal(c.RawIssuer, ias.Issuer.FullBytes) && c.SerialNumber.Cmp(ias.Serial) == 0 {
				match = append(match, c)
			}
		}
	case isContext(si.sid, 0):
		ski := si.sid.Bytes
		if len(ski) == 0 {
			return nil, fmt.Errorf("signer identifier: empty subjectKeyIdentifier")
		}
		for _, c := range sd.certs {
			if len(c.SubjectKeyId) > 0 && bytes.Equal(c.SubjectKeyId, ski) {
				match = append(match, c)
			}
		}
	default:
		return nil, fmt.Errorf("signer identifier: unknown form")
	}
	switch {
	case len(match) == 0:
		return nil, fmt.Errorf("the signer's certificate is not embedded in the signature")
	case len(match) > 1 && !allSame(match):
		return nil, fmt.Errorf("signer identifier matches %d different certificates", len(match))
	}
	return match[0], nil
}

func allSame(cs []*x509.Certificate) bool {
	for _, c := range cs[1:] {
		if !c.Equal(cs[0]) {
			return false
		}
	}
	return true
}

// tstInfo is the part of an RFC 3161 TSTInfo the verifier uses.
type tstInfo struct {
	hashAlg       pkix.AlgorithmIdentifier
	hashedMessage []byte
	genTime       time.Time
}

func parseTSTInfo(der []byte) (*tstInfo, error) {
	var seq asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) != 0 || !isUniversal(seq, asn1.TagSequence) {
		return nil, malformed("TSTInfo is not one SEQUENCE")
	}
	parts, err := elements(seq.Bytes)
	if err != nil || len(parts) < 5 {
		return nil, malformed("TSTInfo too short")
	}
	// version, policy, messageImprint, serialNumber, genTime, ...
	var mi struct {
		HashAlg pkix.AlgorithmIdentifier
		Hashed  []byte
	}
	if rest, err := asn1.Unmarshal(parts[2].FullBytes, &mi); err != nil || len(rest) != 0 {
		return nil, malformed("TSTInfo message imprint")
	}
	var gen time.Time
	if parts[4].Tag != asn1.TagGeneralizedTime {
		return nil, malformed("TSTInfo genTime is not GeneralizedTime")
	}
	if _, err := asn1.Unmarshal(parts[4].FullBytes, &gen); err != nil {
		return nil, malformed("TSTInfo genTime: %v", err)
	}
	return &tstInfo{hashAlg: mi.HashAlg, hashedMessage: mi.Hashed, genTime: gen}, nil
}
