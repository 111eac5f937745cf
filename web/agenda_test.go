package web

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"

	"github.com/cau-bridge/cau/agenda"
	"github.com/cau-bridge/cau/agenda/sigverify/sigtest"
	"github.com/cau-bridge/cau/registry"
	"github.com/cau-bridge/cau/signaling"
	"github.com/cau-bridge/cau/storage"
	"github.com/cau-bridge/cau/storage/objstore"
)

// agendaEnv is a loopback server with the agenda routes, a disk object
// store, a test PKI and one meeting.
type agendaEnv struct {
	t        *testing.T
	url      string
	meeting  string
	storeDir string
	tokens   *signaling.Tokens
	reg      *registry.Registry
	pki      *sigtest.PKI
	pdf      []byte
}

func newAgendaEnv(t *testing.T, maxUpload int64) *agendaEnv {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(t.TempDir(), "cau.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg := registry.New(db)
	for _, p := range []registry.Point{
		{ID: "ls-ubnd", Name: "UBND tỉnh Lạng Sơn", Level: "province", Enabled: true},
		{ID: "ls-xa-a", Name: "Xã A", Level: "commune", Parent: "ls-ubnd", Enabled: true},
		{ID: "ls-xa-b", Name: "Xã B", Level: "commune", Parent: "ls-ubnd", Enabled: true},
	} {
		if err := reg.SavePoint(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	m, err := reg.CreateMeeting(ctx, registry.Meeting{Title: "Phiên họp UBND tỉnh tháng 7", StartsAt: time.Now(),
		ChairPoint: "ls-ubnd", RootPoint: "ls-ubnd", Depth: 2})
	if err != nil {
		t.Fatal(err)
	}
	storeDir := t.TempDir()
	store, err := objstore.NewDisk(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })

	pki := sigtest.NewPKI(t, "Ban Cơ yếu Test")
	seal := pki.Intermediate.Issue(t, sigtest.Options{CN: "Văn phòng UBND tỉnh Lạng Sơn", Org: "UBND tỉnh Lạng Sơn"})
	certPEM := append(pemCert(seal.Cert), pemCert(pki.Intermediate.Cert)...)
	keyDER, err := x509.MarshalPKCS8PrivateKey(seal.Key)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := agenda.NewSealer(certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := agenda.New(agenda.Config{DB: db, Store: store, Roots: pki.Root.Pool(), Sealer: sealer,
		MaxUpload: maxUpload, TempDir: t.TempDir(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := signaling.NewTokens(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	a := &api{cfg: Config{Logger: log}, reg: reg, tokens: tokens}
	r := chi.NewRouter()
	r.Route("/api/v1", func(r chi.Router) {
		// The registry's routes share /meetings/{meeting}: both must route.
		a.mountRegistry(r)
		a.mountAgenda(r, svc)
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	pdf, err := os.ReadFile("../agenda/testdata/hello.pdf")
	if err != nil {
		t.Fatal(err)
	}
	return &agendaEnv{t: t, url: srv.URL + "/api/v1/meetings/" + m.ID, meeting: m.ID, storeDir: storeDir,
		tokens: tokens, reg: reg, pki: pki, pdf: pdf}
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// token mints a meeting token for role, as a bridge point's device when
// point is set.
func (e *agendaEnv) token(role registry.Role, point string) string {
	e.t.Helper()
	sub := "u-" + string(role)
	if point != "" {
		sub = "pt-" + point
	}
	claims := signaling.Claims{Name: "Người " + string(role), Meeting: e.meeting, Role: string(role), Point: point,
		RegisteredClaims: jwt.RegisteredClaims{Subject: sub}}
	if point != "" { // a device's token names the credential that earned it
		cred, err := e.reg.IssueCredential(context.Background(), point, false)
		if err != nil {
			e.t.Fatal(err)
		}
		claims.ID = cred.ID
	}
	tok, err := e.tokens.MintClaims(claims, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// do sends a request and returns the response with its body read.
func (e *agendaEnv) do(method, path, tok string, body io.Reader, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return res, b
}

// jsonDo sends v as JSON and decodes the answer into out when it has the
// wanted status.
func (e *agendaEnv) jsonDo(method, path, tok string, v any, want int, out any) []byte {
	e.t.Helper()
	var body io.Reader
	if v != nil {
		b, _ := json.Marshal(v)
		body = bytes.NewReader(b)
	}
	res, b := e.do(method, path, tok, body, map[string]string{"Content-Type": "application/json"})
	if res.StatusCode != want {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, res.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return b
}

// uploadForm uploads data as a multipart form with the given file name and
// role.
func (e *agendaEnv) uploadForm(tok, name, role string, data []byte) (*http.Response, []byte) {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("role", role)
	_ = mw.WriteField("title", "Tài liệu "+name)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		e.t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	return e.do("POST", "/documents", tok, &buf, map[string]string{"Content-Type": mw.FormDataContentType()})
}

func (e *agendaEnv) uploadPDF(tok, name string) agenda.Document {
	e.t.Helper()
	res, b := e.uploadForm(tok, name, "document", e.pdf)
	if res.StatusCode != http.StatusCreated {
		e.t.Fatalf("upload %s: %d %s", name, res.StatusCode, b)
	}
	var d agenda.Document
	if err := json.Unmarshal(b, &d); err != nil {
		e.t.Fatal(err)
	}
	return d
}

func errorCode(t *testing.T, b []byte) string {
	t.Helper()
	var e apiErr
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("not a JSON error: %s", b)
	}
	return e.Error.Code
}

type apiErr struct {
	Error struct {
		Code    string   `json:"code"`
		Message string   `json:"message"`
		Reasons []string `json:"reasons"`
	} `json:"error"`
}

// blobs lists the files under the disk store's blobs/.
func (e *agendaEnv) blobs() []string {
	e.t.Helper()
	var out []string
	root := filepath.Join(e.storeDir, "objects", "blobs")
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestAgendaUploadVietnameseNameAndRanges(t *testing.T) {
	e := newAgendaEnv(t, 1<<20)
	sec := e.token(registry.Secretary, "")
	d := e.uploadPDF(sec, "Tờ trình số 12 (dự thảo).pdf")
	sum := sha256.Sum256(e.pdf)
	if d.FileName != "Tờ trình số 12 (dự thảo).pdf" || d.SHA256 != hex.EncodeToString(sum[:]) ||
		d.Key != "blobs/sha256/"+d.SHA256 || d.Kind != agenda.KindPDF || d.Signature.State != agenda.SigUnsigned {
		t.Fatalf("uploaded document: %+v", d)
	}
	if got := e.blobs(); len(got) != 1 || filepath.Base(got[0]) != d.SHA256 {
		t.Fatalf("blobs after one upload: %v", got)
	}

	// A raw-body upload named by ?name=, as an attachment (PNG).
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 100)...)
	res, b := e.do("POST", "/documents?role=attachment&name="+url.QueryEscape("Ảnh hiện trường.png"), sec,
		bytes.NewReader(png), map[string]string{"Content-Type": "application/octet-stream"})
	if res.StatusCode != http.StatusCreated || !strings.Contains(string(b), `"file_name":"Ảnh hiện trường.png"`) {
		t.Fatalf("raw upload: %d %s", res.StatusCode, b)
	}

	// The whole document, with both forms of the Vietnamese name.
	res, body := e.do("GET", "/documents/"+d.ID+"/content?disposition=attachment", sec, nil, nil)
	if res.StatusCode != http.StatusOK || !bytes.Equal(body, e.pdf) {
		t.Fatalf("download: %d, %d bytes", res.StatusCode, len(body))
	}
	cd := res.Header.Get("Content-Disposition")
	disp, params, err := mime.ParseMediaType(cd)
	if err != nil || disp != "attachment" || params["filename"] != "Tờ trình số 12 (dự thảo).pdf" {
		t.Errorf("Content-Disposition %q decodes to %q %v", cd, params["filename"], err)
	}
	if !strings.Contains(cd, `filename="To trinh so 12 (du thao).pdf"`) ||
		!strings.Contains(cd, "filename*=UTF-8''T%E1%BB%9D%20tr%C3%ACnh") {
		t.Errorf("Content-Disposition %q lacks the ASCII fallback or the RFC 5987 name", cd)
	}
	if res.Header.Get("Content-Type") != "application/pdf" || res.Header.Get("Accept-Ranges") != "bytes" ||
		res.Header.Get("ETag") != `"`+d.SHA256+`"` {
		t.Errorf("headers: %v", res.Header)
	}

	size := int64(len(e.pdf))
	tests := []struct {
		rng          string
		status       int
		contentRange string
		want         []byte
	}{
		{"bytes=0-99", 206, "bytes 0-99/" + strconv.FormatInt(size, 10), e.pdf[:100]},
		{"bytes=100-", 206, "bytes 100-" + strconv.FormatInt(size-1, 10) + "/" + strconv.FormatInt(size, 10), e.pdf[100:]},
		{"bytes=-10", 206, "bytes " + strconv.FormatInt(size-10, 10) + "-" + strconv.FormatInt(size-1, 10) + "/" + strconv.FormatInt(size, 10), e.pdf[size-10:]},
		{"bytes=50-999999", 206, "bytes 50-" + strconv.FormatInt(size-1, 10) + "/" + strconv.FormatInt(size, 10), e.pdf[50:]},
		{"bytes=" + strconv.FormatInt(size, 10) + "-", 416, "bytes */" + strconv.FormatInt(size, 10), nil},
		{"bytes=0-1,5-9", 200, "", e.pdf}, // several ranges: the whole document
	}
	for _, tt := range tests {
		res, body := e.do("GET", "/documents/"+d.ID+"/content", sec, nil, map[string]string{"Range": tt.rng})
		if res.StatusCode != tt.status || res.Header.Get("Content-Range") != tt.contentRange {
			t.Errorf("Range %s: %d %q, want %d %q", tt.rng, res.StatusCode, res.Header.Get("Content-Range"), tt.status, tt.contentRange)
			continue
		}
		if tt.want != nil && !bytes.Equal(body, tt.want) {
			t.Errorf("Range %s: wrong bytes (%d)", tt.rng, len(body))
		}
		if tt.status == 416 && errorCode(t, body) != "range_not_satisfiable" {
			t.Errorf("Range %s: body %s", tt.rng, body)
		}
	}
	// If-Range with another version's ETag gets the whole document.
	res, body = e.do("GET", "/documents/"+d.ID+"/content", sec, nil, map[string]string{"Range": "bytes=0-9", "If-Range": `"other"`})
	if res.StatusCode != 200 || !bytes.Equal(body, e.pdf) {
		t.Errorf("If-Range mismatch: %d", res.StatusCode)
	}
}

func TestAgendaCorruptedBlobIsNotServed(t *testing.T) {
	e := newAgendaEnv(t, 1<<20)
	sec := e.token(registry.Secretary, "")
	d := e.uploadPDF(sec, "Báo cáo.pdf")
	if res, body := e.do("GET", "/documents/"+d.ID+"/content", sec, nil, nil); res.StatusCode != 200 || !bytes.Equal(body, e.pdf) {
		t.Fatalf("intact download: %d", res.StatusCode)
	}
	// Flip one byte of the stored blob, keeping its size.
	p := filepath.Join(e.storeDir, "objects", "blobs", "sha256", d.SHA256)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x20
	if err := os.WriteFile(p, b, 0o640); err != nil {
		t.Fatal(err)
	}
	res, body := e.do("GET", "/documents/"+d.ID+"/content", sec, nil, nil)
	if res.StatusCode != http.StatusInternalServerError || errorCode(t, body) != "integrity_error" {
		t.Fatalf("corrupted blob: %d %s, want 500 integrity_error", res.StatusCode, body)
	}
	if bytes.Contains(body, []byte("%PDF")) {
		t.Fatal("corrupted bytes were served")
	}
}

func TestAgendaUploadRefusals(t *testing.T) {
	const limit = 64 << 10
	e := newAgendaEnv(t, limit)
	sec := e.token(registry.Secretary, "")

	// Oversized, with a declared length and streamed (chunked, no length).
	big := append(bytes.Clone(e.pdf), bytes.Repeat([]byte("0"), limit)...)
	res, b := e.uploadForm(sec, "Lớn.pdf", "document", big)
	if res.StatusCode != http.StatusRequestEntityTooLarge || errorCode(t, b) != "too_large" {
		t.Errorf("oversized form: %d %s", res.StatusCode, b)
	}
	res, b = e.do("POST", "/documents?name=big.pdf", sec, io.MultiReader(bytes.NewReader(big)), nil)
	if res.StatusCode != http.StatusRequestEntityTooLarge || errorCode(t, b) != "too_large" {
		t.Errorf("oversized stream: %d %s", res.StatusCode, b)
	}

	html := []byte("<!DOCTYPE html><html><script>alert(1)</script></html>")
	docx := zipWith(t, map[string]string{
		"[Content_Types].xml": `<Types><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`,
		"word/document.xml":   "<w:document/>",
	})
	cases := []struct {
		name, file, role string
		data             []byte
		status           int
		code             string
	}{
		{"HTML named .pdf as a meeting document", "Tờ trình.pdf", "document", html, 415, "not_pdf"},
		{"HTML named .pdf as an attachment", "Tờ trình.pdf", "attachment", html, 415, "unsupported_type"},
		{"DOCX as a meeting document", "Kế hoạch.docx", "document", docx, 415, "not_pdf"},
		{"nothing left of the name", "../..", "document", e.pdf, 400, "bad_file_name"},
		{"unknown role", "a.pdf", "secret", e.pdf, 400, "bad_request"},
	}
	for _, c := range cases {
		res, b := e.uploadForm(sec, c.file, c.role, c.data)
		if res.StatusCode != c.status || errorCode(t, b) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, res.StatusCode, b, c.status, c.code)
		}
	}
	if got := e.blobs(); len(got) != 0 {
		t.Fatalf("refused uploads left blobs: %v", got)
	}
	if staged, _ := os.ReadDir(filepath.Join(e.storeDir, "staging")); len(staged) != 0 {
		t.Fatalf("refused uploads left staging files: %d", len(staged))
	}
	var docs []agenda.Document
	e.jsonDo("GET", "/documents", sec, nil, 200, &docs)
	if len(docs) != 0 {
		t.Fatalf("refused uploads left documents: %+v", docs)
	}

	// A path-traversal name is reduced to its base name; the same DOCX is
	// welcome as an attachment.
	d := e.uploadPDF(sec, "../../../etc/Tờ trình.pdf")
	if d.FileName != "Tờ trình.pdf" {
		t.Errorf("traversal name stored as %q", d.FileName)
	}
	res, b = e.uploadForm(sec, `..\..\Kế hoạch.docx`, "attachment", docx)
	if res.StatusCode != 201 || !strings.Contains(string(b), `"file_name":"Kế hoạch.docx"`) || !strings.Contains(string(b), `"kind":"docx"`) {
		t.Errorf("DOCX attachment: %d %s", res.StatusCode, b)
	}
	// Only the secretary uploads.
	res, b = e.uploadForm(e.token(registry.Viewer, ""), "a.pdf", "document", e.pdf)
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("viewer upload: %d %s", res.StatusCode, b)
	}
}

func zipWith(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestAgendaAccessList(t *testing.T) {
	e := newAgendaEnv(t, 1<<20)
	sec := e.token(registry.Secretary, "")
	var open, communeA, chairOnly agenda.Item
	e.jsonDo("POST", "/agenda/items", sec, map[string]any{"title": "Khai mạc", "presenter": "Chủ tịch", "duration_min": 5}, 201, &open)
	e.jsonDo("POST", "/agenda/items", sec, map[string]any{"title": "Địa bàn xã A", "duration_min": 20,
		"access": map[string]any{"everyone": false, "points": []string{"ls-xa-a"}}}, 201, &communeA)
	e.jsonDo("POST", "/agenda/items", sec, map[string]any{"title": "Nhân sự", "duration_min": 10,
		"access": map[string]any{"everyone": false, "roles": []string{"chair"}}}, 201, &chairOnly)
	docs := map[string]agenda.Document{}
	for _, it := range []agenda.Item{open, communeA, chairOnly} {
		d := e.uploadPDF(sec, it.Title+".pdf")
		e.jsonDo("PUT", "/agenda/items/"+it.ID+"/documents", sec, map[string]any{"documents": []string{d.ID}}, 200, nil)
		docs[it.ID] = d
	}
	opA, opB := e.token(registry.Operator, "ls-xa-a"), e.token(registry.Operator, "ls-xa-b")
	get := func(tok string, item agenda.Item) int {
		res, _ := e.do("GET", "/documents/"+docs[item.ID].ID+"/content", tok, nil, map[string]string{"Range": "bytes=0-3"})
		return res.StatusCode
	}
	// Nothing is published yet: only the secretary and chair read.
	if got := get(opA, open); got != http.StatusForbidden {
		t.Errorf("unpublished document to an operator: %d", got)
	}
	e.jsonDo("POST", "/agenda/publish", sec, nil, 201, nil)

	tests := []struct {
		who  string
		tok  string
		item agenda.Item
		want int
	}{
		{"commune B, open item", opB, open, 206},
		{"commune A, its own item", opA, communeA, 206},
		{"commune B, commune A's item", opB, communeA, 403},
		{"commune A, chair-only item", opA, chairOnly, 403},
		{"viewer, chair-only item", e.token(registry.Viewer, ""), chairOnly, 403},
		{"chair, chair-only item", e.token(registry.Chair, ""), chairOnly, 206},
		{"secretary, commune A's item", sec, communeA, 206},
	}
	for _, tt := range tests {
		if got := get(tt.tok, tt.item); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.who, got, tt.want)
		}
	}
	res, b := e.do("GET", "/documents/"+docs[communeA.ID].ID+"/content", opB, nil, nil)
	if res.StatusCode != 403 || errorCode(t, b) != "forbidden" {
		t.Errorf("refusal body: %d %s", res.StatusCode, b)
	}
	// The list and the published agenda say what B may read.
	var list []agenda.Document
	e.jsonDo("GET", "/documents", opB, nil, 200, &list)
	if len(list) != 1 || list[0].ID != docs[open.ID].ID {
		t.Errorf("commune B's document list: %+v", list)
	}
	var pub agenda.PublishedAgenda
	e.jsonDo("GET", "/agenda", opB, nil, 200, &pub)
	if len(pub.Manifest.Items) != 3 || len(pub.Readable) != 1 || pub.Readable[0] != docs[open.ID].ID {
		t.Errorf("published agenda for commune B: %d items, readable %v", len(pub.Manifest.Items), pub.Readable)
	}
	// The draft is for the secretary and chair.
	if res, _ := e.do("GET", "/agenda/draft", opA, nil, nil); res.StatusCode != 403 {
		t.Errorf("operator reads the draft: %d", res.StatusCode)
	}
	e.jsonDo("GET", "/agenda/draft", e.token(registry.Chair, ""), nil, 200, nil)
}

// TestAgendaPublishNeverOverwrites: an object already at the next version's
// manifest key that is not that version (a crash left it, or someone wrote
// it) makes publishing fail with 409 and record nothing; once it is gone,
// publishing works.
func TestAgendaPublishNeverOverwrites(t *testing.T) {
	e := newAgendaEnv(t, 1<<20)
	sec := e.token(registry.Secretary, "")
	e.jsonDo("POST", "/agenda/items", sec, map[string]any{"title": "Khai mạc", "duration_min": 5}, 201, nil)
	key := filepath.Join(e.storeDir, "objects", "meetings", e.meeting, "agenda", "v1", "manifest.json")
	if err := os.MkdirAll(filepath.Dir(key), 0o755); err != nil {
		t.Fatal(err)
	}
	foreign := []byte(`{"not":"a manifest"}`)
	if err := os.WriteFile(key, foreign, 0o644); err != nil {
		t.Fatal(err)
	}
	e.jsonDo("POST", "/agenda/publish", sec, nil, 409, nil)
	var versions []agenda.Version
	e.jsonDo("GET", "/agenda/versions", sec, nil, 200, &versions)
	if len(versions) != 0 {
		t.Fatalf("a refused publication recorded %d versions", len(versions))
	}
	if b, _ := os.ReadFile(key); !bytes.Equal(b, foreign) {
		t.Fatal("publishing overwrote an existing object")
	}
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	e.jsonDo("POST", "/agenda/publish", sec, nil, 201, nil)
	e.jsonDo("GET", "/agenda/versions", sec, nil, 200, &versions)
	if len(versions) != 1 {
		t.Fatalf("after the orphan went: %d versions", len(versions))
	}
}
