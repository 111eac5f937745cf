package agenda

import (
	"errors"
	"mime"
	"strings"
	"testing"
)

func TestSafeName(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"Tờ trình số 12.pdf", "Tờ trình số 12.pdf"},
		{"../../etc/passwd", "passwd"},
		{`..\..\Windows\win.ini`, "win.ini"},
		{`C:\Users\Lan\Báo cáo quý III.docx`, "Báo cáo quý III.docx"},
		{"/tmp/../../Dự thảo quyết định.pdf", "Dự thảo quyết định.pdf"},
		{"..hidden.pdf", "hidden.pdf"},
		{"bad\x00name\r\n.pdf", "badname.pdf"},
		{"a<b>c:d|e?f*.pdf", "a_b_c_d_e_f_.pdf"},
		{"evil\u202Egpj.exe", "evilgpj.exe"},
		// Decomposed (NFD, as macOS sends) becomes composed (NFC).
		{"Tơ\u0300 tri\u0300nh.pdf", "Tờ trình.pdf"},
		{"  Kế hoạch.xlsx . ", "Kế hoạch.xlsx"},
	}
	for _, tt := range tests {
		got, err := SafeName(tt.in)
		if err != nil {
			t.Errorf("SafeName(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("SafeName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"", "..", "../", "../../..", "/", `\`, " . ", "\x00\x01"} {
		if got, err := SafeName(bad); !errors.Is(err, ErrBadFileName) {
			t.Errorf("SafeName(%q) = %q, %v; want ErrBadFileName", bad, got, err)
		}
	}
}

func TestSafeNameTruncatesOnRuneBoundary(t *testing.T) {
	long := strings.Repeat("Đề án ", 100) + ".pdf"
	got, err := SafeName(long)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) > maxNameBytes {
		t.Fatalf("len = %d, want <= %d", len(got), maxNameBytes)
	}
	if !strings.HasSuffix(got, ".pdf") {
		t.Errorf("extension lost: %q", got)
	}
	if !strings.HasPrefix(got, "Đề án") || strings.ContainsRune(got, '\uFFFD') {
		t.Errorf("bad truncation: %q", got)
	}
}

func TestASCIIName(t *testing.T) {
	tests := map[string]string{
		"Tờ trình số 12.pdf":       "To trinh so 12.pdf",
		"Đề án Đường bộ.pdf":       "De an Duong bo.pdf",
		`say "hi"; x\y%20.pdf`:     "say _hi__ x_y_20.pdf",
		"報告.pdf":                   "__.pdf",
		"":                         "download",
		"Ủy ban nhân dân tỉnh.pdf": "Uy ban nhan dan tinh.pdf",
	}
	for in, want := range tests {
		if got := ASCIIName(in); got != want {
			t.Errorf("ASCIIName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestContentDispositionRoundTrip(t *testing.T) {
	for _, name := range []string{"Tờ trình số 12.pdf", "Báo cáo (bản cuối) 100%.docx", "plain.pdf", "a'b;c.pdf"} {
		h := ContentDisposition("attachment", name)
		disp, params, err := mime.ParseMediaType(h)
		if err != nil {
			t.Fatalf("%q: parse %q: %v", name, h, err)
		}
		if disp != "attachment" {
			t.Errorf("disposition = %q", disp)
		}
		// mime.ParseMediaType decodes filename* into "filename", preferring it.
		if params["filename"] != name {
			t.Errorf("header %q decodes to %q, want %q", h, params["filename"], name)
		}
		if !strings.Contains(h, `filename="`+ASCIIName(name)+`"`) {
			t.Errorf("header %q lacks the ASCII fallback", h)
		}
	}
	want := `inline; filename="To trinh.pdf"; filename*=UTF-8''T%E1%BB%9D%20tr%C3%ACnh.pdf`
	if got := ContentDisposition("inline", "Tờ trình.pdf"); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}
