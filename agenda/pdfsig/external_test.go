package pdfsig_test

import (
	"os"
	"testing"
	"time"

	"github.com/cau-bridge/cau/agenda/sigverify"
	"github.com/cau-bridge/cau/agenda/sigverify/sigtest"
)

// TestPopplerFixture checks a PDF signed twice by poppler's pdfsig (NSS),
// an implementation that shares no code with this package. See
// testdata/README.md for how it was made.
func TestPopplerFixture(t *testing.T) {
	file, err := os.ReadFile("testdata/poppler-signed.pdf")
	if err != nil {
		t.Fatal(err)
	}
	roots, err := sigverify.LoadRoots("testdata/poppler-roots")
	if err != nil {
		t.Fatal(err)
	}
	// Long after every certificate in the fixture has expired, the
	// signatures still count: validity is judged at signing time, which
	// poppler's CMS does not carry, so it comes from the signed /M entry.
	for _, now := range []time.Time{time.Now(), time.Date(2080, 1, 1, 0, 0, 0, 0, time.UTC)} {
		rep := verify(t, file, sigverify.Policy{Roots: roots, Now: func() time.Time { return now }})
		if !rep.Valid || len(rep.Signatures) != 2 || rep.Revisions != 3 {
			t.Fatalf("at %v: valid=%v signatures=%d revisions=%d", now, rep.Valid, len(rep.Signatures), rep.Revisions)
		}
		first, second := rep.Signatures[0], rep.Signatures[1]
		if !first.Valid || first.CoversWholeFile || first.LaterRevisions != 1 || first.Field != "Signature1" {
			t.Errorf("first: %+v", first)
		}
		if !second.Valid || !second.CoversWholeFile || second.LaterRevisions != 0 || second.Field != "Signature2" {
			t.Errorf("second: %+v", second)
		}
		if first.Signer != "Nguyen Van Thu" || first.Organisation != "Uy ban nhan dan tinh Thu nghiem" ||
			first.SigningTime == nil || first.TimeSource != sigverify.TimeSourceDocument {
			t.Errorf("first signer %q %q at %v", first.Signer, first.Organisation, first.SigningTime)
		}
	}

	rep := verify(t, file, sigverify.Policy{Roots: sigtest.NewRoot(t, "Cau Test Root CA").Pool()})
	if rep.Valid {
		t.Fatal("valid without its root configured (an impostor root of the same name was)")
	}
	for _, s := range rep.Signatures {
		wantReason(t, s, "does not chain to a trusted root")
	}

	tampered := append([]byte(nil), file...)
	tampered[700] ^= 1
	rep = verify(t, tampered, sigverify.Policy{Roots: roots})
	if rep.Valid || rep.Signatures[0].Valid || rep.Signatures[1].Valid {
		t.Fatal("a flipped byte early in the file went unnoticed")
	}
}
