package pdfsig_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/pdf"
	"github.com/digitorus/pdfsign/sign"
	"github.com/go-pdf/fpdf"
	"github.com/smallstep/pkcs7"

	"github.com/cau-bridge/cau/agenda/pdfsig"
	"github.com/cau-bridge/cau/agenda/sigverify"
	"github.com/cau-bridge/cau/agenda/sigverify/sigtest"
)

// basePDF is a one-page, uncompressed document made with fpdf.
func basePDF(t testing.TB) []byte {
	t.Helper()
	doc := fpdf.New("P", "mm", "A4", "")
	doc.SetCompression(false)
	doc.AddPage()
	doc.SetFont("Helvetica", "", 14)
	doc.Cell(40, 10, "Hello from the People's Committee")
	var buf bytes.Buffer
	if err := doc.Output(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pdfOpts vary how signPDF signs.
type pdfOpts struct {
	digest crypto.Hash         // default SHA-256
	extra  []*x509.Certificate // embedded after the signer's own chain
	tsaURL string
}

// signPDF signs in with c using github.com/digitorus/pdfsign, embedding c's
// chain (root included) as most signing tools do.
func signPDF(t testing.TB, in []byte, c *sigtest.Cert, o pdfOpts) []byte {
	t.Helper()
	rdr, err := pdf.NewReader(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	if o.digest == 0 {
		o.digest = crypto.SHA256
	}
	chain := c.Chain()
	var out bytes.Buffer
	err = sign.Sign(bytes.NewReader(in), &out, rdr, int64(len(in)), sign.SignData{
		Signature: sign.SignDataSignature{
			CertType: sign.ApprovalSignature,
			Info:     sign.SignDataSignatureInfo{Name: c.Cert.Subject.CommonName, Reason: "Approved", Date: time.Now()},
		},
		Signer:            c.Key,
		DigestAlgorithm:   o.digest,
		Certificate:       c.Cert,
		CertificateChains: [][]*x509.Certificate{chain},
		TSA:               sign.TSA{URL: o.tsaURL},
	})
	if err != nil {
		t.Fatalf("pdfsign: %v", err)
	}
	return out.Bytes()
}

// resign replaces the CMS in the (only) signature of file with one made by
// c over the same byte range, embedding c's chain and then extra.
func resign(t testing.TB, file []byte, c *sigtest.Cert, extra ...*x509.Certificate) []byte {
	t.Helper()
	m := regexp.MustCompile(`/ByteRange \[(\d+) (\d+) (\d+) (\d+)\]`).FindSubmatch(file)
	if m == nil {
		t.Fatal("no /ByteRange")
	}
	var br [4]int
	for i := range br {
		br[i], _ = strconv.Atoi(string(m[i+1]))
	}
	content := append(bytes.Clone(file[:br[1]]), file[br[2]:br[2]+br[3]]...)
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		t.Fatal(err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSignerChain(c.Cert, c.Key, c.Parents, pkcs7.SignerInfoConfig{}); err != nil {
		t.Fatal(err)
	}
	for _, e := range extra {
		sd.AddCertificate(e)
	}
	sd.Detach()
	der, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	h := hex.EncodeToString(der)
	room := br[2] - br[1] - 2
	if len(h) > room {
		t.Fatalf("CMS of %d hex digits does not fit in %d", len(h), room)
	}
	out := bytes.Clone(file)
	copy(out[br[1]+1:], h+strings.Repeat("0", room-len(h)))
	return out
}

func verify(t testing.TB, file []byte, p sigverify.Policy) *pdfsig.Report {
	t.Helper()
	rep, err := pdfsig.Verify(bytes.NewReader(file), int64(len(file)), pdfsig.Options{Policy: p})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}
