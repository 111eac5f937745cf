package agenda

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cau-bridge/cau/agenda/sigverify"
	"github.com/cau-bridge/cau/storage/objstore"
)

// maxManifest bounds how much of a stored manifest is read.
const maxManifest = 16 << 20

// MaxSignature bounds an uploaded .p7s.
const MaxSignature = 1 << 20

// Version is a published agenda version and its signature state.
type Version struct {
	Meeting        string           `json:"meeting"`
	Version        int              `json:"version"`
	ManifestKey    string           `json:"manifest_key"`
	ManifestSHA256 string           `json:"manifest_sha256"`
	Previous       string           `json:"previous"`
	PublishedAt    string           `json:"published_at"`
	PublishedBy    string           `json:"published_by"`
	Signature      VersionSignature `json:"signature"`
}

// Version signature states: a published version is unsigned until a valid
// signature is attached or the seal applied; then it is signed, for good.
const (
	VersionUnsigned = "unsigned"
	VersionSigned   = "signed"
)

// Signing methods.
const (
	MethodUpload = "upload" // an official's own .p7s
	MethodSeal   = "seal"   // Cầu's organisation seal
)

// VersionSignature says whether and by whom a version is signed.
type VersionSignature struct {
	State        string `json:"state"`
	Method       string `json:"method,omitempty"`
	Signer       string `json:"signer,omitempty"`
	Organisation string `json:"organisation,omitempty"`
	// SignedAt is the signature's timestamp, else its signing time.
	SignedAt string `json:"signed_at,omitempty"`
	// SignedBy is who uploaded the signature or applied the seal.
	SignedBy string `json:"signed_by,omitempty"`
	Key      string `json:"key,omitempty"`
	// Report is the verifier's result at the time of signing.
	Report *sigverify.Result `json:"report,omitempty"`
}

const versionColumns = `meeting_id, version, manifest_key, manifest_sha256, previous_sha256, published_at, published_by,
	sig_state, sig_method, signer_name, signer_org, signed_at, signed_by, p7s_key, sig_report`

func scanVersion(row interface{ Scan(...any) error }) (Version, error) {
	var v Version
	var report string
	err := row.Scan(&v.Meeting, &v.Version, &v.ManifestKey, &v.ManifestSHA256, &v.Previous, &v.PublishedAt, &v.PublishedBy,
		&v.Signature.State, &v.Signature.Method, &v.Signature.Signer, &v.Signature.Organisation, &v.Signature.SignedAt,
		&v.Signature.SignedBy, &v.Signature.Key, &report)
	if err != nil {
		return Version{}, err
	}
	if report != "" {
		v.Signature.Report = &sigverify.Result{}
		if err := json.Unmarshal([]byte(report), v.Signature.Report); err != nil {
			return Version{}, fmt.Errorf("version %d signature report: %w", v.Version, err)
		}
	}
	return v, nil
}

// Versions lists the meeting's published versions, oldest first.
func (s *Service) Versions(ctx context.Context, meeting string) ([]Version, error) {
	if _, err := meetingTitle(ctx, s.cfg.DB, meeting); err != nil {
		return nil, err
	}
	rows, err := s.cfg.DB.QueryContext(ctx, `SELECT `+versionColumns+` FROM agenda_versions WHERE meeting_id = ? ORDER BY version`, meeting)
	if err != nil {
		return nil, fmt.Errorf("read versions: %w", err)
	}
	defer rows.Close()
	out := []Version{}
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("read versions: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Version returns version n of the meeting's agenda; n = 0 is the latest.
func (s *Service) Version(ctx context.Context, meeting string, n int) (Version, error) {
	return s.version(ctx, s.cfg.DB, meeting, n)
}

func (s *Service) version(ctx context.Context, q querier, meeting string, n int) (Version, error) {
	query := `SELECT ` + versionColumns + ` FROM agenda_versions WHERE meeting_id = ? AND version = ?`
	args := []any{meeting, n}
	if n == 0 {
		query = `SELECT ` + versionColumns + ` FROM agenda_versions WHERE meeting_id = ? ORDER BY version DESC LIMIT 1`
		args = args[:1]
	}
	v, err := scanVersion(q.QueryRowContext(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		if n == 0 {
			return Version{}, fmt.Errorf("%w: meeting %q has no published agenda", ErrNotFound, meeting)
		}
		return Version{}, fmt.Errorf("%w: agenda version %d of meeting %q", ErrNotFound, n, meeting)
	}
	if err != nil {
		return Version{}, fmt.Errorf("read version: %w", err)
	}
	return v, nil
}

// ManifestBytes returns a version's stored manifest, exactly the bytes to
// sign, after checking them against the SHA-256 recorded at publication.
func (s *Service) ManifestBytes(ctx context.Context, v Version) ([]byte, error) {
	b, err := s.readObject(ctx, v.ManifestKey, maxManifest)
	if err != nil {
		return nil, err
	}
	if ManifestHash(b) != v.ManifestSHA256 {
		s.log.ErrorContext(ctx, "stored manifest is corrupted", "meeting", v.Meeting, "version", v.Version, "key", v.ManifestKey)
		return nil, fmt.Errorf("manifest %s: %w", v.ManifestKey, ErrDigestMismatch)
	}
	return b, nil
}

// SignatureBytes returns a signed version's detached signature (DER).
func (s *Service) SignatureBytes(ctx context.Context, v Version) ([]byte, error) {
	if v.Signature.State != VersionSigned {
		return nil, fmt.Errorf("%w: version %d is not signed", ErrNotFound, v.Version)
	}
	return s.readObject(ctx, v.Signature.Key, MaxSignature)
}

func (s *Service) readObject(ctx context.Context, key string, limit int64) ([]byte, error) {
	rc, _, err := s.cfg.Store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("read %s: larger than %d bytes", key, limit)
	}
	return b, nil
}

func (s *Service) latestManifest(ctx context.Context, meeting string) (*Manifest, Version, error) {
	v, err := s.Version(ctx, meeting, 0)
	if err != nil {
		return nil, Version{}, err
	}
	b, err := s.ManifestBytes(ctx, v)
	if err != nil {
		return nil, Version{}, err
	}
	m, err := ParseManifest(b)
	if err != nil {
		return nil, Version{}, fmt.Errorf("version %d: %w", v.Version, err)
	}
	return m, v, nil
}

// Publish freezes the draft as the next version: it builds the manifest
// (linking the previous version's hash), stores it under
// meetings/<id>/agenda/v<N>/manifest.json and records the version,
// unsigned. Publishing an unchanged or empty draft is refused.
//
// The object store is written outside any database transaction (a slow
// store must not hold SQLite's write lock). If recording fails after the
// store accepted the manifest, the manifest is deleted again; if the
// process died in between, the next Publish finds the orphan and adopts
// it when it is this meeting's next version.
func (s *Service) Publish(ctx context.Context, who Who, meeting string) (Version, error) {
	var m *Manifest
	var prev *Version
	err := s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		title, err := meetingTitle(ctx, tx, meeting)
		if err != nil {
			return err
		}
		items, err := s.draftItems(ctx, tx, meeting)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return fmt.Errorf("%w: the agenda has no items", ErrInvalid)
		}
		m = &Manifest{
			Format: ManifestFormat, Meeting: meeting, MeetingTitle: title, Version: 1,
			PublishedAt: s.cfg.Now().UTC().Truncate(time.Second).Format(time.RFC3339),
			PublishedBy: publisherName(who),
			Items:       manifestItems(items),
		}
		p, err := s.version(ctx, tx, meeting, 0)
		switch {
		case err == nil:
			prev = &p
			m.Version, m.Previous = p.Version+1, p.ManifestSHA256
		case !errors.Is(err, ErrNotFound):
			return err
		}
		return nil
	})
	if err != nil {
		return Version{}, err
	}
	if prev != nil {
		if err := s.checkChanged(ctx, *prev, m); err != nil {
			return Version{}, err
		}
	}
	b, err := m.Canonical()
	if err != nil {
		return Version{}, err
	}
	key := ManifestKey(meeting, m.Version)
	created := true
	if _, err := s.cfg.Store.Put(ctx, key, bytes.NewReader(b), int64(len(b)), "application/json"); err != nil {
		if !errors.Is(err, objstore.ErrExists) {
			return Version{}, fmt.Errorf("store manifest: %w", err)
		}
		if b, err = s.adoptManifest(ctx, key, m); err != nil {
			return Version{}, err
		}
		created = false
		if m, err = ParseManifest(b); err != nil {
			return Version{}, err
		}
	}
	v := Version{Meeting: meeting, Version: m.Version, ManifestKey: key,
		ManifestSHA256: ManifestHash(b), Previous: m.Previous, PublishedAt: m.PublishedAt, PublishedBy: m.PublishedBy,
		Signature: VersionSignature{State: VersionUnsigned}}
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		latest, err := s.version(ctx, tx, meeting, 0)
		switch {
		case err == nil && (prev == nil || latest.Version != prev.Version):
			return fmt.Errorf("%w: another version was published meanwhile", ErrConflict)
		case err != nil && !errors.Is(err, ErrNotFound):
			return err
		case err != nil && prev != nil:
			return fmt.Errorf("%w: version %d disappeared meanwhile", ErrConflict, prev.Version)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO agenda_versions(meeting_id, version, manifest_key, manifest_sha256,
			previous_sha256, published_at, published_by) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			meeting, v.Version, v.ManifestKey, v.ManifestSHA256, v.Previous, v.PublishedAt, v.PublishedBy); err != nil {
			return fmt.Errorf("record version: %w", err)
		}
		return nil
	})
	if err != nil {
		if created {
			s.dropObject(key)
		}
		return Version{}, err
	}
	s.log.InfoContext(ctx, "agenda published", "meeting", meeting, "version", v.Version, "sha256", v.ManifestSHA256, "by", who.Subject)
	return v, nil
}

// adoptManifest returns the manifest already stored at key when it is the
// one an interrupted Publish left: the same meeting, version and previous
// hash. Anything else there needs a person to look (never overwrite).
func (s *Service) adoptManifest(ctx context.Context, key string, want *Manifest) ([]byte, error) {
	rc, _, err := s.cfg.Store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	old, err := ParseManifest(b)
	if err != nil || old.Meeting != want.Meeting || old.Version != want.Version || old.Previous != want.Previous {
		return nil, fmt.Errorf("%w: %s already exists in the object store and is not this version; ask IT to inspect it", ErrConflict, key)
	}
	s.log.WarnContext(ctx, "adopting a manifest stored by an interrupted publication", "key", key)
	return b, nil
}

// dropObject deletes an object this request stored but could not record,
// with its own deadline: the request's context may be what ended.
func (s *Service) dropObject(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.cfg.Store.Delete(ctx, key); err != nil {
		s.log.Error("delete an unrecorded object; it stays orphaned", "key", key, "err", err)
	}
}

func publisherName(w Who) string {
	if w.Name != "" {
		return w.Name
	}
	return w.Subject
}

// checkChanged refuses a new version whose items equal prev's.
func (s *Service) checkChanged(ctx context.Context, prev Version, m *Manifest) error {
	b, err := s.ManifestBytes(ctx, prev)
	if err != nil {
		return err
	}
	old, err := ParseManifest(b)
	if err != nil {
		return fmt.Errorf("version %d: %w", prev.Version, err)
	}
	a, _ := json.Marshal(old.normalized().Items)
	c, _ := json.Marshal(m.normalized().Items)
	if bytes.Equal(a, c) {
		return fmt.Errorf("%w: nothing changed since version %d", ErrConflict, prev.Version)
	}
	return nil
}

func manifestItems(items []Item) []ManifestItem {
	out := make([]ManifestItem, len(items))
	for i, it := range items {
		mi := ManifestItem{Number: it.Number, Title: it.Title, Presenter: it.Presenter, DurationMin: it.DurationMin,
			Access: it.Access, Documents: make([]ManifestDocument, len(it.Documents))}
		for j, d := range it.Documents {
			mi.Documents[j] = ManifestDocument{ID: d.ID, Title: d.Title, FileName: d.FileName, Role: d.Role,
				MediaType: d.MediaType, Size: d.Size, SHA256: d.SHA256, Key: d.Key}
		}
		out[i] = mi
	}
	return out
}

// AttachSignature verifies an official's detached CMS signature (DER, or
// PEM as openssl writes by default) over version n's exact manifest bytes
// against the trusted roots, and records the version as signed. A
// signature that does not verify is a *SignatureError; a version already
// signed is ErrConflict.
func (s *Service) AttachSignature(ctx context.Context, who Who, meeting string, n int, p7s []byte) (Version, error) {
	der, err := signatureDER(p7s)
	if err != nil {
		return Version{}, err
	}
	v, manifest, err := s.unsignedVersion(ctx, meeting, n)
	if err != nil {
		return Version{}, err
	}
	res, err := VerifyManifestSignature(manifest, der, s.policy())
	if err != nil {
		return Version{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if !res.Valid {
		return Version{}, &SignatureError{Reasons: res.Reasons}
	}
	return s.recordSignature(ctx, who, v, der, res, MethodUpload)
}

// Seal applies the organisation seal to version n and records it, after
// checking the seal with the same verifier an uploaded signature meets.
func (s *Service) Seal(ctx context.Context, who Who, meeting string, n int) (Version, error) {
	if s.cfg.Sealer == nil {
		return Version{}, ErrSealNotConfigured
	}
	v, manifest, err := s.unsignedVersion(ctx, meeting, n)
	if err != nil {
		return Version{}, err
	}
	der, err := s.cfg.Sealer.Seal(manifest)
	if err != nil {
		return Version{}, err
	}
	res, err := VerifyManifestSignature(manifest, der, s.policy())
	if err != nil {
		return Version{}, fmt.Errorf("seal self-check: %w", err)
	}
	if !res.Valid {
		s.log.ErrorContext(ctx, "the organisation seal does not verify", "reasons", res.Reasons)
		return Version{}, fmt.Errorf("%w: the configured seal does not verify against the trusted roots: %s",
			ErrSealNotConfigured, strings.Join(res.Reasons, "; "))
	}
	return s.recordSignature(ctx, who, v, der, res, MethodSeal)
}

// signatureDER accepts a DER .p7s, or a PEM one (PKCS7 or CMS block).
func signatureDER(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty signature", ErrInvalid)
	}
	if len(b) > MaxSignature {
		return nil, fmt.Errorf("%w: a signature is at most %d bytes", ErrInvalid, MaxSignature)
	}
	if !bytes.HasPrefix(bytes.TrimSpace(b), []byte("-----BEGIN")) {
		return b, nil
	}
	block, _ := pem.Decode(bytes.TrimSpace(b))
	if block == nil || (block.Type != "PKCS7" && block.Type != "CMS") {
		return nil, fmt.Errorf("%w: PEM signature must be a PKCS7 or CMS block", ErrInvalid)
	}
	return block.Bytes, nil
}

func (s *Service) unsignedVersion(ctx context.Context, meeting string, n int) (Version, []byte, error) {
	v, err := s.Version(ctx, meeting, n)
	if err != nil {
		return Version{}, nil, err
	}
	if v.Signature.State == VersionSigned {
		return Version{}, nil, fmt.Errorf("%w: version %d is already signed by %s", ErrConflict, v.Version, v.Signature.Signer)
	}
	manifest, err := s.ManifestBytes(ctx, v)
	if err != nil {
		return Version{}, nil, err
	}
	return v, manifest, nil
}

func (s *Service) recordSignature(ctx context.Context, who Who, v Version, der []byte, res *sigverify.Result, method string) (Version, error) {
	report, err := json.Marshal(res)
	if err != nil {
		return Version{}, fmt.Errorf("record signature: %w", err)
	}
	signedAt := s.cfg.Now().UTC()
	if res.SigningTime != nil {
		signedAt = res.SigningTime.UTC()
	}
	if res.TimestampTime != nil {
		signedAt = res.TimestampTime.UTC()
	}
	key := SignatureKey(v.Meeting, v.Version)
	// Stored first, outside any transaction; deleted again if the version
	// cannot be marked signed. A .p7s left by a crash is accepted on the
	// next signing only if it is byte-identical (see sameObject).
	created := true
	if _, err := s.cfg.Store.Put(ctx, key, bytes.NewReader(der), int64(len(der)), "application/pkcs7-signature"); err != nil {
		if !errors.Is(err, objstore.ErrExists) {
			return Version{}, fmt.Errorf("store signature: %w", err)
		}
		if err := s.sameObject(ctx, key, der); err != nil {
			return Version{}, err
		}
		created = false
	}
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `UPDATE agenda_versions SET sig_state = 'signed', sig_method = ?, signer_name = ?,
			signer_org = ?, signed_at = ?, signed_by = ?, p7s_key = ?, sig_report = ?
			WHERE meeting_id = ? AND version = ? AND sig_state = 'unsigned'`,
			method, res.Signer, res.Organisation, signedAt.Format(time.RFC3339), who.Subject, key, string(report), v.Meeting, v.Version)
		if err != nil {
			return fmt.Errorf("record signature: %w", err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: version %d was signed meanwhile", ErrConflict, v.Version)
		}
		return nil
	})
	if err != nil {
		if created {
			s.dropObject(key)
		}
		return Version{}, err
	}
	s.log.InfoContext(ctx, "agenda signed", "meeting", v.Meeting, "version", v.Version, "method", method,
		"signer", res.Signer, "organisation", res.Organisation, "by", who.Subject)
	return s.Version(ctx, v.Meeting, v.Version)
}

// sameObject accepts an existing object at key only if it holds exactly
// want (an interrupted signing of the same bytes).
func (s *Service) sameObject(ctx context.Context, key string, want []byte) error {
	rc, _, err := s.cfg.Store.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(io.LimitReader(rc, int64(len(want))+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("%w: %s already exists in the object store with other bytes; ask IT to inspect it", ErrConflict, key)
	}
	return nil
}

// PublishedAgenda is a published version as a reader sees it.
type PublishedAgenda struct {
	Version  Version   `json:"version"`
	Manifest *Manifest `json:"manifest"`
	// Readable lists the IDs of the documents the reader may download.
	Readable []string `json:"readable"`
}

// Published returns version n (0: the latest) with the documents who may
// read.
func (s *Service) Published(ctx context.Context, who Who, meeting string, n int) (PublishedAgenda, error) {
	v, err := s.Version(ctx, meeting, n)
	if err != nil {
		return PublishedAgenda{}, err
	}
	b, err := s.ManifestBytes(ctx, v)
	if err != nil {
		return PublishedAgenda{}, err
	}
	m, err := ParseManifest(b)
	if err != nil {
		return PublishedAgenda{}, fmt.Errorf("version %d: %w", v.Version, err)
	}
	out := PublishedAgenda{Version: v, Manifest: m, Readable: []string{}}
	for _, it := range m.Items {
		if it.Access.admits(who) {
			for _, d := range it.Documents {
				out.Readable = append(out.Readable, d.ID)
			}
		}
	}
	return out, nil
}

// PrepareBundle assembles the verification bundle of signed version n,
// re-verifying its signature first. With documents, the files who may read
// are included (each checked against its SHA-256 as it is copied); all are
// listed in documents.sha256 either way.
func (s *Service) PrepareBundle(ctx context.Context, who Who, meeting string, n int, documents bool) (*Bundle, error) {
	v, err := s.Version(ctx, meeting, n)
	if err != nil {
		return nil, err
	}
	if v.Signature.State != VersionSigned {
		return nil, fmt.Errorf("%w: version %d is not signed yet", ErrConflict, v.Version)
	}
	manifest, err := s.ManifestBytes(ctx, v)
	if err != nil {
		return nil, err
	}
	p7s, err := s.SignatureBytes(ctx, v)
	if err != nil {
		return nil, err
	}
	res, err := VerifyManifestSignature(manifest, p7s, s.policy())
	if err != nil {
		return nil, err
	}
	if !res.Valid || len(res.Chain) == 0 {
		return nil, fmt.Errorf("%w: version %d's signature no longer verifies: %s", ErrConflict, v.Version, strings.Join(res.Reasons, "; "))
	}
	m, err := ParseManifest(manifest)
	if err != nil {
		return nil, err
	}
	docs := BundleDocuments(m)
	if documents {
		i := 0
		for _, it := range m.Items {
			admitted := it.Access.admits(who)
			for _, d := range it.Documents {
				if admitted {
					key := d.Key
					docs[i].Open = func(ctx context.Context) (io.ReadCloser, error) {
						rc, _, err := s.cfg.Store.Get(ctx, key)
						return rc, err
					}
				}
				i++
			}
		}
	}
	var signedAt *time.Time
	if t, err := time.Parse(time.RFC3339, v.Signature.SignedAt); err == nil {
		signedAt = &t
	}
	return &Bundle{Manifest: manifest, Signature: p7s, Version: v.Version, Previous: v.Previous,
		Signer: res.Signer, Organisation: res.Organisation, Method: v.Signature.Method, SignedAt: signedAt,
		Chain: res.Chain, Documents: docs}, nil
}
