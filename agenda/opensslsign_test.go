package agenda

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cau-bridge/cau/agenda/sigverify"
	"github.com/cau-bridge/cau/agenda/sigverify/sigtest"
)

// TestOpenSSLSignatureAccepted signs a manifest exactly as docs/AGENDA.md
// tells an official to (openssl cms -sign -binary ... -outform DER) and
// checks that Cầu accepts it, in DER and in PEM form.
func TestOpenSSLSignatureAccepted(t *testing.T) {
	openssl := requireOpenSSL(t)
	pki := sigtest.NewPKI(t, "Ban Cơ yếu Test")
	dir := t.TempDir()
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	key, err := x509.MarshalPKCS8PrivateKey(pki.Signer.Key)
	if err != nil {
		t.Fatal(err)
	}
	write("me.pem", pki.Signer.PEM())
	write("me.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}))
	write("issuing-ca.pem", pki.Intermediate.PEM())
	m := nowManifest(1, "")
	manifest := canonical(t, m)
	write("manifest.json", manifest)
	cmd := exec.Command(openssl, "cms", "-sign", "-binary", "-in", "manifest.json", "-signer", "me.pem", "-inkey", "me.key",
		"-certfile", "issuing-ca.pem", "-md", "sha256", "-outform", "DER", "-out", "manifest.p7s")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl cms -sign: %v\n%s", err, out)
	}
	p7s, err := os.ReadFile(filepath.Join(dir, "manifest.p7s"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := VerifyManifestSignature(manifest, p7s, sigverify.Policy{Roots: pki.Root.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Valid || res.Signer != "Nguyễn Văn A" {
		t.Fatalf("openssl's signature refused: %v (signer %q)", res.Reasons, res.Signer)
	}
	if _, err := signatureDER(pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: p7s})); err != nil {
		t.Errorf("PEM form refused: %v", err)
	}
}
