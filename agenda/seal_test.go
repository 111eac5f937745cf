package agenda

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cau-bridge/cau/agenda/sigverify"
	"github.com/cau-bridge/cau/agenda/sigverify/sigtest"
)

// writeSealFiles writes c's chain (leaf first, without the root) and key as
// PEM files and returns their paths.
func writeSealFiles(t *testing.T, c *sigtest.Cert) (certPath, keyPath string) {
	t.Helper()
	dir := t.TempDir()
	var certPEM []byte
	for _, x := range c.Chain() {
		if x.IsCA && bytes.Equal(x.RawIssuer, x.RawSubject) {
			continue // the root is the verifier's to have, not the signer's to send
		}
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: x.Raw})...)
	}
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "seal.pem"), filepath.Join(dir, "seal.key")
	if err := os.WriteFile(certPath, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

func loadTestSealer(t *testing.T, c *sigtest.Cert) *Sealer {
	t.Helper()
	s, err := LoadSealer(writeSealFiles(t, c))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func canonical(t *testing.T, m *Manifest) []byte {
	t.Helper()
	b, err := m.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nowManifest is sampleManifest published a minute ago.
func nowManifest(version int, previous string) *Manifest {
	m := sampleManifest(version, previous)
	m.PublishedAt = time.Now().UTC().Add(-time.Minute).Truncate(time.Second).Format(time.RFC3339)
	return m
}

func TestSealRoundTrip(t *testing.T) {
	pki := sigtest.NewPKI(t, "Ban Cơ yếu Test")
	for _, useEC := range []bool{false, true} {
		seal := pki.Intermediate.Issue(t, sigtest.Options{CN: "UBND tỉnh Lạng Sơn", Org: "Ủy ban nhân dân tỉnh Lạng Sơn", ECDSA: useEC})
		s := loadTestSealer(t, seal)
		manifest := canonical(t, nowManifest(1, ""))
		p7s, err := s.Seal(manifest)
		if err != nil {
			t.Fatal(err)
		}
		res, err := VerifyManifestSignature(manifest, p7s, sigverify.Policy{Roots: pki.Root.Pool()})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Valid {
			t.Fatalf("ecdsa=%v: seal does not verify: %v", useEC, res.Reasons)
		}
		if res.Signer != "UBND tỉnh Lạng Sơn" || res.Organisation != "Ủy ban nhân dân tỉnh Lạng Sơn" {
			t.Errorf("signer = %q / %q", res.Signer, res.Organisation)
		}
		if res.SigningTime == nil || time.Since(*res.SigningTime) > time.Minute {
			t.Errorf("signing time = %v, want about now", res.SigningTime)
		}
		if res.DigestAlgorithm != "SHA-256" && !strings.Contains(strings.ToUpper(res.DigestAlgorithm), "256") {
			t.Errorf("digest algorithm = %q, want SHA-256", res.DigestAlgorithm)
		}
		if got := len(s.Chain()); got != 2 {
			t.Errorf("sealer chain has %d certificates, want seal + intermediate", got)
		}
	}
}

func TestManifestSignatureRejected(t *testing.T) {
	pki := sigtest.NewPKI(t, "Ban Cơ yếu Test")
	policy := sigverify.Policy{Roots: pki.Root.Pool()}
	good := loadTestSealer(t, pki.Signer)

	v1 := canonical(t, nowManifest(1, ""))
	v2 := canonical(t, nowManifest(2, ManifestHash(v1)))
	sigV1, err := good.Seal(v1)
	if err != nil {
		t.Fatal(err)
	}
	// A tampered manifest that is still canonical JSON: one duration changed.
	tampered := bytes.Replace(v1, []byte(`"duration_min":30`), []byte(`"duration_min":90`), 1)
	if bytes.Equal(tampered, v1) {
		t.Fatal("tampering changed nothing")
	}

	untrusted := sigtest.NewPKI(t, "Unknown")
	expired := pki.Intermediate.Issue(t, sigtest.Options{CN: "Hết hạn", Org: "Sở cũ",
		NotBefore: time.Now().AddDate(-2, 0, 0), NotAfter: time.Now().AddDate(-1, 0, 0)})
	notYetPublished := nowManifest(1, "")
	notYetPublished.PublishedAt = time.Now().UTC().Add(time.Hour).Truncate(time.Second).Format(time.RFC3339)
	future := canonical(t, notYetPublished)

	sign := func(c *sigtest.Cert, content []byte) []byte {
		p7s, err := loadTestSealer(t, c).Seal(content)
		if err != nil {
			t.Fatal(err)
		}
		return p7s
	}
	tests := []struct {
		name      string
		manifest  []byte
		p7s       []byte
		wantWords string
	}{
		{"tampered manifest", tampered, sigV1, "digest"},
		{"signature over other bytes (v1 signature on v2)", v2, sigV1, "digest"},
		{"signer under an untrusted CA", v1, sign(untrusted.Signer, v1), "trusted root"},
		{"expired signer certificate", v1, sign(expired, v1), "not valid"},
		{"signed before publication", future, sign(pki.Signer, future), "before version 1 was published"},
	}
	for _, tt := range tests {
		res, err := VerifyManifestSignature(tt.manifest, tt.p7s, policy)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if res.Valid {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		if !strings.Contains(strings.ToLower(strings.Join(res.Reasons, "; ")), strings.ToLower(tt.wantWords)) {
			t.Errorf("%s: reasons %q do not mention %q", tt.name, res.Reasons, tt.wantWords)
		}
	}
	// The untouched pair still verifies, so the refusals above are the
	// mutations' doing.
	if res, err := VerifyManifestSignature(v1, sigV1, policy); err != nil || !res.Valid {
		t.Fatalf("good signature refused: %v %v", err, res)
	}
	if _, err := VerifyManifestSignature(v1, []byte("not a signature"), policy); err == nil {
		t.Error("garbage .p7s parsed")
	}
}

// TestOpenSSLVerifiesSeal checks the seal with an independent implementation,
// exactly as the bundle's README tells a reader to.
func TestOpenSSLVerifiesSeal(t *testing.T) {
	openssl := requireOpenSSL(t)
	pki := sigtest.NewPKI(t, "Ban Cơ yếu Test")
	for _, useEC := range []bool{false, true} {
		seal := pki.Intermediate.Issue(t, sigtest.Options{CN: "Con dấu", Org: "Văn phòng UBND", ECDSA: useEC})
		manifest := canonical(t, nowManifest(1, ""))
		p7s, err := loadTestSealer(t, seal).Seal(manifest)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		write := func(name string, b []byte) {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		write("manifest.json", manifest)
		write("manifest.p7s", p7s)
		write("roots.pem", pki.Root.PEM())
		write("tampered.json", bytes.Replace(manifest, []byte(`"duration_min":30`), []byte(`"duration_min":31`), 1))
		verify := func(content string) ([]byte, error) {
			cmd := exec.Command(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", "manifest.p7s",
				"-content", content, "-CAfile", "roots.pem", "-purpose", "any", "-out", os.DevNull)
			cmd.Dir = dir
			return cmd.CombinedOutput()
		}
		if out, err := verify("manifest.json"); err != nil {
			t.Fatalf("ecdsa=%v: openssl refused the seal: %v\n%s", useEC, err, out)
		}
		if out, err := verify("tampered.json"); err == nil {
			t.Fatalf("ecdsa=%v: openssl accepted a tampered manifest:\n%s", useEC, out)
		}
	}
}

func requireOpenSSL(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl is needed to check signatures independently (apt-get install openssl): %v", err)
	}
	return p
}

func TestNewSealerRefuses(t *testing.T) {
	pki := sigtest.NewPKI(t, "Test")
	certPEM := func(cs ...*x509.Certificate) []byte {
		var b []byte
		for _, c := range cs {
			b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
		return b
	}
	keyPEM := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	signer, inter := pki.Signer.Cert, pki.Intermediate.Cert
	tests := map[string]struct{ cert, key []byte }{
		"key of another certificate": {certPEM(signer, inter), keyPEM(pki.Intermediate.Key)},
		"chain in the wrong order":   {certPEM(inter, signer), keyPEM(pki.Intermediate.Key)},
		"RSA-1024 key":               {certPEM(signer), keyPEM(weak)},
		"no certificate":             {nil, keyPEM(pki.Signer.Key)},
		"no key":                     {certPEM(signer), []byte("nothing")},
	}
	for name, tt := range tests {
		if _, err := NewSealer(tt.cert, tt.key); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// PKCS #1 and SEC 1 keys are accepted as well as PKCS #8.
	rsaKey := pki.Signer.Key.(*rsa.PrivateKey)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})
	if _, err := NewSealer(certPEM(signer, inter), pkcs1); err != nil {
		t.Errorf("PKCS #1 key refused: %v", err)
	}
	ec := pki.Intermediate.Issue(t, sigtest.Options{CN: "EC", ECDSA: true})
	sec1, err := x509.MarshalECPrivateKey(ec.Key.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSealer(certPEM(ec.Cert, inter), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})); err != nil {
		t.Errorf("SEC 1 key refused: %v", err)
	}
}
