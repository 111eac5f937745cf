package agenda

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/smallstep/pkcs7"
)

// Sealer applies the organisation's seal: a detached CMS signature (DER,
// SHA-256, with a signingTime attribute and the signer's certificate chain)
// made with a certificate and key the deployment configures. It holds no
// mutable state and is safe for concurrent use.
type Sealer struct {
	cert  *x509.Certificate
	chain []*x509.Certificate // the issuers after cert, as given in the file
	key   crypto.Signer
}

// LoadSealer reads the seal's certificate chain (leaf first, then its
// issuers) and its private key from PEM files.
func LoadSealer(certPath, keyPath string) (*Sealer, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("seal certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	return NewSealer(certPEM, keyPEM)
}

// NewSealer builds a Sealer from PEM: certPEM holds the seal certificate
// followed by any intermediates, keyPEM an RSA (2048 bits or more) or ECDSA
// (P-256, P-384, P-521) private key in PKCS #8, PKCS #1 or SEC 1 form. The key
// must belong to the certificate, and each certificate must be issued by the
// next.
func NewSealer(certPEM, keyPEM []byte) (*Sealer, error) {
	var certs []*x509.Certificate
	for rest := certPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("seal certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("seal certificate: no PEM CERTIFICATE block")
	}
	for i := 0; i+1 < len(certs); i++ {
		if err := certs[i].CheckSignatureFrom(certs[i+1]); err != nil {
			return nil, fmt.Errorf("seal certificate %d is not issued by certificate %d: %w", i+1, i+2, err)
		}
	}
	key, err := parsePrivateKey(keyPEM)
	if err != nil {
		return nil, err
	}
	pub, ok := certs[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return nil, errors.New("seal key does not belong to the seal certificate")
	}
	return &Sealer{cert: certs[0], chain: certs[1:], key: key}, nil
}

// parsePrivateKey decodes the first private key block in keyPEM and accepts
// only RSA and ECDSA keys of a sound size.
func parsePrivateKey(keyPEM []byte) (crypto.Signer, error) {
	for rest := keyPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("seal key: no PEM private key block")
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("seal key: encrypted keys are not supported; decrypt it with openssl pkey first")
		default:
			continue // e.g. EC PARAMETERS before the key
		}
		if err != nil {
			return nil, fmt.Errorf("seal key: %w", err)
		}
		switch k := key.(type) {
		case *rsa.PrivateKey:
			if k.N.BitLen() < 2048 {
				return nil, fmt.Errorf("seal key: RSA key of %d bits, need at least 2048", k.N.BitLen())
			}
			return k, nil
		case *ecdsa.PrivateKey:
			switch k.Curve {
			case elliptic.P256(), elliptic.P384(), elliptic.P521():
				return k, nil
			}
			return nil, fmt.Errorf("seal key: unsupported curve %s", k.Curve.Params().Name)
		default:
			return nil, fmt.Errorf("seal key: unsupported key type %T (want RSA or ECDSA)", key)
		}
	}
}

// Seal returns a DER detached CMS SignedData over content: SHA-256 digest,
// signed attributes content-type, message-digest and signing-time, and the
// seal certificate with its issuers embedded.
func (s *Sealer) Seal(content []byte) ([]byte, error) {
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if len(s.chain) > 0 {
		err = sd.AddSignerChain(s.cert, s.key, s.chain, pkcs7.SignerInfoConfig{})
	} else {
		err = sd.AddSigner(s.cert, s.key, pkcs7.SignerInfoConfig{})
	}
	if err != nil {
		return nil, fmt.Errorf("seal: sign: %w", err)
	}
	sd.Detach()
	der, err := sd.Finish()
	if err != nil {
		return nil, fmt.Errorf("seal: encode: %w", err)
	}
	return der, nil
}

// Certificate is the seal's certificate.
func (s *Sealer) Certificate() *x509.Certificate { return s.cert }

// Chain is the seal certificate followed by the issuers given with it.
func (s *Sealer) Chain() []*x509.Certificate {
	return append([]*x509.Certificate{s.cert}, s.chain...)
}
