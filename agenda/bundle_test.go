package agenda

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cau-bridge/cau/agenda/sigverify"
	"github.com/cau-bridge/cau/agenda/sigverify/sigtest"
)

func TestBundleVerifiesWithOpenSSL(t *testing.T) {
	openssl := requireOpenSSL(t)
	sha256sum, err := exec.LookPath("sha256sum")
	if err != nil {
		t.Fatalf("sha256sum (coreutils) is needed: %v", err)
	}
	pki := sigtest.NewPKI(t, "Ban Cơ yếu Test")
	contents := map[string][]byte{"a": testPDF(t), "b": []byte("\x89PNG\r\n\x1a\nảnh")}
	m := nowManifest(1, "")
	m.Items[0].Documents = nil
	for _, id := range []string{"a", "b"} {
		sum := sha256.Sum256(contents[id])
		sha := hex.EncodeToString(sum[:])
		m.Items[0].Documents = append(m.Items[0].Documents, ManifestDocument{
			ID: id, Title: "Tài liệu " + id, FileName: "Tờ trình " + id + ".pdf", Role: RoleDocument,
			MediaType: "application/pdf", Size: int64(len(contents[id])), SHA256: sha, Key: "blobs/sha256/" + sha,
		})
	}
	manifest := canonical(t, m)
	p7s, err := loadTestSealer(t, pki.Signer).Seal(manifest)
	if err != nil {
		t.Fatal(err)
	}
	res, err := VerifyManifestSignature(manifest, p7s, sigverify.Policy{Roots: pki.Root.Pool()})
	if err != nil || !res.Valid {
		t.Fatalf("seal invalid: %v %v", err, res)
	}

	build := func(corrupt bool) ([]byte, error) {
		docs := BundleDocuments(m)
		for i := range docs {
			id := m.Items[0].Documents[i].ID
			docs[i].Open = func(context.Context) (io.ReadCloser, error) {
				b := bytes.Clone(contents[id])
				if corrupt && id == "b" {
					b[len(b)-1] ^= 1
				}
				return io.NopCloser(bytes.NewReader(b)), nil
			}
		}
		b := &Bundle{Manifest: manifest, Signature: p7s, Version: 1, Signer: res.Signer,
			Organisation: res.Organisation, Method: "seal", SignedAt: res.SigningTime, Chain: res.Chain, Documents: docs}
		var out bytes.Buffer
		err := b.WriteZip(context.Background(), &out)
		return out.Bytes(), err
	}
	if _, err := build(true); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("corrupted document: WriteZip = %v, want ErrDigestMismatch", err)
	}
	zipped, err := build(false)
	if err != nil {
		t.Fatal(err)
	}
	dir := sigtest.Unzip(t, zipped)
	for _, name := range []string{"manifest.json", "manifest.p7s", "documents.sha256", "chain.pem", "roots.pem", "README.txt",
		"documents/01-01-Tờ trình a.pdf", "documents/01-02-Tờ trình b.pdf"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("bundle lacks %s", name)
		}
	}
	readme, _ := os.ReadFile(filepath.Join(dir, "README.txt"))
	if !strings.Contains(string(readme), "openssl cms -verify -binary -inform DER -in manifest.p7s -content manifest.json -CAfile roots.pem -purpose any") {
		t.Errorf("README lacks the openssl command:\n%s", readme)
	}
	run := func(name string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", "manifest.p7s",
		"-content", "manifest.json", "-CAfile", "roots.pem", "-purpose", "any", "-out", os.DevNull); err != nil {
		t.Fatalf("openssl refused the bundle: %v\n%s", err, out)
	}
	if out, err := run(sha256sum, "-c", "documents.sha256"); err != nil {
		t.Fatalf("sha256sum -c failed: %v\n%s", err, out)
	}
	out, err := run(openssl, "x509", "-in", "roots.pem", "-noout", "-fingerprint", "-sha256")
	if err != nil {
		t.Fatal(err)
	}
	fp := strings.TrimSpace(out[strings.Index(out, "=")+1:])
	if !strings.Contains(string(readme), fp) {
		t.Errorf("README's root fingerprint differs from openssl's %s", fp)
	}
	// Tampering with an extracted document is caught by sha256sum.
	if err := os.WriteFile(filepath.Join(dir, "documents/01-01-Tờ trình a.pdf"), []byte("%PDF-1.7 forged"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(sha256sum, "-c", "documents.sha256"); err == nil {
		t.Fatalf("sha256sum accepted a forged document:\n%s", out)
	}
}
