package agenda

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// ErrBadFileName means a file name has nothing usable left once directories,
// control characters and dots are taken away.
var ErrBadFileName = errors.New("agenda: unusable file name")

// maxNameBytes caps a stored file name; most file systems allow 255 bytes.
const maxNameBytes = 255

// SafeName reduces a client-supplied file name to a safe base name. The
// name is NFC-normalised (macOS sends Vietnamese decomposed), and everything
// up to the last / or \ is dropped, so "../../etc/passwd" becomes "passwd"
// and "C:\Users\a\Tờ trình.pdf" becomes "Tờ trình.pdf". Control and
// bidirectional-format characters are removed (a right-to-left override can
// disguise "gpj.exe" as "exe.jpg"), characters Windows forbids become "_",
// and leading and trailing dots and spaces are trimmed. Vietnamese letters
// are kept. A name with nothing left, or only dots, is ErrBadFileName.
func SafeName(name string) (string, error) {
	name = norm.NFC.String(strings.ToValidUTF8(name, ""))
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			continue
		case strings.ContainsRune(`<>:"|?*`, r):
			b.WriteByte('_')
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	name = strings.Trim(b.String(), ". ")
	if name == "" {
		return "", ErrBadFileName
	}
	return truncateName(name, maxNameBytes), nil
}

// truncateName shortens name to at most max bytes on a rune boundary,
// keeping a short extension so the type stays recognisable.
func truncateName(name string, max int) string {
	if len(name) <= max {
		return name
	}
	ext := ""
	if i := strings.LastIndexByte(name, '.'); i > 0 && len(name)-i <= 16 {
		name, ext = name[:i], name[i:]
	}
	cut := max - len(ext)
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return strings.TrimRight(name[:cut], ". ") + ext
}

// ASCIIName is name with Vietnamese diacritics removed (đ becomes d) and
// any other non-ASCII or quoting-sensitive character replaced by "_". It is
// the fallback filename= for clients that ignore filename*.
func ASCIIName(name string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(name) {
		switch {
		case unicode.Is(unicode.Mn, r):
			// A combining mark (the diacritic of a decomposed letter).
		case r == 'đ':
			b.WriteByte('d')
		case r == 'Đ':
			b.WriteByte('D')
		case r < 0x20 || r >= 0x7f || r == '"' || r == '\\' || r == '%' || r == ';':
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "download"
	}
	return b.String()
}

// ContentDisposition returns a Content-Disposition header value (RFC 6266)
// for disposition ("attachment" or "inline") naming the file both ways: an
// ASCII fallback in filename= and the exact UTF-8 name in
// filename* (RFC 5987: UTF-8, percent-encoded), which browsers prefer.
func ContentDisposition(disposition, name string) string {
	if disposition != "inline" {
		disposition = "attachment"
	}
	return disposition + `; filename="` + ASCIIName(name) + `"; filename*=UTF-8''` + encodeRFC5987(name)
}

// encodeRFC5987 percent-encodes every byte outside RFC 5987's attr-char.
func encodeRFC5987(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') ||
			strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
