// Package sigtest builds throw-away PKIs for tests of signature
// verification: roots, intermediates, signers and an RFC 3161 timestamp
// authority, all generated in memory with crypto/x509. It owns nothing a
// production binary uses.
package sigtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
)

// Cert is a certificate with its private key and the issuers above it
// (nearest first, root last; empty for a root).
type Cert struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	Parents []*x509.Certificate
}

// Options shape a certificate. Zero values give a sensible signer: RSA-2048,
// valid from an hour ago for ten years, key usage digitalSignature and
// contentCommitment, no extended key usage.
type Options struct {
	CN, Org     string
	NotBefore   time.Time
	NotAfter    time.Time
	KeyUsage    x509.KeyUsage
	ExtKeyUsage []x509.ExtKeyUsage
	IsCA        bool
	RSABits     int  // default 2048
	ECDSA       bool // P-256 instead of RSA
	// SelfSigned makes a root; otherwise Issue signs with the receiver.
	SelfSigned bool
}

func newKey(t testing.TB, o Options) crypto.Signer {
	t.Helper()
	if o.ECDSA {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	bits := o.RSABits
	if bits == 0 {
		bits = 2048
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatalf("generate RSA-%d: %v", bits, err)
	}
	return k
}

func template(o Options) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 96))
	nb, na := o.NotBefore, o.NotAfter
	if nb.IsZero() {
		nb = time.Now().Add(-time.Hour)
	}
	if na.IsZero() {
		na = nb.AddDate(10, 0, 0)
	}
	ku := o.KeyUsage
	if ku == 0 {
		ku = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		if o.IsCA {
			ku = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: o.CN, Organization: []string{o.Org}},
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              ku,
		ExtKeyUsage:           o.ExtKeyUsage,
		BasicConstraintsValid: true,
		IsCA:                  o.IsCA,
	}
	if o.Org == "" {
		tmpl.Subject.Organization = nil
	}
	return tmpl
}

// NewRoot makes a self-signed CA.
func NewRoot(t testing.TB, cn string) *Cert {
	t.Helper()
	return NewRootWith(t, Options{CN: cn, Org: "Test PKI", IsCA: true})
}

// NewRootWith makes a self-signed CA from o (IsCA is forced).
func NewRootWith(t testing.TB, o Options) *Cert {
	t.Helper()
	o.IsCA = true
	key := newKey(t, o)
	tmpl := template(o)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Cert{Cert: cert, Key: key}
}

// Issue makes a certificate signed by c.
func (c *Cert) Issue(t testing.TB, o Options) *Cert {
	t.Helper()
	key := newKey(t, o)
	der, err := x509.CreateCertificate(rand.Reader, template(o), c.Cert, key.Public(), c.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Cert{Cert: cert, Key: key, Parents: append([]*x509.Certificate{c.Cert}, c.Parents...)}
}

// Chain is the certificate followed by its issuers, root last.
func (c *Cert) Chain() []*x509.Certificate {
	return append([]*x509.Certificate{c.Cert}, c.Parents...)
}

// Pool is a pool holding only this certificate, for use as Roots.
func (c *Cert) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Cert)
	return p
}

// PEM encodes the certificate.
func (c *Cert) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// WriteRootsDir writes each certificate as a PEM file into a fresh
// temporary directory and returns its path.
func WriteRootsDir(t testing.TB, roots ...*Cert) string {
	t.Helper()
	dir := t.TempDir()
	for i, r := range roots {
		name := filepath.Join(dir, "root"+string(rune('a'+i))+".pem")
		if err := os.WriteFile(name, r.PEM(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// PKI is a root, an intermediate and a document signer under it, plus a
// timestamp authority under the same root.
type PKI struct {
	Root, Intermediate, Signer, TSA *Cert
}

// NewPKI builds root → intermediate → signer (RSA-2048, SHA-256 friendly)
// and root → TSA.
func NewPKI(t testing.TB, name string) *PKI {
	t.Helper()
	root := NewRoot(t, name+" Root CA")
	inter := root.Issue(t, Options{CN: name + " Issuing CA", Org: "Test PKI", IsCA: true})
	signer := inter.Issue(t, Options{CN: "Nguyễn Văn A", Org: name + " People's Committee"})
	tsa := root.Issue(t, Options{CN: name + " TSA", KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}})
	return &PKI{Root: root, Intermediate: inter, Signer: signer, TSA: tsa}
}

// TimestampToken returns an RFC 3161 TimeStampToken (DER ContentInfo)
// from tsa over message, stamped at the given time.
func TimestampToken(t testing.TB, tsa *Cert, message []byte, at time.Time) []byte {
	t.Helper()
	sum := sha256.Sum256(message)
	resp := timestampResponse(t, tsa, sum[:], at)
	ts, err := timestamp.ParseResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	return ts.RawToken
}

func timestampResponse(t testing.TB, tsa *Cert, sha256Sum []byte, at time.Time) []byte {
	t.Helper()
	ts := timestamp.Timestamp{
		HashAlgorithm:     crypto.SHA256,
		HashedMessage:     sha256Sum,
		Time:              at,
		Policy:            []int{1, 2, 3, 4, 1},
		AddTSACertificate: true,
		Certificates:      tsa.Parents,
	}
	resp, err := ts.CreateResponseWithOpts(tsa.Cert, tsa.Key, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TSAServer serves RFC 3161 over HTTP on loopback, signing with tsa at the
// time now() returns.
func TSAServer(t testing.TB, tsa *Cert, now func() time.Time) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req, err := timestamp.ParseRequest(body)
		if err != nil || req.HashAlgorithm != crypto.SHA256 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		ts := timestamp.Timestamp{
			HashAlgorithm: crypto.SHA256, HashedMessage: req.HashedMessage, Time: now(),
			Policy: []int{1, 2, 3, 4, 1}, AddTSACertificate: true, Certificates: tsa.Parents,
		}
		resp, err := ts.CreateResponseWithOpts(tsa.Cert, tsa.Key, crypto.SHA256)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	return srv
}
