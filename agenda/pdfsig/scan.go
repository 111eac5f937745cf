package pdfsig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Limits that keep a hostile file from costing more than a linear pass.
const (
	maxDepth      = 64      // nesting of arrays and dictionaries
	objectBudget  = 1 << 14 // parsed values kept per top-level object
	maxStringKeep = 4096    // bytes of a literal string kept (names, dates, reasons)
	maxNameKeep   = 256
	windowSize    = 64 << 10
	maxSignatures = 64 // each one may hash the whole file
)

// Errors Verify returns for files it will not judge.
var (
	ErrNotPDF   = errors.New("pdfsig: not a PDF (no %PDF- header)")
	ErrNoEOF    = errors.New("pdfsig: truncated PDF (no %%EOF marker)")
	ErrTooDeep  = fmt.Errorf("pdfsig: objects nested deeper than %d levels", maxDepth)
	ErrTooLarge = errors.New("pdfsig: file larger than the configured maximum")
	ErrInternal = errors.New("pdfsig: internal error")
	ErrTooMany  = fmt.Errorf("pdfsig: more than %d signature dictionaries", maxSignatures)
)

var errEOF = errors.New("unexpected end of file")

// window is a small read cache over an io.ReaderAt, so the scanner can
// walk a 200 MB file byte by byte without holding it in memory.
type window struct {
	r    io.ReaderAt
	size int64
	buf  []byte
	off  int64
	n    int
	err  error
}

// at returns the byte at pos, or -1 past the end or on a read error.
func (w *window) at(pos int64) int {
	if pos >= w.off && pos < w.off+int64(w.n) {
		return int(w.buf[pos-w.off])
	}
	if pos < 0 || pos >= w.size || w.err != nil {
		return -1
	}
	want := min(int64(len(w.buf)), w.size-pos)
	n, err := w.r.ReadAt(w.buf[:want], pos)
	if n == 0 {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		w.err = err
		return -1
	}
	w.off, w.n = pos, n
	return int(w.buf[0])
}

type kind uint8

const (
	kNull kind = iota
	kInt
	kReal
	kName
	kString
	kHex
	kKeyword
	kRef
	kArray
	kDict
)

// node is one parsed PDF value. Only what the verifier reads is kept:
// strings are truncated, hex strings are kept as offsets only.
type node struct {
	kind       kind
	num, gen   int64  // kInt value, or kRef object and generation
	text       []byte // name, literal string, keyword
	start, end int64  // file offsets of the token (end exclusive)
	items      []*node
	keys       []string // kDict: keys, parallel to items
}

func (n *node) get(key string) *node {
	if n == nil || n.kind != kDict {
		return nil
	}
	for i := len(n.keys) - 1; i >= 0; i-- {
		if n.keys[i] == key {
			return n.items[i]
		}
	}
	return nil
}

func (n *node) isName(name string) bool {
	return n != nil && n.kind == kName && string(n.text) == name
}

// sigDict is a dictionary with a /ByteRange: a signature value.
type sigDict struct {
	dict *node
	obj  int64 // enclosing object number, -1 if none
}

// revision is the end of one %%EOF-terminated revision.
type revision struct {
	eof int64 // just after "%%EOF"
	end int64 // after the end-of-line that follows it
}

// scanResult is what one pass over the file finds.
type scanResult struct {
	revisions  []revision
	sigs       []sigDict
	fieldByObj map[int64]string // signature field name by the object number of its /V
	fieldByV   map[*node]string // for a /V dictionary written inline
	tooMany    bool             // more than maxSignatures signature dictionaries
}

type scanner struct {
	w      *window
	pos    int64
	budget int
	res    scanResult
}

func isWhite(c int) bool {
	return c == 0 || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' '
}

func isDelim(c int) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

// scan walks the file once, front to back. It never follows xref tables,
// so it cannot loop, and it never inflates streams.
func scan(r io.ReaderAt, size int64) (*scanResult, error) {
	s := &scanner{w: &window{r: r, size: size, buf: make([]byte, windowSize)}, budget: objectBudget}
	s.res.fieldByObj = map[int64]string{}
	s.res.fieldByV = map[*node]string{}
	var ints []int64
	var lastDict *node
	obj := int64(-1)
	for {
		s.skipWhite(false)
		c := s.w.at(s.pos)
		if c < 0 {
			break
		}
		if c == '%' {
			s.topComment()
			continue
		}
		v, err := s.value(0)
		if errors.Is(err, errEOF) {
			break // a truncated tail; revisions before it still count
		}
		if err != nil {
			return nil, err
		}
		switch v.kind {
		case kInt:
			ints = append(ints, v.num)
			if len(ints) > 2 {
				ints = ints[1:]
			}
			continue
		case kKeyword:
			switch string(v.text) {
			case "obj":
				obj = -1
				if len(ints) == 2 {
					obj = ints[0]
				}
				s.budget, lastDict = objectBudget, nil
			case "endobj":
				obj, lastDict = -1, nil
			case "stream":
				s.skipStream(lastDict)
				lastDict = nil
			case "trailer", "xref", "startxref":
				obj, lastDict = -1, nil
				s.budget = objectBudget
			}
		case kDict:
			lastDict = v
			s.visit(v, obj, 0)
		case kArray:
			s.visit(v, obj, 0)
		}
		ints = ints[:0]
	}
	if s.w.err != nil && !errors.Is(s.w.err, io.EOF) {
		return nil, fmt.Errorf("pdfsig: read: %w", s.w.err)
	}
	return &s.res, nil
}

func (s *scanner) skipWhite(comments bool) {
	for {
		c := s.w.at(s.pos)
		switch {
		case isWhite(c):
			s.pos++
		case comments && c == '%':
			if s.atEOFMarker() {
				return // let the top level see it
			}
			s.skipLine()
		default:
			return
		}
	}
}

func (s *scanner) skipLine() {
	for {
		c := s.w.at(s.pos)
		if c < 0 || c == '\n' || c == '\r' {
			return
		}
		s.pos++
	}
}

func (s *scanner) hasPrefix(p string) bool {
	for i := 0; i < len(p); i++ {
		if s.w.at(s.pos+int64(i)) != int(p[i]) {
			return false
		}
	}
	return true
}

func (s *scanner) atEOFMarker() bool { return s.hasPrefix("%%EOF") }

// topComment reads a comment between objects; %%EOF ends a revision.
func (s *scanner) topComment() {
	if s.atEOFMarker() {
		s.pos += 5
		rev := revision{eof: s.pos}
		switch {
		case s.w.at(s.pos) == '\r' && s.w.at(s.pos+1) == '\n':
			s.pos += 2
		case s.w.at(s.pos) == '\r' || s.w.at(s.pos) == '\n':
			s.pos++
		}
		rev.end = s.pos
		s.res.revisions = append(s.res.revisions, rev)
		return
	}
	s.skipLine()
}

// newNode allocates a value. Only values kept inside a container count
// against the object's budget; scalars at the top level are short-lived.
func (s *scanner) newNode(n node) *node {
	return &n
}

// value parses one value starting at s.pos (whitespace already skipped).
func (s *scanner) value(depth int) (*node, error) {
	start := s.pos
	c := s.w.at(s.pos)
	switch {
	case c < 0:
		return nil, errEOF
	case c == '[':
		s.pos++
		return s.container(']', depth+1, start)
	case c == '<' && s.w.at(s.pos+1) == '<':
		s.pos += 2
		return s.container('>', depth+1, start)
	case c == '<':
		return s.hexString()
	case c == '(':
		return s.literal()
	case c == '/':
		s.pos++
		text := s.regular(maxNameKeep)
		return s.newNode(node{kind: kName, text: decodeName(text), start: start, end: s.pos}), nil
	case isDelim(c):
		s.pos++ // a stray ')', '>', ']', '{' or '}': skip it
		return s.newNode(node{kind: kKeyword, text: []byte{byte(c)}, start: start, end: s.pos}), nil
	}
	text := s.regular(32)
	if n, ok := parseInt(text); ok {
		return s.newNode(node{kind: kInt, num: n, start: start, end: s.pos}), nil
	}
	if isNumeric(text) {
		return s.newNode(node{kind: kReal, start: start, end: s.pos}), nil
	}
	return s.newNode(node{kind: kKeyword, text: text, start: start, end: s.pos}), nil
}

// regular reads a run of regular characters, keeping at most keep bytes.
func (s *scanner) regular(keep int) []byte {
	var out []byte
	for {
		c := s.w.at(s.pos)
		if c < 0 || isWhite(c) || isDelim(c) {
			return out
		}
		if len(out) < keep {
			out = append(out, byte(c))
		}
		s.pos++
	}
}

// container parses an array (close ']') or dictionary (close '>>').
func (s *scanner) container(closer byte, depth int, start int64) (*node, error) {
	if depth > maxDepth {
		return nil, ErrTooDeep
	}
	n := s.newNode(node{kind: kArray, start: start})
	if closer == '>' {
		n.kind = kDict
	}
	var items []*node
	for {
		s.skipWhite(true)
		c := s.w.at(s.pos)
		switch {
		case c < 0:
			return nil, errEOF
		case c == int(closer) && (closer == ']' || s.w.at(s.pos+1) == '>'):
			s.pos++
			if closer == '>' {
				s.pos++
			}
			return s.finish(n, items), nil
		case c == '%':
			// %%EOF inside an open container: the container was never
			// closed. End it here so the revision still counts.
			return s.finish(n, items), nil
		}
		mark := s.pos
		v, err := s.value(depth)
		if err != nil {
			return nil, err
		}
		if v.kind == kKeyword {
			switch string(v.text) {
			case "obj", "endobj", "stream", "endstream", "xref", "trailer", "startxref":
				s.pos = mark // an unclosed container; let the top level resync
				return s.finish(n, items), nil
			case "R":
				if k := len(items); k >= 2 && items[k-1].kind == kInt && items[k-2].kind == kInt {
					items[k-2] = &node{kind: kRef, num: items[k-2].num, gen: items[k-1].num}
					items = items[:k-1]
					continue
				}
			}
		}
		if s.budget > 0 {
			// Past the budget a value is parsed for syntax but not kept.
			items = append(items, v)
			s.budget--
		}
	}
}

func (s *scanner) finish(n *node, items []*node) *node {
	n.end = s.pos
	if n.kind == kArray {
		n.items = items
		return n
	}
	for i := 0; i+1 < len(items); i += 2 {
		if items[i].kind != kName {
			i-- // resynchronise on the next name
			continue
		}
		n.keys = append(n.keys, string(items[i].text))
		n.items = append(n.items, items[i+1])
	}
	return n
}

// hexString skips a <...> string, keeping only its offsets: a /Contents
// value is read back from the file when it is needed.
func (s *scanner) hexString() (*node, error) {
	start := s.pos
	s.pos++
	for {
		c := s.w.at(s.pos)
		if c < 0 {
			return nil, errEOF
		}
		s.pos++
		if c == '>' {
			return s.newNode(node{kind: kHex, start: start, end: s.pos}), nil
		}
	}
}

// literal reads a (...) string with balanced parentheses and escapes.
func (s *scanner) literal() (*node, error) {
	start := s.pos
	s.pos++
	depth := 1
	var out []byte
	for {
		c := s.w.at(s.pos)
		if c < 0 {
			return nil, errEOF
		}
		s.pos++
		switch c {
		case '\\':
			e := s.w.at(s.pos)
			if e < 0 {
				return nil, errEOF
			}
			s.pos++
			switch e {
			case 'n':
				e = '\n'
			case 'r':
				e = '\r'
			case 't':
				e = '\t'
			case 'b':
				e = '\b'
			case 'f':
				e = '\f'
			}
			c = e
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return s.newNode(node{kind: kString, text: out, start: start, end: s.pos}), nil
			}
		}
		if len(out) < maxStringKeep {
			out = append(out, byte(c))
		}
	}
}

// skipStream moves past stream data: by a direct /Length when it lands on
// "endstream", else by searching for "endstream".
func (s *scanner) skipStream(dict *node) {
	switch {
	case s.w.at(s.pos) == '\r' && s.w.at(s.pos+1) == '\n':
		s.pos += 2
	case s.w.at(s.pos) == '\n' || s.w.at(s.pos) == '\r':
		s.pos++
	}
	data := s.pos
	if l := dict.get("Length"); l != nil && l.kind == kInt && l.num >= 0 && l.num <= s.w.size-data {
		s.pos = data + l.num
		s.skipWhite(false)
		if s.hasPrefix("endstream") {
			s.pos += int64(len("endstream"))
			return
		}
		s.pos = data
	}
	const marker = "endstream"
	for s.w.at(s.pos) >= 0 {
		if s.w.at(s.pos) == 'e' && s.hasPrefix(marker) {
			s.pos += int64(len(marker))
			return
		}
		s.pos++
	}
}

// visit records signature dictionaries and signature fields in v.
func (s *scanner) visit(v *node, obj int64, depth int) {
	if v == nil || depth > maxDepth {
		return
	}
	if v.kind == kDict {
		if v.get("ByteRange") != nil {
			if len(s.res.sigs) == maxSignatures {
				s.res.tooMany = true
			} else {
				s.res.sigs = append(s.res.sigs, sigDict{dict: v, obj: obj})
			}
		}
		if v.get("FT").isName("Sig") {
			if t := v.get("T"); t != nil && t.kind == kString {
				switch val := v.get("V"); {
				case val == nil:
				case val.kind == kRef:
					s.res.fieldByObj[val.num] = string(t.text)
				case val.kind == kDict:
					s.res.fieldByV[val] = string(t.text)
				}
			}
		}
	}
	if v.kind == kDict || v.kind == kArray {
		for _, it := range v.items {
			s.visit(it, obj, depth+1)
		}
	}
}

func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	neg := false
	switch b[0] {
	case '+', '-':
		neg = b[0] == '-'
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

func isNumeric(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if (c < '0' || c > '9') && c != '.' && c != '-' && c != '+' {
			return false
		}
	}
	return true
}

// decodeName resolves #xx escapes in a name.
func decodeName(b []byte) []byte {
	if bytes.IndexByte(b, '#') < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '#' && i+2 < len(b) {
			if v, ok := unhex(b[i+1], b[i+2]); ok {
				out = append(out, v)
				i += 2
				continue
			}
		}
		out = append(out, b[i])
	}
	return out
}

func unhex(a, b byte) (byte, bool) {
	x, ok1 := hexVal(a)
	y, ok2 := hexVal(b)
	return x<<4 | y, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
