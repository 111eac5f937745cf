package web

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smallstep/pkcs7"

	"github.com/cau-bridge/cau/agenda"
	"github.com/cau-bridge/cau/agenda/sigverify/sigtest"
	"github.com/cau-bridge/cau/registry"
)

// signDetached makes an official's detached CMS signature as their own
// tool would (DER, SHA-256, signer certificate and issuer embedded).
func signDetached(t *testing.T, c *sigtest.Cert, content []byte) []byte {
	t.Helper()
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		t.Fatal(err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSignerChain(c.Cert, c.Key, c.Parents[:1], pkcs7.SignerInfoConfig{}); err != nil {
		t.Fatal(err)
	}
	sd.Detach()
	der, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestAgendaPublishSealBundle(t *testing.T) {
	e := newAgendaEnv(t, 1<<20)
	sec, chair, viewer := e.token(registry.Secretary, ""), e.token(registry.Chair, ""), e.token(registry.Viewer, "")

	var item agenda.Item
	e.jsonDo("POST", "/agenda/items", sec, map[string]any{"title": "Báo cáo kinh tế - xã hội", "presenter": "Sở KH&ĐT", "duration_min": 30}, 201, &item)
	d := e.uploadPDF(sec, "Báo cáo 6 tháng.pdf")
	e.jsonDo("PUT", "/agenda/items/"+item.ID+"/documents", sec, map[string]any{"documents": []string{d.ID}}, 200, nil)
	if res, _ := e.do("POST", "/agenda/publish", viewer, nil, nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("viewer publishes: %d", res.StatusCode)
	}
	var v1 agenda.Version
	e.jsonDo("POST", "/agenda/publish", sec, nil, 201, &v1)
	if v1.Version != 1 || v1.Previous != "" || v1.Signature.State != agenda.VersionUnsigned ||
		v1.ManifestKey != "meetings/"+e.meeting+"/agenda/v1/manifest.json" {
		t.Fatalf("v1: %+v", v1)
	}
	// The manifest is at its key, byte for byte what GET returns.
	res, manifest := e.do("GET", "/agenda/versions/1/manifest.json", viewer, nil, nil)
	if res.StatusCode != 200 {
		t.Fatalf("manifest: %d %s", res.StatusCode, manifest)
	}
	onDisk, err := os.ReadFile(filepath.Join(e.storeDir, "objects", "meetings", e.meeting, "agenda", "v1", "manifest.json"))
	if err != nil || !bytes.Equal(onDisk, manifest) {
		t.Fatalf("stored manifest differs from the served one: %v", err)
	}
	if agenda.ManifestHash(manifest) != v1.ManifestSHA256 {
		t.Fatal("manifest hash differs from the version's")
	}
	m, err := agenda.ParseManifest(manifest)
	if err != nil || m.Items[0].Documents[0].SHA256 != d.SHA256 || m.Meeting != e.meeting {
		t.Fatalf("manifest content: %v %+v", err, m)
	}
	// Publishing again without a change is refused.
	if res, b := e.do("POST", "/agenda/publish", sec, nil, nil); res.StatusCode != 409 {
		t.Errorf("unchanged publish: %d %s", res.StatusCode, b)
	}
	// No bundle before a signature.
	if res, _ := e.do("GET", "/agenda/versions/1/bundle", viewer, nil, nil); res.StatusCode != 409 {
		t.Errorf("bundle of an unsigned version: %d", res.StatusCode)
	}

	// The seal: a viewer may not, the chair may, once.
	if res, _ := e.do("POST", "/agenda/versions/1/seal", viewer, nil, nil); res.StatusCode != 403 {
		t.Errorf("viewer seals: %d", res.StatusCode)
	}
	var sealed agenda.Version
	e.jsonDo("POST", "/agenda/versions/1/seal", chair, nil, 200, &sealed)
	if sealed.Signature.State != agenda.VersionSigned || sealed.Signature.Method != agenda.MethodSeal ||
		sealed.Signature.Signer != "Văn phòng UBND tỉnh Lạng Sơn" || sealed.Signature.Organisation != "UBND tỉnh Lạng Sơn" {
		t.Fatalf("sealed: %+v", sealed.Signature)
	}
	if res, _ := e.do("POST", "/agenda/versions/1/seal", chair, nil, nil); res.StatusCode != 409 {
		t.Errorf("second seal: %d", res.StatusCode)
	}

	// The bundle, with documents, re-checked by openssl and sha256sum.
	res, zipped := e.do("GET", "/agenda/versions/1/bundle?documents=1", viewer, nil, nil)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("bundle: %d %s", res.StatusCode, zipped)
	}
	dir := sigtest.Unzip(t, zipped)
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	run("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "manifest.p7s", "-content", "manifest.json",
		"-CAfile", "roots.pem", "-purpose", "any", "-out", os.DevNull)
	run("sha256sum", "-c", "documents.sha256")
	if b, _ := os.ReadFile(filepath.Join(dir, "manifest.json")); !bytes.Equal(b, manifest) {
		t.Error("bundle's manifest differs")
	}

	// Version 2: any change makes a new, unsigned version chained to v1.
	e.jsonDo("PUT", "/agenda/items/"+item.ID, sec, map[string]any{"title": "Báo cáo kinh tế - xã hội (sửa đổi)", "duration_min": 40}, 200, nil)
	var v2 agenda.Version
	e.jsonDo("POST", "/agenda/publish", sec, nil, 201, &v2)
	if v2.Version != 2 || v2.Previous != v1.ManifestSHA256 || v2.Signature.State != agenda.VersionUnsigned {
		t.Fatalf("v2: %+v", v2)
	}
	_, manifest2 := e.do("GET", "/agenda/versions/2/manifest.json", viewer, nil, nil)

	// An official signs with their own tool and uploads the .p7s.
	untrusted := sigtest.NewPKI(t, "Không tin cậy")
	bad := []struct {
		name string
		p7s  []byte
	}{
		{"signature over v1's bytes", signDetached(t, e.pki.Signer, manifest)},
		{"signature by an untrusted CA", signDetached(t, untrusted.Signer, manifest2)},
		{"not a signature", []byte("hello")},
	}
	for _, b := range bad {
		res, body := e.do("PUT", "/agenda/versions/2/signature", chair, bytes.NewReader(b.p7s), nil)
		if res.StatusCode != 422 && res.StatusCode != 400 {
			t.Errorf("%s: %d %s", b.name, res.StatusCode, body)
		}
	}
	if res, body := e.do("PUT", "/agenda/versions/2/signature", chair, bytes.NewReader(signDetached(t, e.pki.Signer, manifest)), nil); res.StatusCode != 422 || errorCode(t, body) != "signature_invalid" {
		t.Errorf("wrong-bytes signature: %d %s", res.StatusCode, body)
	}
	// PEM, as openssl writes without -outform DER, is accepted.
	good := pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: signDetached(t, e.pki.Signer, manifest2)})
	var signed agenda.Version
	res, body := e.do("PUT", "/agenda/versions/2/signature", chair, bytes.NewReader(good), nil)
	if res.StatusCode != 200 {
		t.Fatalf("good signature: %d %s", res.StatusCode, body)
	}
	if err := json.Unmarshal(body, &signed); err != nil || signed.Signature.Signer != "Nguyễn Văn A" || signed.Signature.Method != agenda.MethodUpload {
		t.Fatalf("signed v2: %v %+v", err, signed.Signature)
	}
	res, p7s := e.do("GET", "/agenda/versions/2/manifest.p7s", viewer, nil, nil)
	if res.StatusCode != 200 || !bytes.Equal(p7s, signDER(t, good)) {
		t.Errorf("stored .p7s: %d", res.StatusCode)
	}
	var versions []agenda.Version
	e.jsonDo("GET", "/agenda/versions", viewer, nil, 200, &versions)
	if len(versions) != 2 || versions[0].Signature.State != "signed" || versions[1].Signature.Signer != "Nguyễn Văn A" {
		t.Errorf("versions: %+v", versions)
	}
}

func signDER(t *testing.T, pemBytes []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(pemBytes)
	return b.Bytes
}

