package sigverify_test

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"

	"github.com/cau-bridge/cau/agenda/sigverify"
	"github.com/cau-bridge/cau/agenda/sigverify/sigtest"
)

var content = []byte("Biên bản cuộc họp — agenda item 3, signed.\n")

// signOpts varies how sign builds a CMS.
type signOpts struct {
	digest    asn1.ObjectIdentifier // default SHA-256
	noAttrs   bool
	firstCert *x509.Certificate // embedded before the signer's chain
	tsa       *sigtest.Cert     // adds an RFC 3161 token at tsaTime
	tsaTime   time.Time
	tsaOver   []byte // token imprints this instead of the signature value
}

// sign makes a detached CMS with smallstep/pkcs7 over data by c, embedding
// c's chain (including the root).
func sign(t *testing.T, c *sigtest.Cert, data []byte, o signOpts) []byte {
	t.Helper()
	sd, err := pkcs7.NewSignedData(data)
	if err != nil {
		t.Fatal(err)
	}
	if o.digest == nil {
		o.digest = pkcs7.OIDDigestAlgorithmSHA256
	}
	sd.SetDigestAlgorithm(o.digest)
	if o.firstCert != nil {
		sd.AddCertificate(o.firstCert)
	}
	if o.noAttrs {
		err = sd.SignWithoutAttr(c.Cert, c.Key, pkcs7.SignerInfoConfig{})
		for _, p := range c.Parents {
			sd.AddCertificate(p)
		}
	} else {
		err = sd.AddSignerChain(c.Cert, c.Key, c.Parents, pkcs7.SignerInfoConfig{})
	}
	if err != nil {
		t.Fatal(err)
	}
	sd.Detach()
	if o.tsa != nil {
		si := &sd.GetSignedData().SignerInfos[0]
		over := si.EncryptedDigest
		if o.tsaOver != nil {
			over = o.tsaOver
		}
		tok := sigtest.TimestampToken(t, o.tsa, over, o.tsaTime)
		if err := si.SetUnauthenticatedAttributes([]pkcs7.Attribute{{
			Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}, Value: asn1.RawValue{FullBytes: tok},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	der, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func wantValid(t *testing.T, r *sigverify.Result) {
	t.Helper()
	if !r.Valid || len(r.Reasons) != 0 {
		t.Fatalf("want valid, got invalid: %q", r.Reasons)
	}
	if !r.DigestOK || !r.SignatureOK || !r.ChainOK || !r.ValidAtSigningTime || !r.KeyUsageOK || !r.AlgorithmsOK {
		t.Fatalf("valid result with a failed check: %+v", r)
	}
}

func wantInvalid(t *testing.T, r *sigverify.Result, reason string) {
	t.Helper()
	if r.Valid {
		t.Fatalf("want invalid (%s), got valid", reason)
	}
	for _, got := range r.Reasons {
		if strings.Contains(got, reason) {
			return
		}
	}
	t.Fatalf("want a reason containing %q, got %q", reason, r.Reasons)
}

func TestVerifyGood(t *testing.T) {
	pki := sigtest.NewPKI(t, "Good")
	p := sigverify.Policy{Roots: pki.Root.Pool()}
	r, err := sigverify.VerifyDetached(content, sign(t, pki.Signer, content, signOpts{}), p)
	if err != nil {
		t.Fatal(err)
	}
	wantValid(t, r)
	if r.Signer != "Nguyễn Văn A" || r.Organisation != "Good People's Committee" {
		t.Errorf("signer = %q / %q", r.Signer, r.Organisation)
	}
	if r.SigningTime == nil || time.Since(*r.SigningTime) > time.Minute || r.TimeSource != sigverify.TimeSourceSigningTime {
		t.Errorf("signing time %v from %s", r.SigningTime, r.TimeSource)
	}
	if r.DigestAlgorithm != "SHA-256" || len(r.Chain) != 3 || !r.Certificate.Equal(pki.Signer.Cert) {
		t.Errorf("digest %s, chain length %d", r.DigestAlgorithm, len(r.Chain))
	}
}

func TestVerifyCases(t *testing.T) {
	pki := sigtest.NewPKI(t, "Province")
	roots := pki.Root.Pool()
	now := time.Now()
	ecdsaSigner := pki.Intermediate.Issue(t, sigtest.Options{CN: "ECDSA signer", ECDSA: true})
	// A CA outside the trust store that copies the trusted root's name.
	impostor := sigtest.NewRoot(t, "Province Root CA")
	impostorSigner := impostor.Issue(t, sigtest.Options{CN: "Nguyễn Văn A", Org: "Province People's Committee"})
	expired := pki.Intermediate.Issue(t, sigtest.Options{CN: "Expired", NotBefore: now.AddDate(-3, 0, 0), NotAfter: now.AddDate(-1, 0, 0)})
	encipherOnly := pki.Intermediate.Issue(t, sigtest.Options{CN: "Encipher", KeyUsage: x509.KeyUsageKeyEncipherment})
	tlsOnly := pki.Intermediate.Issue(t, sigtest.Options{CN: "TLS", KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	personal := pki.Intermediate.Issue(t, sigtest.Options{CN: "Personal", ExtKeyUsage: []x509.ExtKeyUsage{
		x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection}})
	rsa1024 := pki.Intermediate.Issue(t, sigtest.Options{CN: "Small key", RSABits: 1024})
	other := pki.Intermediate.Issue(t, sigtest.Options{CN: "Trần Thị B", Org: "Other Department"})
	shortLived := pki.Intermediate.Issue(t, sigtest.Options{CN: "Short", NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0)})

	// A forgery: Mallory signs, but the SignerIdentifier names the genuine
	// signer, and Mallory's certificate is embedded first.
	forged := func() []byte {
		sd, err := pkcs7.NewSignedData(content)
		if err != nil {
			t.Fatal(err)
		}
		sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
		if err := sd.AddSignerChain(other.Cert, other.Key, other.Parents, pkcs7.SignerInfoConfig{}); err != nil {
			t.Fatal(err)
		}
		sd.AddCertificate(pki.Signer.Cert)
		ias := &sd.GetSignedData().SignerInfos[0].IssuerAndSerialNumber
		ias.SerialNumber = pki.Signer.Cert.SerialNumber
		sd.Detach()
		der, err := sd.Finish()
		if err != nil {
			t.Fatal(err)
		}
		return der
	}()

	later := func() time.Time { return now.AddDate(5, 0, 0) }
	tests := []struct {
		name    string
		p7s     []byte
		content []byte
		policy  sigverify.Policy
		reason  string // empty: valid
		check   func(t *testing.T, r *sigverify.Result)
	}{
		{name: "ecdsa p-256", p7s: sign(t, ecdsaSigner, content, signOpts{})},
		{name: "sha-384", p7s: sign(t, pki.Signer, content, signOpts{digest: pkcs7.OIDDigestAlgorithmSHA384})},
		{name: "no signed attributes", p7s: sign(t, pki.Signer, content, signOpts{noAttrs: true}),
			check: func(t *testing.T, r *sigverify.Result) {
				if r.SigningTime != nil || r.TimeSource != sigverify.TimeSourceNow {
					t.Errorf("time source %s", r.TimeSource)
				}
			}},
		{name: "tampered content", p7s: sign(t, pki.Signer, content, signOpts{}),
			content: append(bytes.Clone(content), '!'), reason: "message digest does not match"},
		{name: "tampered content without attributes", p7s: sign(t, pki.Signer, content, signOpts{noAttrs: true}),
			content: []byte("other"), reason: "signature does not verify"},
		{name: "untrusted CA with trusted root embedded", p7s: sign(t, impostorSigner, content, signOpts{firstCert: pki.Root.Cert}),
			reason: "does not chain to a trusted root"},
		{name: "no roots configured", p7s: sign(t, pki.Signer, content, signOpts{}), policy: sigverify.Policy{},
			reason: "no trusted roots"},
		{name: "expired at signing time", p7s: sign(t, expired, content, signOpts{}), reason: "was not valid at"},
		{name: "expired now but valid when signed", p7s: sign(t, shortLived, content, signOpts{}),
			policy: sigverify.Policy{Roots: roots, Now: later}},
		{name: "key encipherment only", p7s: sign(t, encipherOnly, content, signOpts{}), reason: "key usage allows neither"},
		{name: "server auth only", p7s: sign(t, tlsOnly, content, signOpts{}), reason: "extended key usage does not permit"},
		{name: "client auth and email protection", p7s: sign(t, personal, content, signOpts{})},
		{name: "sha-1", p7s: sign(t, pki.Signer, content, signOpts{digest: pkcs7.OIDDigestAlgorithmSHA1}), reason: "SHA-1"},
		{name: "rsa-1024", p7s: sign(t, rsa1024, content, signOpts{}), reason: "RSA key of 1024 bits"},
		{name: "other trusted cert embedded first", p7s: sign(t, pki.Signer, content, signOpts{firstCert: other.Cert}),
			check: func(t *testing.T, r *sigverify.Result) {
				if r.Signer != "Nguyễn Văn A" {
					t.Errorf("signer %q: the first embedded certificate was taken for the signer", r.Signer)
				}
			}},
		{name: "signer identifier substitution", p7s: forged, reason: "signature does not verify with the signer's certificate"},
		{name: "timestamp", p7s: sign(t, shortLived, content, signOpts{tsa: pki.TSA, tsaTime: now}),
			policy: sigverify.Policy{Roots: roots, Now: later},
			check: func(t *testing.T, r *sigverify.Result) {
				if r.TimeSource != sigverify.TimeSourceTimestamp || r.TimestampOK == nil || !*r.TimestampOK ||
					r.TimestampTime == nil || r.TimestampTime.Sub(now).Abs() > time.Second {
					t.Errorf("timestamp not used: %s %v", r.TimeSource, r.TimestampTime)
				}
			}},
		{name: "timestamp over other bytes", p7s: sign(t, pki.Signer, content, signOpts{tsa: pki.TSA, tsaTime: now, tsaOver: []byte("x")}),
			reason: "message imprint does not match"},
		{name: "timestamp after expiry", p7s: sign(t, shortLived, content, signOpts{tsa: pki.TSA, tsaTime: now.AddDate(2, 0, 0)}),
			policy: sigverify.Policy{Roots: roots, Now: later}, reason: "was not valid at"},
		{name: "timestamp from untrusted TSA", p7s: sign(t, pki.Signer, content, signOpts{tsa: impostor.Issue(t, sigtest.Options{
			CN: "Rogue TSA", ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}), tsaTime: now}),
			reason: "timestamp: TSA certificate does not chain"},
		{name: "timestamp by a non-TSA certificate", p7s: sign(t, pki.Signer, content, signOpts{tsa: other, tsaTime: now}),
			reason: "timestamp: TSA certificate lacks the timeStamping"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.policy
			if p.Roots == nil && tc.reason != "no trusted roots" {
				p.Roots = roots
			}
			c := tc.content
			if c == nil {
				c = content
			}
			r, err := sigverify.VerifyDetached(c, tc.p7s, p)
			if err != nil {
				t.Fatal(err)
			}
			if tc.reason == "" {
				wantValid(t, r)
			} else {
				wantInvalid(t, r, tc.reason)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	pki := sigtest.NewPKI(t, "M")
	good := sign(t, pki.Signer, content, signOpts{})
	for name, p7s := range map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("not a signature"),
		"truncated": good[:len(good)/2],
		"trailing":  append(bytes.Clone(good), 'x'),
	} {
		if _, err := sigverify.VerifyDetached(content, p7s, sigverify.Policy{Roots: pki.Root.Pool()}); !errors.Is(err, sigverify.ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	// Zero padding, as in a PDF /Contents string, is accepted.
	r, err := sigverify.VerifyDetached(content, append(bytes.Clone(good), 0, 0, 0), sigverify.Policy{Roots: pki.Root.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	wantValid(t, r)
}

func TestLoadRoots(t *testing.T) {
	a, b := sigtest.NewRoot(t, "A"), sigtest.NewRoot(t, "B")
	pool, err := sigverify.LoadRoots(sigtest.WriteRootsDir(t, a, b))
	if err != nil {
		t.Fatal(err)
	}
	if !pool.Equal(func() *x509.CertPool { p := a.Pool(); p.AddCert(b.Cert); return p }()) {
		t.Error("pool does not hold exactly the two roots")
	}
	if _, err := sigverify.LoadRoots(t.TempDir()); !errors.Is(err, sigverify.ErrNoRoots) {
		t.Errorf("empty dir: err = %v", err)
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "x.pem"), []byte("junk"), 0o600)
	if _, err := sigverify.LoadRoots(bad); err == nil {
		t.Error("a .pem without a certificate was accepted")
	}
}

// TestOpenSSL checks CMS made by another implementation: openssl cms.
func TestOpenSSL(t *testing.T) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl is needed for this test: %v", err)
	}
	pki := sigtest.NewPKI(t, "OpenSSL")
	dir := t.TempDir()
	write := func(name string, blocks ...*pem.Block) string {
		var buf bytes.Buffer
		for _, b := range blocks {
			pem.Encode(&buf, b)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(pki.Signer.Key)
	if err != nil {
		t.Fatal(err)
	}
	certFile := write("signer.pem", &pem.Block{Type: "CERTIFICATE", Bytes: pki.Signer.Cert.Raw})
	keyFile := write("signer.key", &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	chainFile := write("chain.pem", &pem.Block{Type: "CERTIFICATE", Bytes: pki.Intermediate.Cert.Raw})
	contentFile := filepath.Join(dir, "doc.txt")
	os.WriteFile(contentFile, content, 0o600)

	for _, tc := range []struct {
		name   string
		extra  []string
		alg    string
		reason string // want invalid with this reason
	}{
		{"pkcs1v15 sha256", []string{"-md", "sha256"}, "RSA-PKCS1v15", ""},
		{"pss sha256", []string{"-md", "sha256", "-keyopt", "rsa_padding_mode:pss"}, "RSA-PSS", ""},
		{"sha512", []string{"-md", "sha512"}, "RSA-PKCS1v15", ""},
		// -stream writes BER with indefinite lengths, and always embeds the
		// content: parsed fine, then refused as not detached.
		{"ber indefinite lengths", []string{"-md", "sha256", "-stream"}, "", "carries its own content"},
		{"sha1", []string{"-md", "sha1"}, "", "SHA-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".p7s")
			args := append([]string{"cms", "-sign", "-binary", "-outform", "DER", "-in", contentFile,
				"-signer", certFile, "-inkey", keyFile, "-certfile", chainFile, "-out", out}, tc.extra...)
			if msg, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
				t.Fatalf("openssl %v: %v\n%s", args, err, msg)
			}
			p7s, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(tc.name, "ber") && !bytes.HasPrefix(p7s, []byte{0x30, 0x80}) {
				t.Fatalf("openssl -stream did not write BER (starts % x)", p7s[:4])
			}
			p := sigverify.Policy{Roots: pki.Root.Pool()}
			r, err := sigverify.VerifyDetached(content, p7s, p)
			if err != nil {
				t.Fatal(err)
			}
			if tc.reason != "" {
				wantInvalid(t, r, tc.reason)
				if len(r.Reasons) != 1 {
					t.Errorf("want only %q, got %q", tc.reason, r.Reasons)
				}
				return
			}
			wantValid(t, r)
			if r.SignatureAlgorithm != tc.alg {
				t.Errorf("algorithm %s, want %s", r.SignatureAlgorithm, tc.alg)
			}
			r, _ = sigverify.VerifyDetached([]byte("Biên bản cuộc họp — agenda item 4, signed.\n"), p7s, p)
			wantInvalid(t, r, "message digest")
			r, _ = sigverify.VerifyDetached(content, p7s, sigverify.Policy{Roots: sigtest.NewRoot(t, "Other").Pool()})
			wantInvalid(t, r, "does not chain")
		})
	}
}
