package sigverify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
)

// MinRSABits is the smallest RSA modulus accepted anywhere in a chain.
const MinRSABits = 2048

var (
	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidMD5    = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}
	oidSHA224 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}

	oidRSA         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidMD5WithRSA  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 4}
	oidSHA1WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	oidRSAPSS      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidSHA256RSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384RSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512RSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidSHA224RSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 14}
	oidMGF1        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidECDSASHA1   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
	oidECDSASHA224 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 1}
	oidECDSASHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSASHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSASHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
)

// errWeak marks an algorithm that is known but refused (SHA-1, MD5, ...).
var errWeak = errors.New("refused")

// digestHash maps a digest AlgorithmIdentifier to an accepted hash.
func digestHash(alg pkix.AlgorithmIdentifier) (crypto.Hash, string, error) {
	switch {
	case alg.Algorithm.Equal(oidSHA256):
		return crypto.SHA256, "SHA-256", nil
	case alg.Algorithm.Equal(oidSHA384):
		return crypto.SHA384, "SHA-384", nil
	case alg.Algorithm.Equal(oidSHA512):
		return crypto.SHA512, "SHA-512", nil
	case alg.Algorithm.Equal(oidSHA1):
		return 0, "SHA-1", fmt.Errorf("digest algorithm SHA-1 is %w", errWeak)
	case alg.Algorithm.Equal(oidMD5):
		return 0, "MD5", fmt.Errorf("digest algorithm MD5 is %w", errWeak)
	case alg.Algorithm.Equal(oidSHA224):
		return 0, "SHA-224", fmt.Errorf("digest algorithm SHA-224 is %w", errWeak)
	}
	return 0, alg.Algorithm.String(), fmt.Errorf("unknown digest algorithm %v", alg.Algorithm)
}

// sigScheme is a decoded signatureAlgorithm: the key family and, where the
// OID fixes one, the hash the scheme uses.
type sigScheme struct {
	name    string
	rsa     bool
	pss     bool
	pssSalt int
	hash    crypto.Hash // 0 when the OID does not name one
}

func signatureScheme(alg pkix.AlgorithmIdentifier) (sigScheme, error) {
	o := alg.Algorithm
	switch {
	case o.Equal(oidRSA):
		return sigScheme{name: "RSA-PKCS1v15", rsa: true}, nil
	case o.Equal(oidSHA256RSA):
		return sigScheme{name: "RSA-PKCS1v15", rsa: true, hash: crypto.SHA256}, nil
	case o.Equal(oidSHA384RSA):
		return sigScheme{name: "RSA-PKCS1v15", rsa: true, hash: crypto.SHA384}, nil
	case o.Equal(oidSHA512RSA):
		return sigScheme{name: "RSA-PKCS1v15", rsa: true, hash: crypto.SHA512}, nil
	case o.Equal(oidRSAPSS):
		return pssScheme(alg.Parameters)
	case o.Equal(oidECPublicKey):
		return sigScheme{name: "ECDSA"}, nil
	case o.Equal(oidECDSASHA256):
		return sigScheme{name: "ECDSA", hash: crypto.SHA256}, nil
	case o.Equal(oidECDSASHA384):
		return sigScheme{name: "ECDSA", hash: crypto.SHA384}, nil
	case o.Equal(oidECDSASHA512):
		return sigScheme{name: "ECDSA", hash: crypto.SHA512}, nil
	case o.Equal(oidSHA1WithRSA), o.Equal(oidECDSASHA1):
		return sigScheme{}, fmt.Errorf("signature algorithm with SHA-1 is %w", errWeak)
	case o.Equal(oidMD5WithRSA):
		return sigScheme{}, fmt.Errorf("signature algorithm with MD5 is %w", errWeak)
	case o.Equal(oidSHA224RSA), o.Equal(oidECDSASHA224):
		return sigScheme{}, fmt.Errorf("signature algorithm with SHA-224 is %w", errWeak)
	}
	return sigScheme{}, fmt.Errorf("unsupported signature algorithm %v", o)
}

// pssScheme decodes RSASSA-PSS-params (RFC 4055). The defaults are SHA-1,
// so parameters must be present; the MGF1 hash must equal the message hash
// because crypto/rsa uses one hash for both.
func pssScheme(params asn1.RawValue) (sigScheme, error) {
	var p struct {
		Hash    pkix.AlgorithmIdentifier `asn1:"explicit,optional,tag:0"`
		MGF     pkix.AlgorithmIdentifier `asn1:"explicit,optional,tag:1"`
		Salt    int                      `asn1:"explicit,optional,default:20,tag:2"`
		Trailer int                      `asn1:"explicit,optional,default:1,tag:3"`
	}
	if len(params.FullBytes) == 0 {
		return sigScheme{}, fmt.Errorf("RSASSA-PSS without parameters means SHA-1, which is %w", errWeak)
	}
	if rest, err := asn1.Unmarshal(params.FullBytes, &p); err != nil || len(rest) != 0 {
		return sigScheme{}, fmt.Errorf("malformed RSASSA-PSS parameters")
	}
	if len(p.Hash.Algorithm) == 0 {
		return sigScheme{}, fmt.Errorf("RSASSA-PSS with default hash SHA-1 is %w", errWeak)
	}
	h, _, err := digestHash(p.Hash)
	if err != nil {
		return sigScheme{}, fmt.Errorf("RSASSA-PSS: %w", err)
	}
	var mgfHash pkix.AlgorithmIdentifier
	if !p.MGF.Algorithm.Equal(oidMGF1) {
		return sigScheme{}, fmt.Errorf("RSASSA-PSS: unsupported mask generation function")
	}
	if rest, err := asn1.Unmarshal(p.MGF.Parameters.FullBytes, &mgfHash); err != nil || len(rest) != 0 {
		return sigScheme{}, fmt.Errorf("RSASSA-PSS: malformed MGF1 parameters")
	}
	if !mgfHash.Algorithm.Equal(p.Hash.Algorithm) {
		return sigScheme{}, fmt.Errorf("RSASSA-PSS: MGF1 hash differs from message hash")
	}
	if p.Trailer != 1 || p.Salt < 0 {
		return sigScheme{}, fmt.Errorf("RSASSA-PSS: unsupported trailer field or salt length")
	}
	return sigScheme{name: "RSA-PSS", rsa: true, pss: true, pssSalt: p.Salt, hash: h}, nil
}

// checkKey enforces the key rules: RSA of at least MinRSABits, ECDSA on
// P-256, P-384 or P-521. Other key types are refused.
func checkKey(pub any) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < MinRSABits {
			return fmt.Errorf("RSA key of %d bits is %w (minimum %d)", k.N.BitLen(), errWeak, MinRSABits)
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return fmt.Errorf("ECDSA curve %s is not accepted", k.Curve.Params().Name)
		}
	default:
		return fmt.Errorf("public key type %T is not accepted", pub)
	}
	return nil
}

// verifySig checks sig over the already-hashed digest with the scheme.
func verifySig(pub any, s sigScheme, h crypto.Hash, digest, sig []byte) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if !s.rsa {
			return fmt.Errorf("%s signature algorithm does not match an RSA key", s.name)
		}
		if s.pss {
			return rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: s.pssSalt, Hash: h})
		}
		return rsa.VerifyPKCS1v15(k, h, digest, sig)
	case *ecdsa.PublicKey:
		if s.rsa {
			return fmt.Errorf("%s signature algorithm does not match an ECDSA key", s.name)
		}
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errors.New("ECDSA verification failed")
		}
		return nil
	}
	return fmt.Errorf("public key type %T is not accepted", pub)
}
