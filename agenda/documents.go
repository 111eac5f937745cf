package agenda

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cau-bridge/cau/agenda/pdfsig"
	"github.com/cau-bridge/cau/storage/objstore"
)

// Document is an uploaded file of a meeting.
type Document struct {
	ID      string `json:"id"`
	Meeting string `json:"meeting"`
	// Item is the draft item it is attached to, or empty.
	Item      string `json:"item"`
	Role      Role   `json:"role"`
	Title     string `json:"title"`
	FileName  string `json:"file_name"`
	Kind      Kind   `json:"kind"`
	MediaType string `json:"media_type"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	Key       string `json:"key"`
	// Signature is the verdict on the signatures inside a PDF.
	Signature  DocumentSignature `json:"signature"`
	UploadedBy string            `json:"uploaded_by"`
	UploadedAt string            `json:"uploaded_at"`
}

// Document signature states.
const (
	SigUnsigned = "unsigned"
	SigValid    = "valid"
	SigInvalid  = "invalid"
)

// DocumentSignature is what the UI shows about a document's signatures:
// valid, invalid (with the reasons), or unsigned, and who signed.
type DocumentSignature struct {
	State   string        `json:"state"`
	Reasons []string      `json:"reasons"`
	Signers []SignerBrief `json:"signers"`
	// Report is pdfsig's full report, kept for audits.
	Report *pdfsig.Report `json:"report,omitempty"`
}

// SignerBrief is one signature inside a PDF.
type SignerBrief struct {
	Signer       string     `json:"signer"`
	Organisation string     `json:"organisation"`
	SigningTime  *time.Time `json:"signing_time,omitempty"`
	Valid        bool       `json:"valid"`
	Reasons      []string   `json:"reasons"`
}

// UploadInput describes one upload.
type UploadInput struct {
	Meeting string
	// FileName is the client's name for the file; it is made safe.
	FileName string
	// Title defaults to the file name without its extension.
	Title string
	// Role defaults to RoleDocument, which must be a PDF.
	Role Role
	// Item, if set, attaches the document to that draft item.
	Item string
	Body io.Reader
}

const documentColumns = `id, meeting_id, coalesce(item_id, ''), role, title, file_name, kind, media_type, size, sha256,
	blob_key, sig_state, sig_report, uploaded_by, uploaded_at`

func (s *Service) queryDocuments(ctx context.Context, q querier, where string, args ...any) ([]Document, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+documentColumns+` FROM agenda_documents `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read documents: %w", err)
	}
	defer rows.Close()
	docs := []Document{}
	for rows.Next() {
		var d Document
		var report string
		if err := rows.Scan(&d.ID, &d.Meeting, &d.Item, &d.Role, &d.Title, &d.FileName, &d.Kind, &d.MediaType,
			&d.Size, &d.SHA256, &d.Key, &d.Signature.State, &report, &d.UploadedBy, &d.UploadedAt); err != nil {
			return nil, fmt.Errorf("read documents: %w", err)
		}
		state := d.Signature.State
		if report != "" {
			if err := json.Unmarshal([]byte(report), &d.Signature); err != nil {
				return nil, fmt.Errorf("document %s signature report: %w", d.ID, err)
			}
		}
		d.Signature.State = state
		if d.Signature.Reasons == nil {
			d.Signature.Reasons = []string{}
		}
		if d.Signature.Signers == nil {
			d.Signature.Signers = []SignerBrief{}
		}
		docs = append(docs, d)
	}
	return docs, rows.Err()
}

// Upload streams a document into a temporary file (hashing it and holding
// it to the size limit), sniffs its type, verifies a PDF's signatures, and
// only then stores it as a content-addressed blob and records it. A refused
// or interrupted upload therefore leaves nothing in the object store or the
// database. The body is read to at most MaxUpload+1 bytes.
func (s *Service) Upload(ctx context.Context, who Who, in UploadInput) (Document, error) {
	name, err := SafeName(in.FileName)
	if err != nil {
		return Document{}, err
	}
	if in.Role == "" {
		in.Role = RoleDocument
	}
	if in.Role != RoleDocument && in.Role != RoleAttachment {
		return Document{}, fmt.Errorf("%w: role must be document or attachment", ErrInvalid)
	}
	in.Title = strings.TrimSpace(in.Title)
	if in.Title == "" {
		in.Title = strings.TrimSuffix(name, extOf(name))
	}
	if utf8.RuneCountInString(in.Title) > 300 {
		return Document{}, fmt.Errorf("%w: title is 300 characters at most", ErrInvalid)
	}
	// Check the meeting and item before reading the body, so that a
	// request that would be refused anyway does not cost an upload.
	if err := s.checkTarget(ctx, in.Meeting, in.Item); err != nil {
		return Document{}, err
	}

	f, size, sum, err := s.spool(ctx, in.Body)
	if err != nil {
		return Document{}, err
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()

	kind, err := Sniff(f, size)
	if in.Role == RoleDocument && (err != nil || kind != KindPDF) {
		what := "not a PDF"
		if err == nil {
			what = "a " + strings.ToUpper(string(kind)) + " file (upload it as an attachment instead)"
		}
		return Document{}, fmt.Errorf("%w: the content is %s", ErrNotPDF, what)
	}
	if err != nil {
		return Document{}, err
	}
	sig := DocumentSignature{State: SigUnsigned, Reasons: []string{}, Signers: []SignerBrief{}}
	if kind == KindPDF {
		sig = s.verifyPDF(f, size)
	}

	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Document{}, fmt.Errorf("upload: rewind: %w", err)
	}
	info, err := s.cfg.Store.PutBlob(ctx, f, s.cfg.MaxUpload, kind.MediaType())
	if err != nil {
		return Document{}, fmt.Errorf("upload: store: %w", err)
	}
	if info.SHA256 != sum || info.Size != size {
		return Document{}, fmt.Errorf("upload: the store recorded %s (%d bytes), the upload hashed to %s (%d bytes)",
			info.SHA256, info.Size, sum, size)
	}

	d := Document{
		ID: newID("doc-"), Meeting: in.Meeting, Item: in.Item, Role: in.Role, Title: in.Title,
		FileName: NameForKind(name, kind), Kind: kind, MediaType: kind.MediaType(), Size: size, SHA256: sum,
		Key: info.Key, Signature: sig, UploadedBy: who.Subject, UploadedAt: s.nowString(),
	}
	// A blob left unreferenced because the insert failed is removed later
	// by CollectBlobs, never inline: another upload may share it.
	if err := s.insertDocument(ctx, d); err != nil {
		return Document{}, err
	}
	// An old blob reused by this upload may have been collected between
	// PutBlob and the insert; now that a row refers to it, make sure it is
	// there.
	if _, err := s.cfg.Store.Stat(ctx, d.Key); errors.Is(err, objstore.ErrNotFound) {
		if _, err := f.Seek(0, io.SeekStart); err == nil {
			_, err = s.cfg.Store.PutBlob(ctx, f, s.cfg.MaxUpload, kind.MediaType())
		}
		if err != nil {
			return Document{}, fmt.Errorf("upload: store again: %w", err)
		}
	}
	s.log.InfoContext(ctx, "document uploaded", "meeting", d.Meeting, "document", d.ID, "sha256", d.SHA256,
		"size", d.Size, "kind", d.Kind, "signature", d.Signature.State, "by", who.Subject)
	return d, nil
}

func extOf(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[i:]
	}
	return ""
}

// checkTarget checks that the meeting exists and, if item is set, that it
// is one of the meeting's items.
func (s *Service) checkTarget(ctx context.Context, meeting, item string) error {
	if _, err := meetingTitle(ctx, s.cfg.DB, meeting); err != nil {
		return err
	}
	if item == "" {
		return nil
	}
	var n int
	if err := s.cfg.DB.QueryRowContext(ctx, `SELECT count(*) FROM agenda_items WHERE meeting_id = ? AND id = ?`, meeting, item).Scan(&n); err != nil {
		return fmt.Errorf("read item: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: item %q in meeting %q", ErrNotFound, item, meeting)
	}
	return nil
}

// spool copies body into a temporary file, hashing it on the way, and
// refuses it with ErrTooLarge once it passes MaxUpload. On error the file
// is already removed.
func (s *Service) spool(ctx context.Context, body io.Reader) (*os.File, int64, string, error) {
	f, err := os.CreateTemp(s.cfg.TempDir, spoolPrefix+"*")
	if err != nil {
		return nil, 0, "", fmt.Errorf("upload: spool: %w", err)
	}
	fail := func(err error) (*os.File, int64, string, error) {
		f.Close()
		os.Remove(f.Name())
		return nil, 0, "", err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(ctxReader{ctx, body}, s.cfg.MaxUpload+1))
	switch {
	case err != nil:
		return fail(fmt.Errorf("upload: read: %w", err))
	case n > s.cfg.MaxUpload:
		return fail(fmt.Errorf("%w (%d bytes)", ErrTooLarge, s.cfg.MaxUpload))
	case n == 0:
		return fail(fmt.Errorf("%w: the file is empty", ErrInvalid))
	}
	return f, n, hex.EncodeToString(h.Sum(nil)), nil
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// verifyPDF runs Cầu's PDF signature verifier and condenses its report.
func (s *Service) verifyPDF(r io.ReaderAt, size int64) DocumentSignature {
	out := DocumentSignature{State: SigUnsigned, Reasons: []string{}, Signers: []SignerBrief{}}
	rep, err := pdfsig.Verify(r, size, pdfsig.Options{Policy: s.policy(), MaxSize: s.cfg.MaxUpload})
	if err != nil {
		out.State = SigInvalid
		out.Reasons = append(out.Reasons, "the PDF's signatures could not be read: "+err.Error())
		return out
	}
	out.Report = rep
	if !rep.Signed {
		return out
	}
	out.State = SigValid
	if !rep.Valid {
		out.State = SigInvalid
	}
	for _, sg := range rep.Signatures {
		b := SignerBrief{Signer: sg.Signer, Organisation: sg.Organisation, SigningTime: sg.SigningTime,
			Valid: sg.Valid, Reasons: sg.Reasons}
		if b.Reasons == nil {
			b.Reasons = []string{}
		}
		out.Signers = append(out.Signers, b)
		for _, r := range sg.Reasons {
			out.Reasons = append(out.Reasons, sg.Signer+": "+r)
		}
	}
	if !rep.Valid && len(out.Reasons) == 0 {
		last := rep.Signatures[len(rep.Signatures)-1]
		if !last.CoversWholeFile {
			out.Reasons = append(out.Reasons, "the last signature does not cover the whole file: content was added after signing")
		}
	}
	return out
}

func (s *Service) insertDocument(ctx context.Context, d Document) error {
	report, err := json.Marshal(d.Signature)
	if err != nil {
		return fmt.Errorf("record document: %w", err)
	}
	var item any
	if d.Item != "" {
		item = d.Item
	}
	_, err = s.cfg.DB.ExecContext(ctx, `INSERT INTO agenda_documents(id, meeting_id, item_id, position, role, title, file_name,
		kind, media_type, size, sha256, blob_key, sig_state, sig_report, uploaded_by, uploaded_at)
		VALUES (?, ?, ?, (SELECT coalesce(max(position), 0) + 1 FROM agenda_documents WHERE item_id IS ?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.Meeting, item, item, d.Role, d.Title, d.FileName, d.Kind, d.MediaType, d.Size, d.SHA256, d.Key,
		d.Signature.State, string(report), d.UploadedBy, d.UploadedAt)
	if err != nil {
		return fmt.Errorf("record document: %w", err)
	}
	return nil
}

// Documents lists the meeting's documents that who may read.
func (s *Service) Documents(ctx context.Context, who Who, meeting string) ([]Document, error) {
	if _, err := meetingTitle(ctx, s.cfg.DB, meeting); err != nil {
		return nil, err
	}
	docs, err := s.queryDocuments(ctx, s.cfg.DB, `WHERE meeting_id = ? ORDER BY uploaded_at, id`, meeting)
	if err != nil || who.fullAccess() {
		return docs, err
	}
	readable, err := s.readableIDs(ctx, who, meeting)
	if err != nil {
		return nil, err
	}
	out := []Document{}
	for _, d := range docs {
		if readable[d.ID] {
			out = append(out, d)
		}
	}
	return out, nil
}

// Document returns one document's record if who may read it: the
// secretary and chair always; others when it is in the latest published
// version, in an item whose access list admits them. A refusal is
// ErrForbidden.
func (s *Service) Document(ctx context.Context, who Who, meeting, id string) (Document, error) {
	docs, err := s.queryDocuments(ctx, s.cfg.DB, `WHERE meeting_id = ? AND id = ?`, meeting, id)
	if err != nil {
		return Document{}, err
	}
	if len(docs) == 0 {
		return Document{}, fmt.Errorf("%w: document %q in meeting %q", ErrNotFound, id, meeting)
	}
	if who.fullAccess() {
		return docs[0], nil
	}
	readable, err := s.readableIDs(ctx, who, meeting)
	if err != nil {
		return Document{}, err
	}
	if !readable[id] {
		return Document{}, fmt.Errorf("%w: document %q", ErrForbidden, id)
	}
	return docs[0], nil
}

// readableIDs lists the documents of the latest published version whose
// items admit who.
func (s *Service) readableIDs(ctx context.Context, who Who, meeting string) (map[string]bool, error) {
	out := map[string]bool{}
	m, _, err := s.latestManifest(ctx, meeting)
	if errors.Is(err, ErrNotFound) {
		return out, nil // nothing published yet
	}
	if err != nil {
		return nil, err
	}
	for _, it := range m.Items {
		if it.Access.admits(who) {
			for _, d := range it.Documents {
				out[d.ID] = true
			}
		}
	}
	return out, nil
}

// OpenRange opens n bytes of d from off. A range cannot be checked against
// the document's SHA-256; whole reads go through OpenVerified.
func (s *Service) OpenRange(ctx context.Context, d Document, off, n int64) (io.ReadCloser, error) {
	rc, err := s.cfg.Store.GetRange(ctx, d.Key, off, n)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", d.ID, err)
	}
	return rc, nil
}

// OpenVerified opens the whole of d after reading it once to check its
// SHA-256 (ErrDigestMismatch before a byte is served), and the reader it
// returns checks again as it goes, failing with ErrDigestMismatch instead
// of returning its last chunk should the stored object change between the
// two reads.
func (s *Service) OpenVerified(ctx context.Context, d Document) (io.ReadCloser, error) {
	rc, _, err := s.cfg.Store.Get(ctx, d.Key)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", d.ID, err)
	}
	vr := newVerifyingReader(rc, d.Size, d.SHA256)
	_, err = io.Copy(io.Discard, vr)
	rc.Close()
	if err != nil {
		if errors.Is(err, ErrDigestMismatch) {
			s.log.ErrorContext(ctx, "stored document is corrupted", "meeting", d.Meeting, "document", d.ID, "key", d.Key)
		}
		return nil, fmt.Errorf("check %s: %w", d.ID, err)
	}
	rc, _, err = s.cfg.Store.Get(ctx, d.Key)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", d.ID, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{newVerifyingReader(rc, d.Size, d.SHA256), rc}, nil
}

// PresignURL returns a short-lived URL that fetches d straight from the
// object store, for deployments whose clients reach MinIO.
func (s *Service) PresignURL(ctx context.Context, d Document) (string, time.Time, error) {
	if s.cfg.PresignTTL <= 0 {
		return "", time.Time{}, fmt.Errorf("%w: presigned downloads are off", ErrUnsupported)
	}
	u, err := s.cfg.Store.PresignGet(ctx, d.Key, s.cfg.PresignTTL, d.FileName)
	if errors.Is(err, objstore.ErrUnsupported) {
		return "", time.Time{}, fmt.Errorf("%w: the object store cannot presign", ErrUnsupported)
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("presign %s: %w", d.ID, err)
	}
	return u, s.cfg.Now().Add(s.cfg.PresignTTL), nil
}

// verifyingReader passes a stream through while hashing it, and withholds
// the chunk that completes it unless the whole stream has the expected
// size and SHA-256, so a consumer never receives a complete corrupted copy.
type verifyingReader struct {
	r     io.Reader
	h     hash.Hash
	want  string
	size  int64
	total int64
	done  bool
}

func newVerifyingReader(r io.Reader, size int64, sha string) *verifyingReader {
	return &verifyingReader{r: r, h: sha256.New(), want: sha, size: size}
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.done {
		return 0, io.EOF
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.total += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	if v.total >= v.size || errors.Is(err, io.EOF) {
		if v.total != v.size || hex.EncodeToString(v.h.Sum(nil)) != v.want {
			return 0, ErrDigestMismatch
		}
		v.done = true
		return n, io.EOF
	}
	return n, nil
}

// CollectBlobs deletes content blobs that no document refers to and that
// are older than grace (uploads whose record failed). The grace period
// keeps it clear of uploads in progress, which store the blob before they
// record it. The server runs it hourly.
func (s *Service) CollectBlobs(ctx context.Context, grace time.Duration) (int, error) {
	blobs, err := s.cfg.Store.List(ctx, objstore.BlobPrefix)
	if err != nil {
		return 0, fmt.Errorf("collect blobs: %w", err)
	}
	cutoff := s.cfg.Now().Add(-grace)
	n := 0
	for _, b := range blobs {
		if b.Modified.After(cutoff) {
			continue
		}
		var refs int
		if err := s.cfg.DB.QueryRowContext(ctx, `SELECT count(*) FROM agenda_documents WHERE blob_key = ?`, b.Key).Scan(&refs); err != nil {
			return n, fmt.Errorf("collect blobs: %w", err)
		}
		if refs > 0 {
			continue
		}
		if err := s.cfg.Store.Delete(ctx, b.Key); err != nil {
			return n, fmt.Errorf("collect blobs: delete %s: %w", b.Key, err)
		}
		s.log.InfoContext(ctx, "deleted an unreferenced blob", "key", b.Key)
		n++
	}
	return n, nil
}
