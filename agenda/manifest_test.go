package agenda

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func sampleManifest(version int, previous string) *Manifest {
	sum := sha256.Sum256([]byte("tờ trình"))
	sha := hex.EncodeToString(sum[:])
	return &Manifest{
		Format:       ManifestFormat,
		Meeting:      "hop-ubnd-2025-07",
		MeetingTitle: "Phiên họp thường kỳ UBND tỉnh tháng 7 <2025> & \"kế hoạch\"",
		Version:      version,
		Previous:     previous,
		PublishedAt:  "2025-07-01T08:00:00Z",
		PublishedBy:  "Trần Thị Thư Ký",
		Items: []ManifestItem{
			{
				Number: 1, Title: "Báo cáo kinh tế - xã hội 6 tháng", Presenter: "Sở Kế hoạch và Đầu tư", DurationMin: 30,
				Access: Access{Everyone: true},
				Documents: []ManifestDocument{{
					ID: "d1", Title: "Tờ trình số 12", FileName: "Tờ trình số 12.pdf", Role: RoleDocument,
					MediaType: "application/pdf", Size: 12, SHA256: sha, Key: "blobs/sha256/" + sha,
				}},
			},
			{
				Number: 2, Title: "Nhân sự", Presenter: "Sở Nội vụ", DurationMin: 15,
				Access: Access{Roles: []string{"chair"}, Points: []string{"ls-ubnd"}},
			},
		},
	}
}

func TestManifestCanonical(t *testing.T) {
	m := sampleManifest(1, "")
	b, err := m.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	// Keys sorted, no white space between tokens, non-ASCII and HTML
	// characters written as themselves, empty lists as [] never null.
	for _, want := range []string{
		`{"format":"cau.agenda.manifest/v1","items":[{"access":{"everyone":true,"points":[],"roles":[]},"documents":[{"file_name":"Tờ trình số 12.pdf","id":"d1",`,
		`"meeting_title":"Phiên họp thường kỳ UBND tỉnh tháng 7 <2025> & \"kế hoạch\""`,
		`"documents":[],"duration_min":15,"number":2`,
		`"previous":"","published_at":"2025-07-01T08:00:00Z"`,
	} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("canonical form lacks %s\n%s", want, b)
		}
	}
	if bytes.ContainsAny(b, "\n\t") || bytes.Contains(b, []byte("null")) {
		t.Errorf("not canonical: %s", b)
	}
	again, err := sampleManifest(1, "").Canonical()
	if err != nil || !bytes.Equal(b, again) {
		t.Fatalf("canonical form is not stable: %v", err)
	}
	back, err := ParseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Items[0].Documents[0].FileName != "Tờ trình số 12.pdf" || back.Version != 1 {
		t.Errorf("round trip lost data: %+v", back)
	}
}

func TestParseManifestRefuses(t *testing.T) {
	b, err := sampleManifest(1, "").Canonical()
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string][]byte{
		"pretty-printed": bytes.Replace(b, []byte(`{"format"`), []byte("{\n  \"format\""), 1),
		"unknown field":  bytes.Replace(b, []byte(`{"format"`), []byte(`{"extra":1,"format"`), 1),
		"keys unsorted":  bytes.Replace(b, []byte(`"format":"cau.agenda.manifest/v1","items"`), []byte(`"items"`), 1),
		"other format":   bytes.Replace(b, []byte(ManifestFormat), []byte("other/v9"), 1),
		"bad doc key":    bytes.Replace(b, []byte(`"key":"blobs/sha256/`), []byte(`"key":"blobs/sha512/`), 1),
		"not json":       []byte("%PDF-1.7"),
	}
	for name, in := range tests {
		if bytes.Equal(in, b) {
			t.Fatalf("%s: the mutation changed nothing", name)
		}
		if _, err := ParseManifest(in); !errors.Is(err, ErrBadManifest) {
			t.Errorf("%s: ParseManifest = %v, want ErrBadManifest", name, err)
		}
	}
}

func TestManifestValidate(t *testing.T) {
	tests := map[string]func(m *Manifest){
		"v1 with previous":    func(m *Manifest) { m.Previous = strings.Repeat("a", 64) },
		"v2 without previous": func(m *Manifest) { m.Version = 2 },
		"version 0":           func(m *Manifest) { m.Version = 0 },
		"no meeting":          func(m *Manifest) { m.Meeting = "" },
		"bad time":            func(m *Manifest) { m.PublishedAt = "yesterday" },
		"numbering gap":       func(m *Manifest) { m.Items[1].Number = 3 },
		"short hash":          func(m *Manifest) { m.Items[0].Documents[0].SHA256 = "abc" },
		"uppercase hash": func(m *Manifest) {
			d := &m.Items[0].Documents[0]
			d.SHA256 = strings.ToUpper(d.SHA256)
			d.Key = "blobs/sha256/" + d.SHA256
		},
	}
	for name, mutate := range tests {
		m := sampleManifest(1, "")
		mutate(m)
		if _, err := m.Canonical(); !errors.Is(err, ErrBadManifest) {
			t.Errorf("%s: Canonical = %v, want ErrBadManifest", name, err)
		}
	}
}

func TestVerifyChain(t *testing.T) {
	v1, err := sampleManifest(1, "").Canonical()
	if err != nil {
		t.Fatal(err)
	}
	v2, err := sampleManifest(2, ManifestHash(v1)).Canonical()
	if err != nil {
		t.Fatal(err)
	}
	v3m := sampleManifest(3, ManifestHash(v2))
	v3m.Items = v3m.Items[:1]
	v3, err := v3m.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyChain([][]byte{v1, v2, v3}); err != nil {
		t.Fatalf("good chain refused: %v", err)
	}

	// Replace version 1 with a different, equally well-formed manifest.
	forged := sampleManifest(1, "")
	forged.Items[0].Title = "Báo cáo đã sửa"
	f1, err := forged.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyChain([][]byte{f1, v2, v3}); !errors.Is(err, ErrBadManifest) {
		t.Errorf("replaced v1 accepted: %v", err)
	}
	if err := VerifyChain([][]byte{v1, v3}); !errors.Is(err, ErrBadManifest) {
		t.Errorf("missing v2 accepted: %v", err)
	}
	other := sampleManifest(2, ManifestHash(v1))
	other.Meeting = "another"
	o2, err := other.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyChain([][]byte{v1, o2}); !errors.Is(err, ErrBadManifest) {
		t.Errorf("version from another meeting accepted: %v", err)
	}
	if ManifestHash(v1) == ManifestHash(f1) || len(ManifestHash(v1)) != 64 {
		t.Error("ManifestHash does not tell versions apart")
	}
}

func TestManifestKeys(t *testing.T) {
	if got := ManifestKey("m1", 3); got != "meetings/m1/agenda/v3/manifest.json" {
		t.Errorf("ManifestKey = %s", got)
	}
	if got := SignatureKey("m1", 3); got != "meetings/m1/agenda/v3/manifest.p7s" {
		t.Errorf("SignatureKey = %s", got)
	}
}
