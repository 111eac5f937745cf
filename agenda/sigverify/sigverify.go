// Package sigverify is Cầu's own verifier for CMS SignedData signatures
// (RFC 5652), the signature format inside signed PDFs and of detached .p7s
// files. It owns every trust decision: which certificate signed, whether it
// chains to the configured roots, whether it was valid at signing time, and
// which algorithms are acceptable. Libraries only parse bytes for it.
//
// It knows nothing of PDFs, meetings or storage; callers hand it the CMS blob
// and the signed bytes.
package sigverify

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Policy says what a signature must satisfy.
type Policy struct {
	// Roots are the only trust anchors; the OS trust store is never used.
	// Required: a nil pool makes every signature invalid.
	Roots *x509.CertPool
	// Intermediates are extra intermediate certificates, besides those
	// embedded in the CMS, that chain building may use. They are never
	// trusted as anchors.
	Intermediates []*x509.Certificate
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
	// DocumentTime, when set, is the signing time the signed bytes
	// themselves claim, such as a PDF signature dictionary's /M entry (which
	// the byte range covers). It is used only when the CMS has neither a
	// timestamp token nor a signingTime attribute.
	DocumentTime time.Time
}

func (p Policy) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Time sources reported in Result.TimeSource.
const (
	TimeSourceTimestamp   = "timestamp"     // RFC 3161 token in the unsigned attributes
	TimeSourceSigningTime = "signing_time"  // the signer's own signingTime attribute
	TimeSourceDocument    = "document_time" // Policy.DocumentTime, e.g. a PDF /M entry
	TimeSourceNow         = "now"           // neither was present
)

// Result is the verdict on one CMS signature.
type Result struct {
	Signer          string     `json:"signer"`                   // subject CN
	Organisation    string     `json:"organisation"`             // subject O
	Issuer          string     `json:"issuer,omitempty"`         // issuer CN
	Serial          string     `json:"serial,omitempty"`         // signer certificate serial, hex
	SigningTime     *time.Time `json:"signing_time,omitempty"`   // from signingTime attribute
	TimestampTime   *time.Time `json:"timestamp_time,omitempty"` // RFC 3161 token time, if present
	DigestAlgorithm string     `json:"digest_algorithm"`
	// SignatureAlgorithm names the public-key algorithm, e.g. "RSA-PKCS1v15".
	SignatureAlgorithm string `json:"signature_algorithm,omitempty"`
	// CheckedAt is the instant at which certificate validity was judged, and
	// TimeSource says where it came from (timestamp, signing_time or now).
	CheckedAt  time.Time `json:"checked_at"`
	TimeSource string    `json:"time_source"`

	Valid   bool     `json:"valid"`
	Reasons []string `json:"reasons,omitempty"` // human-readable, English, one per failed check

	// Per-check verdicts. A check that could not run (for example the
	// signature check when no signer certificate was found) is false.
	AlgorithmsOK       bool  `json:"algorithms_ok"`
	DigestOK           bool  `json:"digest_ok"`
	SignatureOK        bool  `json:"signature_ok"`
	ChainOK            bool  `json:"chain_ok"`
	ValidAtSigningTime bool  `json:"valid_at_signing_time"`
	KeyUsageOK         bool  `json:"key_usage_ok"`
	TimestampOK        *bool `json:"timestamp_ok,omitempty"` // nil when there is no timestamp

	Certificate *x509.Certificate   `json:"-"`
	Chain       []*x509.Certificate `json:"-"` // signer first, root last, when ChainOK
}

func (r *Result) fail(format string, args ...any) {
	r.Reasons = append(r.Reasons, fmt.Sprintf(format, args...))
}

// ErrNoRoots is returned by LoadRoots when the directory holds no certificate.
var ErrNoRoots = errors.New("sigverify: no trusted root certificates found")

// LoadRoots reads every PEM certificate in dir (*.pem, *.crt, *.cer); it is an
// error if there are none or if any such file fails to parse, because a
// silently skipped root is a deployment mistake nobody notices.
func LoadRoots(dir string) (*x509.CertPool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("sigverify: read roots dir: %w", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || (ext != ".pem" && ext != ".crt" && ext != ".cer") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("sigverify: read root %s: %w", path, err)
		}
		found := 0
		for {
			var block *pem.Block
			block, data = pem.Decode(data)
			if block == nil {
				break
			}
			if block.Type != "CERTIFICATE" {
				continue
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("sigverify: parse root %s: %w", path, err)
			}
			pool.AddCert(cert)
			found++
		}
		if found == 0 {
			return nil, fmt.Errorf("sigverify: %s holds no PEM certificate", path)
		}
		n += found
	}
	if n == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNoRoots, dir)
	}
	return pool, nil
}

// VerifyDetached is Verify over a byte slice.
func VerifyDetached(content, p7s []byte, p Policy) (*Result, error) {
	return Verify(p7s, bytes.NewReader(content), p)
}
