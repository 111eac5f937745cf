package sigverify

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// clockSkew is how far in the future a claimed signing time may lie before
// it is refused.
const clockSkew = 5 * time.Minute

// Extended key usages, besides those crypto/x509 names, that permit signing
// documents.
var (
	oidEKUDocumentSigning  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}       // RFC 9336
	oidEKUAdobeAuthentic   = asn1.ObjectIdentifier{1, 2, 840, 113583, 1, 1, 5}       // Adobe Authentic Documents Trust
	oidEKUMicrosoftDocSign = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 10, 3, 12} // Microsoft Document Signing
)

// Verify checks a CMS SignedData (DER, detached) over the bytes read from
// signed. It returns an error only when p7s cannot be parsed at all; a bad
// signature is a Result with Valid=false and Reasons.
//
// The SignedData must hold exactly one SignerInfo: a Result describes one
// signer, and a second, unchecked signer riding along is refused rather
// than ignored.
func Verify(p7s []byte, signed io.Reader, p Policy) (*Result, error) {
	sd, err := parseContentInfo(p7s)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	if sd.hasEContent {
		res.fail("the CMS carries its own content; a detached signature was expected")
	}
	if !sd.eContentType.Equal(oidData) {
		res.fail("content type %v is not id-data", sd.eContentType)
	}
	si, cert := verifyCore(sd, signed, res)
	if si == nil {
		return finish(res), nil
	}

	now := p.now()
	if v, ok, err := attr(si.signedAttrs, oidAttrSigningTime); err != nil {
		res.fail("signingTime: %v", err)
	} else if ok {
		var t time.Time
		if _, err := asn1.Unmarshal(v.FullBytes, &t); err != nil {
			res.fail("signingTime: %v", err)
		} else {
			t = t.UTC()
			res.SigningTime = &t
			if t.After(now.Add(clockSkew)) {
				res.fail("signing time %s is in the future", t.Format(time.RFC3339))
			}
		}
	}

	res.CheckedAt, res.TimeSource = now, TimeSourceNow
	switch {
	case res.SigningTime != nil:
		res.CheckedAt, res.TimeSource = *res.SigningTime, TimeSourceSigningTime
	case !p.DocumentTime.IsZero():
		t := p.DocumentTime.UTC()
		res.SigningTime = &t
		res.CheckedAt, res.TimeSource = t, TimeSourceDocument
		if t.After(now.Add(clockSkew)) {
			res.fail("signing time %s is in the future", t.Format(time.RFC3339))
		}
	}
	if v, ok, err := attr(si.unsignedAttrs, oidAttrTimestamp); err != nil {
		res.fail("timestamp: %v", err)
		res.TimestampOK = new(bool)
	} else if ok {
		genTime, reasons := verifyTimestamp(v.FullBytes, si.signature, p)
		tsOK := len(reasons) == 0
		res.TimestampOK = &tsOK
		res.Reasons = append(res.Reasons, reasons...)
		if !genTime.IsZero() {
			res.TimestampTime = &genTime
		}
		if tsOK {
			res.CheckedAt, res.TimeSource = genTime, TimeSourceTimestamp
		}
	}

	if cert != nil {
		chainOK, validAt, chain, reasons := checkChain(cert, sd.certs, p, res.CheckedAt, x509.ExtKeyUsageAny)
		res.ChainOK, res.ValidAtSigningTime, res.Chain = chainOK, validAt, chain
		res.Reasons = append(res.Reasons, reasons...)
		if err := documentKeyUsage(cert); err != nil {
			res.fail("%v", err)
		} else {
			res.KeyUsageOK = true
		}
	}
	return finish(res), nil
}

// finish sets Valid from the checks, so that a check which failed without
// saying why still makes the result invalid.
func finish(res *Result) *Result {
	checks := []struct {
		ok   bool
		name string
	}{
		{res.AlgorithmsOK, "algorithms"}, {res.DigestOK, "message digest"},
		{res.SignatureOK, "signature"}, {res.ChainOK, "certificate chain"},
		{res.ValidAtSigningTime, "validity at signing time"}, {res.KeyUsageOK, "key usage"},
	}
	for _, c := range checks {
		if !c.ok && len(res.Reasons) == 0 {
			res.fail("%s check did not pass", c.name)
		}
	}
	res.Valid = len(res.Reasons) == 0
	return res
}

// verifyCore runs the checks a document signature and a timestamp token
// share: one signer, accepted algorithms, the message digest, and the
// signature by the certificate the SignerIdentifier names. It reads content
// to the end. It returns nil when there is no signer to go on with.
func verifyCore(sd *signedData, content io.Reader, res *Result) (*signerInfo, *x509.Certificate) {
	if len(sd.signers) != 1 {
		res.fail("expected exactly one signer, found %d", len(sd.signers))
		if len(sd.signers) == 0 {
			return nil, nil
		}
	}
	si := &sd.signers[0]
	algOK := true
	h, name, herr := digestHash(si.digestAlg)
	res.DigestAlgorithm = name
	if herr != nil {
		res.fail("%v", herr)
		algOK = false
	}
	scheme, serr := signatureScheme(si.sigAlg)
	res.SignatureAlgorithm = scheme.name
	if serr != nil {
		res.fail("%v", serr)
		algOK = false
	} else if herr == nil && scheme.hash != 0 && scheme.hash != h {
		res.fail("signature algorithm hash %v differs from digest algorithm %s", scheme.hash, name)
		algOK = false
	}
	cert, err := sd.findSigner(si)
	if err != nil {
		res.fail("%v", err)
	} else {
		res.Certificate = cert
		res.Signer = cert.Subject.CommonName
		if len(cert.Subject.Organization) > 0 {
			res.Organisation = cert.Subject.Organization[0]
		}
		res.Issuer = cert.Issuer.CommonName
		res.Serial = fmt.Sprintf("%X", cert.SerialNumber)
		if err := checkKey(cert.PublicKey); err != nil {
			res.fail("signer %v", err)
			algOK = false
		}
	}
	res.AlgorithmsOK = algOK
	if herr != nil {
		return si, cert
	}

	hasher := h.New()
	if _, err := io.Copy(hasher, content); err != nil {
		res.fail("read signed content: %v", err)
		return si, cert
	}
	contentDigest := hasher.Sum(nil)

	toVerify := contentDigest
	if si.signedAttrsFull != nil {
		res.DigestOK = checkSignedAttrs(si, sd.eContentType, contentDigest, res)
		sum := h.New()
		sum.Write(si.signedAttrsDER())
		toVerify = sum.Sum(nil)
	}
	if cert == nil || serr != nil {
		return si, cert
	}
	if err := verifySig(cert.PublicKey, scheme, h, toVerify, si.signature); err != nil {
		res.fail("signature does not verify with the signer's certificate: %v", err)
		return si, cert
	}
	res.SignatureOK = true
	if si.signedAttrsFull == nil {
		// Without signed attributes the signature is over the content
		// digest itself, so a good signature is a good digest.
		res.DigestOK = true
	}
	if err := checkSigningCertificate(si, cert); err != nil {
		res.fail("%v", err)
		res.SignatureOK = false
	}
	return si, cert
}

// checkSignedAttrs enforces RFC 5652 §5.3: exactly one contentType equal to
// the eContentType and exactly one messageDigest, which must equal the
// digest of the content.
func checkSignedAttrs(si *signerInfo, eContentType asn1.ObjectIdentifier, digest []byte, res *Result) bool {
	ok := true
	if v, present, err := attr(si.signedAttrs, oidAttrContentType); err != nil {
		res.fail("contentType attribute: %v", err)
		ok = false
	} else if !present {
		res.fail("signed attributes lack contentType")
		ok = false
	} else {
		var ct asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(v.FullBytes, &ct); err != nil || !ct.Equal(eContentType) {
			res.fail("contentType attribute does not match the content type")
			ok = false
		}
	}
	v, present, err := attr(si.signedAttrs, oidAttrDigest)
	switch {
	case err != nil:
		res.fail("messageDigest attribute: %v", err)
		return false
	case !present:
		res.fail("signed attributes lack messageDigest")
		return false
	}
	var md []byte
	if _, err := asn1.Unmarshal(v.FullBytes, &md); err != nil {
		res.fail("messageDigest attribute: %v", err)
		return false
	}
	if !bytes.Equal(md, digest) {
		res.fail("message digest does not match the signed content (the content was changed)")
		return false
	}
	return ok
}

// checkSigningCertificate honours the ESS signing-certificate attributes
// (RFC 5035) when present: they bind the signature to one certificate, so
// the named certificate must be the one that verified it.
func checkSigningCertificate(si *signerInfo, cert *x509.Certificate) error {
	for _, typ := range []asn1.ObjectIdentifier{oidAttrSigningCert2, oidAttrSigningCert} {
		v, present, err := attr(si.signedAttrs, typ)
		if err != nil {
			return fmt.Errorf("signing certificate attribute: %v", err)
		}
		if !present {
			continue
		}
		var sc struct {
			Certs []asn1.RawValue
			Rest  asn1.RawValue `asn1:"optional"`
		}
		if _, err := asn1.Unmarshal(v.FullBytes, &sc); err != nil || len(sc.Certs) == 0 {
			return fmt.Errorf("malformed signing certificate attribute")
		}
		id, err := elements(sc.Certs[0].Bytes)
		if err != nil || len(id) == 0 {
			return fmt.Errorf("malformed signing certificate attribute")
		}
		var want []byte
		var got []byte
		if typ.Equal(oidAttrSigningCert) {
			sum := sha1.Sum(cert.Raw) // v1 fixes SHA-1; it identifies, it does not sign
			got = sum[:]
		} else {
			h := crypto.SHA256
			if isUniversal(id[0], asn1.TagSequence) {
				var alg pkix.AlgorithmIdentifier
				if _, err := asn1.Unmarshal(id[0].FullBytes, &alg); err != nil {
					return fmt.Errorf("malformed signing certificate attribute")
				}
				if h, _, err = digestHash(alg); err != nil {
					return fmt.Errorf("signing certificate attribute: %v", err)
				}
				id = id[1:]
			}
			if len(id) == 0 {
				return fmt.Errorf("malformed signing certificate attribute")
			}
			d := h.New()
			d.Write(cert.Raw)
			got = d.Sum(nil)
		}
		if _, err := asn1.Unmarshal(id[0].FullBytes, &want); err != nil {
			return fmt.Errorf("malformed signing certificate attribute")
		}
		if !bytes.Equal(want, got) {
			return fmt.Errorf("signing certificate attribute names a different certificate than the signer's")
		}
	}
	return nil
}

// checkChain builds a chain from cert to p.Roots at time t. Embedded and
// policy certificates are only ever intermediates. It reports whether the
// chain exists and, separately, whether every certificate in it was valid
// at t, so that an expired signer reads as that and not as "untrusted".
func checkChain(cert *x509.Certificate, embedded []*x509.Certificate, p Policy, t time.Time, eku x509.ExtKeyUsage) (chainOK, validAt bool, chain []*x509.Certificate, reasons []string) {
	if p.Roots == nil {
		return false, false, nil, []string{"no trusted roots are configured"}
	}
	inter := x509.NewCertPool()
	for _, c := range embedded {
		inter.AddCert(c)
	}
	for _, c := range p.Intermediates {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{Roots: p.Roots, Intermediates: inter, CurrentTime: t, KeyUsages: []x509.ExtKeyUsage{eku}}
	chains, err := cert.Verify(opts)
	var invalid x509.CertificateInvalidError
	switch {
	case err == nil:
		chainOK, validAt = true, true
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		reasons = append(reasons, fmt.Sprintf("certificate %q (or an issuer) was not valid at %s: %v",
			invalid.Cert.Subject.CommonName, t.UTC().Format(time.RFC3339), err))
		// Judge the chain itself at a time the signer certificate was valid.
		opts.CurrentTime = cert.NotBefore.Add(cert.NotAfter.Sub(cert.NotBefore) / 2)
		if chains, err = cert.Verify(opts); err != nil {
			reasons = append(reasons, fmt.Sprintf("certificate does not chain to a trusted root: %v", err))
		} else {
			chainOK = true
		}
	default:
		reasons = append(reasons, fmt.Sprintf("certificate does not chain to a trusted root: %v", err))
		validAt = !t.Before(cert.NotBefore) && !t.After(cert.NotAfter)
		if !validAt {
			reasons = append(reasons, fmt.Sprintf("certificate was not valid at %s", t.UTC().Format(time.RFC3339)))
		}
	}
	if chainOK {
		chain = chains[0]
		for _, c := range chain[1:] {
			if err := checkKey(c.PublicKey); err != nil {
				reasons = append(reasons, fmt.Sprintf("issuer %q: %v", c.Subject.CommonName, err))
				chainOK = false
			}
		}
	}
	return chainOK, validAt, chain, reasons
}

// documentKeyUsage says whether cert may sign documents. The key usage
// extension must be present and allow digitalSignature or
// contentCommitment. An extended key usage extension, when present, must
// name a purpose that covers people or documents (any, emailProtection,
// clientAuth, documentSigning, Adobe or Microsoft document signing); a
// certificate for TLS servers, code, timestamps or OCSP alone is refused.
func documentKeyUsage(cert *x509.Certificate) error {
	if cert.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		if cert.KeyUsage == 0 {
			return errors.New("signer certificate has no key usage extension allowing signatures")
		}
		return errors.New("signer certificate key usage allows neither digitalSignature nor contentCommitment")
	}
	if len(cert.ExtKeyUsage) == 0 && len(cert.UnknownExtKeyUsage) == 0 {
		return nil
	}
	for _, u := range cert.ExtKeyUsage {
		switch u {
		case x509.ExtKeyUsageAny, x509.ExtKeyUsageEmailProtection, x509.ExtKeyUsageClientAuth:
			return nil
		}
	}
	for _, o := range cert.UnknownExtKeyUsage {
		if o.Equal(oidEKUDocumentSigning) || o.Equal(oidEKUAdobeAuthentic) || o.Equal(oidEKUMicrosoftDocSign) {
			return nil
		}
	}
	return errors.New("signer certificate extended key usage does not permit document signing")
}

// verifyTimestamp checks an RFC 3161 token found in the unsigned
// attributes: its TSTInfo must imprint the signature value, its own
// signature must verify, and its TSA certificate must chain to the roots
// with the timeStamping purpose at the token's time. It returns the token
// time (zero if unreadable) and the reasons it fails, each prefixed.
func verifyTimestamp(token, signatureValue []byte, p Policy) (time.Time, []string) {
	var reasons []string
	failf := func(format string, args ...any) {
		reasons = append(reasons, "timestamp: "+fmt.Sprintf(format, args...))
	}
	sd, err := parseContentInfo(token)
	if err != nil {
		failf("%v", err)
		return time.Time{}, reasons
	}
	if !sd.eContentType.Equal(oidTSTInfo) || !sd.hasEContent {
		failf("token does not encapsulate a TSTInfo")
		return time.Time{}, reasons
	}
	tst, err := parseTSTInfo(sd.eContent)
	if err != nil {
		failf("%v", err)
		return time.Time{}, reasons
	}
	genTime := tst.genTime.UTC()
	tr := &Result{}
	si, cert := verifyCore(sd, bytes.NewReader(sd.eContent), tr)
	for _, r := range tr.Reasons {
		failf("%s", r)
	}
	if si == nil {
		return genTime, reasons
	}
	if h, _, err := digestHash(tst.hashAlg); err != nil {
		failf("message imprint: %v", err)
	} else {
		d := h.New()
		d.Write(signatureValue)
		if !bytes.Equal(d.Sum(nil), tst.hashedMessage) {
			failf("message imprint does not match the signature value")
		}
	}
	if cert != nil {
		_, _, _, rs := checkChain(cert, sd.certs, p, genTime, x509.ExtKeyUsageTimeStamping)
		for _, r := range rs {
			failf("TSA %s", r)
		}
		if !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageTimeStamping) {
			// RFC 3161 §2.3: the TSA certificate must carry id-kp-timeStamping;
			// crypto/x509 would let a certificate without any EKU pass.
			failf("TSA certificate lacks the timeStamping extended key usage")
		}
		if cert.KeyUsage != 0 && cert.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
			failf("TSA certificate key usage does not allow signatures")
		}
	}
	if !tr.SignatureOK || !tr.DigestOK || !tr.AlgorithmsOK {
		if len(reasons) == 0 {
			failf("token signature did not verify")
		}
	}
	return genTime, reasons
}
