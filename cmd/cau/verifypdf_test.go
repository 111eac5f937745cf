package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/cau-bridge/cau/agenda/sigverify/sigtest"
)

// The fixture is a PDF signed twice by poppler's pdfsig; see
// agenda/pdfsig/testdata/README.md.
const (
	fixturePDF   = "../../agenda/pdfsig/testdata/poppler-signed.pdf"
	fixtureRoots = "../../agenda/pdfsig/testdata/poppler-roots"
)

type verifyOutput struct {
	File       string `json:"file"`
	Error      string `json:"error"`
	Valid      bool   `json:"valid"`
	Signed     bool   `json:"signed"`
	Signatures []struct {
		Signer          string   `json:"signer"`
		SigningTime     string   `json:"signing_time"`
		CoversWholeFile bool     `json:"covers_whole_file"`
		LaterRevisions  int      `json:"later_revisions"`
		Valid           bool     `json:"valid"`
		Reasons         []string `json:"reasons"`
	} `json:"signatures"`
}

func runVerify(t *testing.T, args ...string) (int, verifyOutput) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runVerifyPDF(args, &stdout, &stderr)
	var out verifyOutput
	if stdout.Len() > 0 {
		if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, stdout.String())
		}
	}
	return code, out
}

func TestVerifyPDFCommand(t *testing.T) {
	fixture, err := os.ReadFile(fixturePDF)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	appended := write("appended.pdf", append(bytes.Clone(fixture), "1 0 obj\n<< >>\nendobj\n%%EOF\n"...))
	unsigned := write("unsigned.pdf", []byte("%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"))
	junk := write("junk.pdf", []byte("this is not a PDF"))
	otherRoots := sigtest.WriteRootsDir(t, sigtest.NewRoot(t, "Cau Test Root CA"))

	code, out := runVerify(t, "--roots", fixtureRoots, fixturePDF)
	if code != 0 || !out.Valid || len(out.Signatures) != 2 {
		t.Fatalf("good file: exit %d, %+v", code, out)
	}
	last := out.Signatures[1]
	if last.Signer != "Nguyen Van Thu" || last.SigningTime == "" || !last.CoversWholeFile || !last.Valid {
		t.Errorf("last signature: %+v", last)
	}
	if out.Signatures[0].CoversWholeFile || out.Signatures[0].LaterRevisions != 1 {
		t.Errorf("first signature: %+v", out.Signatures[0])
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"untrusted roots", []string{"--roots", otherRoots, fixturePDF}, 1},
		{"appended revision", []string{"--trusted-roots", fixtureRoots, appended}, 1},
		{"unsigned", []string{"--roots", fixtureRoots, unsigned}, 2},
		{"not a PDF", []string{"--roots", fixtureRoots, junk}, 2},
		{"missing file", []string{"--roots", fixtureRoots, filepath.Join(dir, "nope.pdf")}, 2},
		{"no roots flag", []string{fixturePDF}, 2},
		{"empty roots dir", []string{"--roots", t.TempDir(), fixturePDF}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runVerify(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d (%+v)", code, tc.code, out)
			}
			if code == 1 && (out.Valid || len(out.Signatures) == 0) {
				t.Errorf("invalid file reported %+v", out)
			}
		})
	}
	t.Run("appended is flagged", func(t *testing.T) {
		_, out := runVerify(t, "--roots", fixtureRoots, appended)
		if s := out.Signatures[1]; s.CoversWholeFile || s.LaterRevisions != 1 || !s.Valid {
			t.Errorf("last signature after an appended revision: %+v", s)
		}
	})
}
