// Package pdfsig verifies the signatures embedded in PDF files (ISO 32000
// signature dictionaries, PAdES in spirit). It owns the PDF side of the
// decision: where each signature sits, whether its /ByteRange is honest and
// reaches the end of its revision, and whether bytes were appended after
// it. The CMS inside each signature is judged by agenda/sigverify.
//
// It finds signature dictionaries with its own single forward scan of the
// file instead of a full PDF parser: that scan never follows xref tables,
// never inflates streams and bounds nesting, so hostile files cost one
// linear pass. It knows nothing of meetings, agendas or storage.
package pdfsig

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cau-bridge/cau/agenda/sigverify"
)

// DefaultMaxSize is the largest file Verify reads when Options.MaxSize is 0.
const DefaultMaxSize = 200 << 20

// maxContents bounds the decoded /Contents read back from the file; real
// signatures with embedded revocation data stay well below it.
const maxContents = 8 << 20

// Options configure Verify.
type Options struct {
	Policy  sigverify.Policy
	MaxSize int64 // 0 means DefaultMaxSize
}

// Report is the verdict on one PDF file.
type Report struct {
	Size       int64       `json:"size"`
	Revisions  int         `json:"revisions"` // count of %%EOF-terminated revisions
	Signed     bool        `json:"signed"`
	Signatures []Signature `json:"signatures"`
	// TrailingBytes counts bytes after the last %%EOF revision: data that is
	// not even a complete revision (or a truncated update).
	TrailingBytes int64 `json:"trailing_bytes,omitempty"`
	// Valid: signed, every signature valid, and the last one covers the
	// whole file.
	Valid bool `json:"valid"`
}

// Signature is the verdict on one signature dictionary.
type Signature struct {
	sigverify.Result
	Field     string  `json:"field,omitempty"`
	SubFilter string  `json:"sub_filter,omitempty"`
	ByteRange []int64 `json:"byte_range"`
	// CoversWholeFile is true when no byte follows the signed revision.
	CoversWholeFile bool `json:"covers_whole_file"`
	// Revision is the 1-based revision this signature ends (0 when its byte
	// range ends at no revision boundary).
	Revision int `json:"revision"`
	// LaterRevisions counts complete revisions appended after it, and
	// AppendedBytes every byte after it.
	LaterRevisions int   `json:"later_revisions"`
	AppendedBytes  int64 `json:"appended_bytes"`
}

// Verify reads the PDF in r (size bytes) and judges every signature in it.
// It returns an error only for a file it cannot judge: not a PDF, truncated
// before its first %%EOF, too large, or hostile (too deeply nested, too many
// signatures). Bad signatures are reported, not returned as errors.
func Verify(r io.ReaderAt, size int64, opts Options) (rep *Report, err error) {
	defer func() {
		if p := recover(); p != nil {
			rep, err = nil, fmt.Errorf("%w: %v", ErrInternal, p)
		}
	}()
	maxSize := opts.MaxSize
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if size > maxSize {
		return nil, fmt.Errorf("%w (%d > %d bytes)", ErrTooLarge, size, maxSize)
	}
	head := make([]byte, min(size, 1024))
	if _, err := r.ReadAt(head, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("pdfsig: read: %w", err)
	}
	if !bytes.Contains(head, []byte("%PDF-")) {
		return nil, ErrNotPDF
	}
	res, err := scan(r, size)
	if err != nil {
		return nil, err
	}
	if len(res.revisions) == 0 {
		return nil, ErrNoEOF
	}
	if res.tooMany {
		return nil, ErrTooMany
	}
	rep = &Report{Size: size, Revisions: len(res.revisions), Signatures: []Signature{}}
	rep.TrailingBytes = size - res.revisions[len(res.revisions)-1].end
	for _, sd := range res.sigs {
		rep.Signatures = append(rep.Signatures, verifyOne(r, size, res, sd, opts.Policy))
	}
	sort.SliceStable(rep.Signatures, func(i, j int) bool {
		return coveredEnd(rep.Signatures[i].ByteRange) < coveredEnd(rep.Signatures[j].ByteRange)
	})
	rep.Signed = len(rep.Signatures) > 0
	rep.Valid = rep.Signed && rep.Signatures[len(rep.Signatures)-1].CoversWholeFile
	for _, s := range rep.Signatures {
		rep.Valid = rep.Valid && s.Valid
	}
	return rep, nil
}

func coveredEnd(br []int64) int64 {
	if len(br) != 4 {
		return -1
	}
	return br[2] + br[3]
}

// verifyOne judges one signature dictionary: its byte range against the
// file and its revisions, then its CMS over the covered bytes.
func verifyOne(r io.ReaderAt, size int64, res *scanResult, sd sigDict, p sigverify.Policy) Signature {
	sig := Signature{}
	fail := func(format string, args ...any) {
		sig.Reasons = append(sig.Reasons, fmt.Sprintf(format, args...))
	}
	d := sd.dict
	if name, ok := res.fieldByV[d]; ok {
		sig.Field = name
	} else if name, ok := res.fieldByObj[sd.obj]; ok && sd.obj >= 0 {
		sig.Field = name
	}
	if sf := d.get("SubFilter"); sf != nil && sf.kind == kName {
		sig.SubFilter = string(sf.text)
	}

	br, ok := byteRange(d.get("ByteRange"))
	sig.ByteRange = br
	contents := d.get("Contents")
	switch {
	case !ok:
		fail("/ByteRange is not an array of four non-negative integers")
	case contents == nil || contents.kind != kHex:
		fail("/Contents is not a hexadecimal string")
	case br[0] != 0:
		fail("/ByteRange does not start at offset 0")
	case br[1] != contents.start || br[2] != contents.end:
		fail("/ByteRange gap [%d, %d) is not exactly the /Contents string [%d, %d)", br[1], br[2], contents.start, contents.end)
	case br[3] > size-br[2]:
		fail("/ByteRange reaches past the end of the file (%d > %d)", br[2]+br[3], size)
	}
	rangeOK := len(sig.Reasons) == 0

	if rangeOK {
		placeInRevisions(&sig, res.revisions, size, contents.start, fail)
	}

	switch sig.SubFilter {
	case "adbe.pkcs7.detached", "ETSI.CAdES.detached":
	case "adbe.pkcs7.sha1":
		fail("SubFilter adbe.pkcs7.sha1 signs a SHA-1 digest, which is refused")
		rangeOK = false
	case "":
		fail("signature dictionary has no /SubFilter")
		rangeOK = false
	default:
		fail("SubFilter %s is not supported", sig.SubFilter)
		rangeOK = false
	}
	if !rangeOK {
		sig.Valid = false
		return sig
	}

	der, err := readHex(r, contents.start+1, contents.end-1)
	if err != nil {
		fail("/Contents: %v", err)
		return sig
	}
	signed := io.MultiReader(io.NewSectionReader(r, 0, br[1]), io.NewSectionReader(r, br[2], br[3]))
	if m := d.get("M"); m != nil && m.kind == kString {
		if t, ok := parseDate(string(m.text)); ok {
			p.DocumentTime = t
		}
	}
	result, err := sigverify.Verify(der, signed, p)
	if err != nil {
		fail("cannot parse the signature: %v", err)
		return sig
	}
	pdfReasons := sig.Reasons
	sig.Result = *result
	sig.Reasons = append(pdfReasons, result.Reasons...)
	sig.Valid = result.Valid && len(pdfReasons) == 0
	return sig
}

// parseDate reads a PDF date, D:YYYYMMDDHHmmSSOHH'mm' with every part
// after the year optional (ISO 32000-1 §7.9.4).
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimPrefix(s, "D:")
	num := func(n int, def int) int {
		if len(s) < n || !isDigits(s[:n]) {
			return def
		}
		v, _ := strconv.Atoi(s[:n])
		s = s[n:]
		return v
	}
	year := num(4, 0)
	if year == 0 {
		return time.Time{}, false
	}
	month, day := num(2, 1), num(2, 1)
	hour, minute, sec := num(2, 0), num(2, 0), num(2, 0)
	loc := time.UTC
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		sign := 1
		if s[0] == '-' {
			sign = -1
		}
		s = s[1:]
		oh := num(2, 0)
		s = strings.TrimPrefix(s, "'")
		om := num(2, 0)
		loc = time.FixedZone("", sign*(oh*3600+om*60))
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, loc)
	if t.Month() != time.Month(month) || t.Day() != day || t.Hour() != hour || t.Minute() != minute {
		return time.Time{}, false
	}
	return t, true
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

func byteRange(n *node) ([]int64, bool) {
	if n == nil || n.kind != kArray || len(n.items) != 4 {
		return nil, false
	}
	out := make([]int64, 4)
	for i, it := range n.items {
		if it.kind != kInt || it.num < 0 {
			return nil, false
		}
		out[i] = it.num
	}
	return out, true
}

// placeInRevisions finds the revision the byte range ends and flags any
// shortfall or later data. The covered end may stop just after %%EOF or
// include the end-of-line after it.
func placeInRevisions(sig *Signature, revs []revision, size, gapStart int64, fail func(string, ...any)) {
	end := coveredEnd(sig.ByteRange)
	sig.AppendedBytes = size - end
	idx := slices.IndexFunc(revs, func(rv revision) bool { return end == rv.eof || end == rv.end })
	if idx < 0 {
		// Name the revision the range falls short of, for the report.
		idx = slices.IndexFunc(revs, func(rv revision) bool { return rv.end >= end })
		if idx < 0 {
			idx = len(revs) - 1
		}
		fail("/ByteRange ends at %d, not at the end of a revision (%%%%EOF of revision %d ends at %d)", end, idx+1, revs[idx].end)
	} else {
		sig.Revision = idx + 1
		if idx > 0 && gapStart < revs[idx-1].end {
			fail("signature dictionary lies in an earlier revision than the one its byte range ends")
		}
	}
	sig.LaterRevisions = len(revs) - 1 - idx
	// Only the end-of-line of the signed revision may follow the range.
	sig.CoversWholeFile = sig.Revision > 0 && revs[idx].end == size
	if sig.CoversWholeFile {
		sig.AppendedBytes = 0
	}
}

// readHex decodes the hex digits of a /Contents string in [from, to),
// skipping whitespace, as PDF allows.
func readHex(r io.ReaderAt, from, to int64) ([]byte, error) {
	if to-from > 2*maxContents+1024 {
		return nil, fmt.Errorf("larger than %d bytes", maxContents)
	}
	raw := make([]byte, to-from)
	if _, err := r.ReadAt(raw, from); err != nil && err != io.EOF {
		return nil, err
	}
	digits := raw[:0]
	for _, c := range raw {
		if !isWhite(int(c)) {
			digits = append(digits, c)
		}
	}
	if len(digits)%2 == 1 {
		digits = append(digits, '0')
	}
	out := make([]byte, len(digits)/2)
	if _, err := hex.Decode(out, digits); err != nil {
		return nil, err
	}
	return out, nil
}
