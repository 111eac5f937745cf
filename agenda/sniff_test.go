package agenda

import (
	"archive/zip"
	"bytes"
	"errors"
	"os"
	"testing"
)

// ooxmlFile builds a minimal zip holding [Content_Types].xml declaring
// mainType and the given extra parts.
func ooxmlFile(t *testing.T, mainType string, parts ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	if mainType != "" {
		w, err := zw.Create("[Content_Types].xml")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Override PartName="/main.xml" ContentType="` + mainType + `"/></Types>`))
	}
	for _, p := range parts {
		w, err := zw.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte("<x/>"))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func testPDF(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/hello.pdf")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSniff(t *testing.T) {
	const (
		docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
		xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
		pptx = "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"
		docm = "application/vnd.ms-word.document.macroEnabled.main+xml"
	)
	pdf := testPDF(t)
	tests := []struct {
		name string
		data []byte
		want Kind // "" means refused
	}{
		{"pdf", pdf, KindPDF},
		{"truncated pdf", pdf[:len(pdf)/2], ""},
		{"html named .pdf", []byte("<!DOCTYPE html><html><body>%PDF-1.7</body></html>"), ""},
		{"pdf header not at start", append([]byte("junk"), pdf...), ""},
		{"empty", nil, ""},
		{"jpeg", []byte("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"), KindJPEG},
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), KindPNG},
		{"docx", ooxmlFile(t, docx, "word/document.xml"), KindDOCX},
		{"xlsx", ooxmlFile(t, xlsx, "xl/workbook.xml"), KindXLSX},
		{"pptx", ooxmlFile(t, pptx, "ppt/presentation.xml"), KindPPTX},
		{"docm (macros)", ooxmlFile(t, docm, "word/document.xml", "word/vbaProject.bin"), ""},
		{"docx type but no word/ part", ooxmlFile(t, docx, "xl/workbook.xml"), ""},
		{"plain zip", ooxmlFile(t, "", "readme.txt"), ""},
		{"damaged zip", []byte("PK\x03\x04garbage"), ""},
		{"exe", []byte("MZ\x90\x00\x03\x00\x00\x00"), ""},
	}
	for _, tt := range tests {
		got, err := Sniff(bytes.NewReader(tt.data), int64(len(tt.data)))
		if tt.want == "" {
			if !errors.Is(err, ErrUnsupportedType) {
				t.Errorf("%s: Sniff = %q, %v; want ErrUnsupportedType", tt.name, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: Sniff = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestNameForKind(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		want string
	}{
		{"Báo cáo.pdf", KindPDF, "Báo cáo.pdf"},
		{"Báo cáo.PDF", KindPDF, "Báo cáo.PDF"},
		{"Báo cáo.pdf", KindDOCX, "Báo cáo.pdf.docx"},
		{"ảnh.JPG", KindJPEG, "ảnh.JPG"},
		{"ảnh.jpeg", KindJPEG, "ảnh.jpeg"},
		{"ảnh", KindPNG, "ảnh.png"},
	}
	for _, tt := range tests {
		if got := NameForKind(tt.name, tt.kind); got != tt.want {
			t.Errorf("NameForKind(%q, %s) = %q, want %q", tt.name, tt.kind, got, tt.want)
		}
	}
}
