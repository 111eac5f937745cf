package pdfsig_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/cau-bridge/cau/agenda/pdfsig"
	"github.com/cau-bridge/cau/agenda/sigverify"
	"github.com/cau-bridge/cau/agenda/sigverify/sigtest"
)

// FuzzVerify feeds arbitrary bytes to Verify. It must never panic (a
// recovered panic surfaces as ErrInternal), and a report it returns must be
// self-consistent. Seeds: a plain and a signed PDF, plus the files under
// testdata/fuzz/FuzzVerify.
func FuzzVerify(f *testing.F) {
	pki := sigtest.NewPKI(f, "Fuzz")
	base := basePDF(f)
	signed := signPDF(f, base, pki.Signer, pdfOpts{})
	f.Add(base)
	f.Add(signed)
	f.Add(update(signed))
	policy := sigverify.Policy{Roots: pki.Root.Pool()}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Verify runs beside a timer so that a hang fails the input (and
		// is saved as a crasher) instead of stalling the fuzzer.
		type out struct {
			rep *pdfsig.Report
			err error
		}
		done := make(chan out, 1)
		go func() {
			rep, err := pdfsig.Verify(bytes.NewReader(data), int64(len(data)), pdfsig.Options{Policy: policy, MaxSize: 1 << 20})
			done <- out{rep, err}
		}()
		var rep *pdfsig.Report
		var err error
		select {
		case o := <-done:
			rep, err = o.rep, o.err
		case <-time.After(10 * time.Second):
			t.Fatalf("Verify did not return within 10s on %d bytes", len(data))
		}
		if errors.Is(err, pdfsig.ErrInternal) {
			t.Fatal(err)
		}
		if err != nil {
			return
		}
		if rep.Revisions == 0 || rep.Size != int64(len(data)) {
			t.Fatalf("report without revisions or with wrong size: %+v", rep)
		}
		for i, s := range rep.Signatures {
			if s.Valid && (len(s.Reasons) > 0 || len(s.ByteRange) != 4) {
				t.Fatalf("signature %d valid with reasons %q", i, s.Reasons)
			}
			if s.CoversWholeFile && s.ByteRange[2]+s.ByteRange[3] < int64(len(data))-2 {
				t.Fatalf("signature %d covers %v of %d bytes yet claims the whole file", i, s.ByteRange, len(data))
			}
		}
		if rep.Valid && (!rep.Signed || !rep.Signatures[len(rep.Signatures)-1].CoversWholeFile) {
			t.Fatalf("valid report whose last signature does not cover the file")
		}
	})
}
