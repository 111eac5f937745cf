package agenda

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cau-bridge/cau/agenda/sigverify"
	"github.com/cau-bridge/cau/registry"
	"github.com/cau-bridge/cau/storage"
	"github.com/cau-bridge/cau/storage/objstore"
)

// Errors callers tell apart (web maps them to HTTP statuses). Match them
// with errors.Is; ErrUnsupportedType, ErrBadFileName, ErrBadManifest and
// ErrDigestMismatch are declared next to the code that finds them.
var (
	// ErrNotFound means the meeting, item, document or version does not exist.
	ErrNotFound = errors.New("agenda: not found")
	// ErrInvalid means a request's fields are not acceptable.
	ErrInvalid = errors.New("agenda: invalid request")
	// ErrConflict means the request does not fit the current state, e.g. a
	// version that is already signed, or nothing changed since the last one.
	ErrConflict = errors.New("agenda: conflict")
	// ErrForbidden means the item's access list does not admit the principal.
	ErrForbidden = errors.New("agenda: not on this item's access list")
	// ErrTooLarge means an upload went over the configured size limit.
	ErrTooLarge = errors.New("agenda: upload larger than the limit")
	// ErrNotPDF means a meeting document (shown on screen) is not a PDF.
	ErrNotPDF = errors.New("agenda: a meeting document must be a PDF")
	// ErrSignatureInvalid means an uploaded manifest signature was refused;
	// the error is a *SignatureError listing why.
	ErrSignatureInvalid = errors.New("agenda: signature refused")
	// ErrSealNotConfigured means no organisation seal certificate is set up.
	ErrSealNotConfigured = errors.New("agenda: no organisation seal is configured")
	// ErrUnsupported means the object store cannot do this (presigned URLs
	// on the disk store).
	ErrUnsupported = errors.New("agenda: not supported by this deployment")
)

// SignatureError is a refused signature with the verifier's reasons.
type SignatureError struct {
	Reasons []string
}

func (e *SignatureError) Error() string {
	return "agenda: signature refused: " + strings.Join(e.Reasons, "; ")
}

// Unwrap makes errors.Is(err, ErrSignatureInvalid) true.
func (e *SignatureError) Unwrap() error { return ErrSignatureInvalid }

// Config configures a Service.
type Config struct {
	DB    *storage.DB
	Store objstore.Store
	// Roots are the trusted roots for every signature (uploaded .p7s, PDF
	// signatures, the seal's self-check). Nil makes every signature invalid.
	Roots *x509.CertPool
	// Intermediates are extra, untrusted intermediates for chain building.
	Intermediates []*x509.Certificate
	// Sealer, if set, applies the organisation seal.
	Sealer *Sealer
	// MaxUpload caps one document; 0 means objstore.DocumentLimit (200 MiB).
	MaxUpload int64
	// TempDir is where uploads are spooled while they are checked; empty
	// means os.TempDir().
	TempDir string
	// PresignTTL, when positive, lets readers fetch documents straight from
	// an S3 store through presigned URLs that live this long.
	PresignTTL time.Duration
	Logger     *slog.Logger
	// Now returns the time; nil means time.Now.
	Now func() time.Time
}

// Service is the agenda: drafts, documents, versions and signatures of
// every meeting, kept in the database and the object store. It holds no
// mutable state of its own and is safe for concurrent use.
type Service struct {
	cfg Config
	log *slog.Logger
}

// New checks cfg and returns the service.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Store == nil {
		return nil, errors.New("agenda: a database and an object store are required")
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = objstore.DocumentLimit
	}
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg, log: cfg.Logger.With("component", "agenda")}, nil
}

// SweepTemp removes upload spool files older than olderThan from TempDir,
// left by a process that died mid-upload, and returns how many it removed.
// The server runs it at start.
func (s *Service) SweepTemp(olderThan time.Duration) (int, error) {
	entries, err := os.ReadDir(s.cfg.TempDir)
	if err != nil {
		return 0, fmt.Errorf("sweep upload spool: %w", err)
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() || !strings.HasPrefix(e.Name(), spoolPrefix) {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > olderThan {
			if os.Remove(filepath.Join(s.cfg.TempDir, e.Name())) == nil {
				n++
			}
		}
	}
	return n, nil
}

// spoolPrefix names upload spool files in TempDir.
const spoolPrefix = "cau-upload-"

// MaxUpload is the size limit for one document in bytes.
func (s *Service) MaxUpload() int64 { return s.cfg.MaxUpload }

// CanSeal reports whether an organisation seal is configured.
func (s *Service) CanSeal() bool { return s.cfg.Sealer != nil }

func (s *Service) policy() sigverify.Policy {
	return sigverify.Policy{Roots: s.cfg.Roots, Intermediates: s.cfg.Intermediates, Now: s.cfg.Now}
}

// Who is the principal a request comes from, with its role in the meeting.
type Who struct {
	Subject string
	Name    string
	Role    registry.Role
	// Point is set when the principal is a bridge point's device.
	Point string
}

// fullAccess reports whether w sees every item whatever its access list:
// those who prepare, approve and sign the agenda (the roles the role table
// lets write or sign it: secretary and chair).
func (w Who) fullAccess() bool {
	return registry.Allowed(w.Role, registry.ActAgendaWrite) || registry.Allowed(w.Role, registry.ActAgendaSign)
}

// CanSeeDraft reports whether w may read the draft agenda.
func (w Who) CanSeeDraft() bool { return w.fullAccess() }

// admits reports whether the access list lets w read the item's documents.
func (a Access) admits(w Who) bool {
	return a.Everyone || w.fullAccess() || slices.Contains(a.Roles, string(w.Role)) ||
		(w.Point != "" && slices.Contains(a.Points, w.Point))
}

// validate normalises the list: everyone clears the lists, which are
// de-duplicated and sorted so that equal lists encode alike.
func (a *Access) validate() error {
	if a.Everyone {
		a.Roles, a.Points = []string{}, []string{}
		return nil
	}
	for _, r := range a.Roles {
		if !registry.Role(r).Valid() {
			return fmt.Errorf("%w: unknown role %q in access list", ErrInvalid, r)
		}
	}
	for _, p := range a.Points {
		if p == "" || len(p) > 64 || strings.ContainsAny(p, " /\\") {
			return fmt.Errorf("%w: bad point id %q in access list", ErrInvalid, p)
		}
	}
	a.Roles = sortedUnique(a.Roles)
	a.Points = sortedUnique(a.Points)
	return nil
}

func sortedUnique(v []string) []string {
	out := slices.Clone(v)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// meetingTitle returns the meeting's title, or ErrNotFound.
func meetingTitle(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, meeting string) (string, error) {
	var title string
	err := q.QueryRowContext(ctx, `SELECT title FROM meetings WHERE id = ?`, meeting).Scan(&title)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%w: meeting %q", ErrNotFound, meeting)
	}
	if err != nil {
		return "", fmt.Errorf("read meeting %s: %w", meeting, err)
	}
	return title, nil
}

func newID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func (s *Service) nowString() string {
	return s.cfg.Now().UTC().Format("2006-01-02T15:04:05.000Z")
}
