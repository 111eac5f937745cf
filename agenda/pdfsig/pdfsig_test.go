package pdfsig_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cau-bridge/cau/agenda/pdfsig"
	"github.com/cau-bridge/cau/agenda/sigverify"
	"github.com/cau-bridge/cau/agenda/sigverify/sigtest"
)

func wantReason(t *testing.T, s pdfsig.Signature, reason string) {
	t.Helper()
	if s.Valid {
		t.Fatalf("signature valid, want invalid with %q", reason)
	}
	for _, r := range s.Reasons {
		if strings.Contains(r, reason) {
			return
		}
	}
	t.Fatalf("reasons %q lack %q", s.Reasons, reason)
}

func TestGoodSignature(t *testing.T) {
	pki := sigtest.NewPKI(t, "Good")
	base := basePDF(t)
	signed := signPDF(t, base, pki.Signer, pdfOpts{})
	rep := verify(t, signed, sigverify.Policy{Roots: pki.Root.Pool()})
	if !rep.Valid || !rep.Signed || len(rep.Signatures) != 1 {
		t.Fatalf("report %+v", rep)
	}
	s := rep.Signatures[0]
	if !s.Valid || !s.CoversWholeFile || s.LaterRevisions != 0 || s.Revision != 2 || rep.Revisions != 2 {
		t.Fatalf("signature %+v reasons %q", s, s.Reasons)
	}
	if s.Signer != "Nguyễn Văn A" || s.SigningTime == nil || s.SubFilter != "adbe.pkcs7.detached" || s.Field == "" {
		t.Errorf("signer %q time %v subfilter %q field %q", s.Signer, s.SigningTime, s.SubFilter, s.Field)
	}
	if s.ByteRange[0] != 0 || s.ByteRange[2]+s.ByteRange[3] != int64(len(signed)) {
		t.Errorf("byte range %v, size %d", s.ByteRange, len(signed))
	}
}

func TestRejections(t *testing.T) {
	pki := sigtest.NewPKI(t, "Province")
	roots := sigverify.Policy{Roots: pki.Root.Pool()}
	base := basePDF(t)
	now := time.Now()
	impostor := sigtest.NewRoot(t, "Province Root CA")
	impostorSigner := impostor.Issue(t, sigtest.Options{CN: "Nguyễn Văn A"})
	good := signPDF(t, base, pki.Signer, pdfOpts{})

	tamper := func(file []byte, old, new string) []byte {
		i := bytes.Index(file, []byte(old))
		if i < 0 || len(old) != len(new) {
			t.Fatalf("cannot tamper %q", old)
		}
		out := bytes.Clone(file)
		copy(out[i:], new)
		return out
	}
	// rewriteRange replaces the signature's /ByteRange keeping the file length.
	rewriteRange := func(file []byte, f func(br []int64) []int64) []byte {
		re := regexp.MustCompile(`/ByteRange \[(\d+) (\d+) (\d+) (\d+)\] *`)
		m := re.FindSubmatchIndex(file)
		if m == nil {
			t.Fatal("no /ByteRange")
		}
		var br []int64
		for i := 1; i <= 4; i++ {
			n, _ := strconv.ParseInt(string(file[m[2*i]:m[2*i+1]]), 10, 64)
			br = append(br, n)
		}
		br = f(br)
		repl := fmt.Sprintf("/ByteRange [%d %d %d %d]", br[0], br[1], br[2], br[3])
		repl += strings.Repeat(" ", m[1]-m[0]-len(repl))
		out := bytes.Clone(file)
		copy(out[m[0]:m[1]], repl)
		return out
	}

	tests := []struct {
		name   string
		file   []byte
		reason string
	}{
		{"one byte changed in the signed range", tamper(good, "Hello from", "Jello from"), "message digest does not match"},
		{"untrusted CA, trusted root embedded", resign(t, good, impostorSigner, pki.Root.Cert),
			"does not chain to a trusted root"},
		{"expired at signing time", signPDF(t, base, pki.Intermediate.Issue(t, sigtest.Options{CN: "Old",
			NotBefore: now.AddDate(-4, 0, 0), NotAfter: now.AddDate(-1, 0, 0)}), pdfOpts{}), "was not valid at"},
		{"key encipherment only", signPDF(t, base, pki.Intermediate.Issue(t, sigtest.Options{CN: "Enc",
			KeyUsage: x509.KeyUsageKeyEncipherment}), pdfOpts{}), "key usage allows neither"},
		{"server auth only", signPDF(t, base, pki.Intermediate.Issue(t, sigtest.Options{CN: "TLS",
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}), pdfOpts{}),
			"extended key usage does not permit"},
		{"sha-1", signPDF(t, base, pki.Signer, pdfOpts{digest: crypto.SHA1}), "SHA-1"},
		{"rsa-1024", signPDF(t, base, pki.Intermediate.Issue(t, sigtest.Options{CN: "Small", RSABits: 1024}), pdfOpts{}),
			"RSA key of 1024 bits"},
		{"range stops short of the revision", rewriteRange(good, func(br []int64) []int64 { br[3] -= 10; return br }),
			"not at the end of a revision"},
		{"gap wider than /Contents", rewriteRange(good, func(br []int64) []int64 { br[1] -= 5; return br }),
			"is not exactly the /Contents string"},
		{"range past the end", rewriteRange(good, func(br []int64) []int64 { br[3] += 100; return br }),
			"past the end of the file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := verify(t, tc.file, roots)
			if rep.Valid || len(rep.Signatures) != 1 {
				t.Fatalf("report valid=%v with %d signatures", rep.Valid, len(rep.Signatures))
			}
			wantReason(t, rep.Signatures[0], tc.reason)
		})
	}

	t.Run("root not configured", func(t *testing.T) {
		rep := verify(t, good, sigverify.Policy{Roots: sigtest.NewRoot(t, "Elsewhere").Pool()})
		wantReason(t, rep.Signatures[0], "does not chain")
	})
}

// update is a minimal incremental update: one changed object, a trailer
// and %%EOF.
func update(file []byte) []byte {
	return fmt.Appendf(bytes.Clone(file), "3 0 obj\n<< /Type /Page /Parent 1 0 R /Contents (forged) >>\nendobj\n"+
		"trailer\n<< /Size 4 /Root 2 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", len(file)-20, len(file))
}

func TestAppendedRevision(t *testing.T) {
	pki := sigtest.NewPKI(t, "Append")
	roots := sigverify.Policy{Roots: pki.Root.Pool()}
	signed := signPDF(t, basePDF(t), pki.Signer, pdfOpts{})

	rep := verify(t, update(signed), roots)
	s := rep.Signatures[0]
	if rep.Valid || s.CoversWholeFile || s.LaterRevisions != 1 || s.AppendedBytes == 0 || rep.Revisions != 3 {
		t.Fatalf("appended update not flagged: valid=%v %+v", rep.Valid, s)
	}
	if !s.Valid {
		t.Errorf("the signature itself is still good over its revision: %q", s.Reasons)
	}

	rep = verify(t, append(bytes.Clone(signed), "junk"...), roots)
	if rep.Valid || rep.Signatures[0].CoversWholeFile || rep.TrailingBytes != 4 {
		t.Fatalf("trailing junk not flagged: %+v", rep)
	}

	// A second signature in a later revision: the first no longer covers
	// the file, the last does, and the document as a whole is valid.
	second := sigtest.NewPKI(t, "Second")
	both := signPDF(t, signed, second.Signer, pdfOpts{})
	p := roots
	p.Roots.AddCert(second.Root.Cert)
	rep = verify(t, both, p)
	if !rep.Valid || len(rep.Signatures) != 2 {
		t.Fatalf("two signatures: %+v", rep)
	}
	if s := rep.Signatures[0]; s.CoversWholeFile || s.LaterRevisions != 1 || s.Revision != 2 || !s.Valid {
		t.Errorf("first: %+v", s)
	}
	if s := rep.Signatures[1]; !s.CoversWholeFile || s.LaterRevisions != 0 || s.Revision != 3 || !s.Valid {
		t.Errorf("second: %+v", s)
	}
}

func TestTimestampedPDF(t *testing.T) {
	pki := sigtest.NewPKI(t, "TS")
	stamp := time.Now()
	srv := sigtest.TSAServer(t, pki.TSA, func() time.Time { return stamp })
	signed := signPDF(t, basePDF(t), pki.Signer, pdfOpts{tsaURL: srv.URL})
	// Twenty years on, the signer certificate has long expired; the
	// timestamp proves it was valid when the document was signed.
	rep := verify(t, signed, sigverify.Policy{Roots: pki.Root.Pool(), Now: func() time.Time { return stamp.AddDate(20, 0, 0) }})
	s := rep.Signatures[0]
	if !rep.Valid || s.TimeSource != sigverify.TimeSourceTimestamp || s.TimestampTime == nil {
		t.Fatalf("valid=%v source=%s reasons=%q", rep.Valid, s.TimeSource, s.Reasons)
	}
}

func TestBadInput(t *testing.T) {
	pki := sigtest.NewPKI(t, "Bad")
	good := signPDF(t, basePDF(t), pki.Signer, pdfOpts{})
	deep := []byte("%PDF-1.7\n1 0 obj\n" + strings.Repeat("[", 1_000_000) + "\nendobj\n%%EOF\n")
	deepDict := []byte("%PDF-1.7\n1 0 obj\n" + strings.Repeat("<</A ", 100_000) + "\nendobj\n%%EOF\n")
	hugeLength := []byte("%PDF-1.7\n1 0 obj\n<< /Length 999999999999999 >>\nstream\nabc\nendstream\nendobj\n" +
		"xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 1 /Prev 9 >>\nstartxref\n9\n%%EOF\n")
	unterminated := []byte("%PDF-1.7\n1 0 obj\n(" + strings.Repeat("((", 50_000) + "\n%%EOF\n")
	manySigs := []byte("%PDF-1.7\n" + strings.Repeat("<< /ByteRange [0 1 2 3] /Contents <00> >>\n", 100) + "%%EOF\n")
	for _, tc := range []struct {
		name string
		file []byte
		err  error // nil: a report, not an error
	}{
		{"not a PDF", []byte("MZ\x90\x00 this is an executable named .pdf"), pdfsig.ErrNotPDF},
		{"empty", nil, pdfsig.ErrNotPDF},
		{"truncated", basePDF(t)[:400], pdfsig.ErrNoEOF},
		{"deeply nested arrays", deep, pdfsig.ErrTooDeep},
		{"deeply nested dicts", deepDict, pdfsig.ErrTooDeep},
		{"too many signatures", manySigs, pdfsig.ErrTooMany},
		{"huge length", hugeLength, nil},
		{"unterminated string", unterminated, pdfsig.ErrNoEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			rep, err := pdfsig.Verify(bytes.NewReader(tc.file), int64(len(tc.file)), pdfsig.Options{Policy: sigverify.Policy{Roots: pki.Root.Pool()}})
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if tc.err == nil && (err != nil || rep.Valid) {
				t.Fatalf("err = %v, report %+v", err, rep)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	// A signed file cut inside its signed revision: the first revision is
	// whole, so it is a report, and the cut signature is not valid.
	cut := good[:len(good)-200]
	rep, err := pdfsig.Verify(bytes.NewReader(cut), int64(len(cut)), pdfsig.Options{Policy: sigverify.Policy{Roots: pki.Root.Pool()}})
	if err != nil || rep.Valid || rep.TrailingBytes == 0 {
		t.Errorf("cut signed file: err %v, report %+v", err, rep)
	}
	if _, err := pdfsig.Verify(bytes.NewReader(good), int64(len(good)), pdfsig.Options{MaxSize: 100}); !errors.Is(err, pdfsig.ErrTooLarge) {
		t.Errorf("MaxSize: err = %v", err)
	}
}

func TestParseDate(t *testing.T) {
	for in, want := range map[string]string{
		"D:20261122113241Z":       "2026-11-22T11:32:41Z",
		"D:20261122183241+07'00'": "2026-11-22T11:32:41Z",
		"D:20261122183241+07'00":  "2026-11-22T11:32:41Z",
		"D:2026":                  "2026-01-01T00:00:00Z",
		"20260131":                "2026-01-31T00:00:00Z",
		"D:20260231":              "",
		"D:":                      "",
		"garbage":                 "",
	} {
		got, ok := pdfsig.ParseDate(in)
		if (want == "") == ok || (ok && got.UTC().Format(time.RFC3339) != want) {
			t.Errorf("ParseDate(%q) = %v, %v; want %q", in, got, ok, want)
		}
	}
}
