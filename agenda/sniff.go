package agenda

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Kind is a document's type, decided from its content and never from its
// name or the client's Content-Type.
type Kind string

// The kinds Cầu accepts. Only PDF may be a meeting document (shown on every
// screen); the others are attachments.
const (
	KindPDF  Kind = "pdf"
	KindDOCX Kind = "docx"
	KindXLSX Kind = "xlsx"
	KindPPTX Kind = "pptx"
	KindJPEG Kind = "jpeg"
	KindPNG  Kind = "png"
)

// ErrUnsupportedType means the content is none of the accepted kinds.
var ErrUnsupportedType = errors.New("agenda: unsupported document type")

// MediaType is the kind's MIME type, used as the download's Content-Type.
func (k Kind) MediaType() string {
	switch k {
	case KindPDF:
		return "application/pdf"
	case KindDOCX:
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case KindXLSX:
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case KindPPTX:
		return "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	case KindJPEG:
		return "image/jpeg"
	case KindPNG:
		return "image/png"
	}
	return "application/octet-stream"
}

// Extensions lists the file-name extensions that fit the kind, preferred
// first.
func (k Kind) Extensions() []string {
	switch k {
	case KindJPEG:
		return []string{".jpg", ".jpeg"}
	case "":
		return nil
	}
	return []string{"." + string(k)}
}

// NameForKind returns name with the kind's extension appended when its own
// extension does not fit, so that "bao-cao.pdf" holding a Word file is
// offered as "bao-cao.pdf.docx" and opens in the right program.
func NameForKind(name string, k Kind) string {
	lower := strings.ToLower(name)
	exts := k.Extensions()
	for _, e := range exts {
		if strings.HasSuffix(lower, e) {
			return name
		}
	}
	if len(exts) == 0 {
		return name
	}
	return truncateName(name+exts[0], maxNameBytes)
}

// ooxml maps an Office Open XML main part's content type to its kind. Only
// these exact types are accepted, so macro-enabled files (.docm, .xlsm,
// .pptm) and templates, whose main parts have other types, are refused.
var ooxml = []struct {
	kind        Kind
	dir         string
	contentType string
}{
	{KindDOCX, "word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"},
	{KindXLSX, "xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"},
	{KindPPTX, "ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"},
}

// maxContentTypesXML bounds how much of [Content_Types].xml is read.
const maxContentTypesXML = 1 << 20

// Sniff decides the kind of the size bytes readable from r. A PDF must start
// with a %PDF-x.y header and end with %%EOF (a truncated upload is refused);
// JPEG and PNG are recognised by their signatures; a zip is an OOXML file
// only if it holds [Content_Types].xml declaring a DOCX, XLSX or PPTX main
// part and has parts under word/, xl/ or ppt/ respectively. Anything else is
// ErrUnsupportedType.
func Sniff(r io.ReaderAt, size int64) (Kind, error) {
	head := make([]byte, min(size, 16))
	if _, err := r.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("sniff: %w", err)
	}
	switch {
	case isPDFHeader(head):
		tail := make([]byte, min(size, 1024))
		if _, err := r.ReadAt(tail, size-int64(len(tail))); err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("sniff: %w", err)
		}
		if !bytes.Contains(tail, []byte("%%EOF")) {
			return "", fmt.Errorf("%w: PDF without %%%%EOF in its last 1024 bytes (truncated?)", ErrUnsupportedType)
		}
		return KindPDF, nil
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return KindJPEG, nil
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return KindPNG, nil
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return sniffOOXML(r, size)
	}
	return "", ErrUnsupportedType
}

// isPDFHeader reports whether head starts with "%PDF-" and a version digit.
func isPDFHeader(head []byte) bool {
	return len(head) >= 8 && bytes.HasPrefix(head, []byte("%PDF-")) &&
		head[5] >= '1' && head[5] <= '2' && head[6] == '.' && head[7] >= '0' && head[7] <= '9'
}

func sniffOOXML(r io.ReaderAt, size int64) (Kind, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return "", fmt.Errorf("%w: damaged zip: %v", ErrUnsupportedType, err)
	}
	var types *zip.File
	dirs := map[string]bool{}
	for _, f := range zr.File {
		if f.Name == "[Content_Types].xml" {
			types = f
		}
		if i := strings.IndexByte(f.Name, '/'); i > 0 {
			dirs[f.Name[:i+1]] = true
		}
	}
	if types == nil {
		return "", fmt.Errorf("%w: zip without [Content_Types].xml", ErrUnsupportedType)
	}
	rc, err := types.Open()
	if err != nil {
		return "", fmt.Errorf("%w: [Content_Types].xml: %v", ErrUnsupportedType, err)
	}
	defer rc.Close()
	xml, err := io.ReadAll(io.LimitReader(rc, maxContentTypesXML))
	if err != nil {
		return "", fmt.Errorf("%w: [Content_Types].xml: %v", ErrUnsupportedType, err)
	}
	for _, o := range ooxml {
		if dirs[o.dir] && bytes.Contains(xml, []byte(`"`+o.contentType+`"`)) {
			return o.kind, nil
		}
	}
	return "", fmt.Errorf("%w: zip is not a DOCX, XLSX or PPTX document", ErrUnsupportedType)
}
