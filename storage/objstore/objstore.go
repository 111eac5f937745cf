// Package objstore owns Cầu's object storage: meeting documents stored as
// content-addressed blobs and small immutable records such as signed agenda
// manifests. It has two implementations behind one Store interface: MinIO
// (any S3 server, through minio-go) and a local directory, the embedded
// default. It knows nothing of meetings, agendas or HTTP; callers choose
// keys and size limits.
//
// Guarantees, identical on both stores (one contract test suite checks them):
//
//   - Nothing is ever overwritten. Put refuses an existing key with ErrExists;
//     PutBlob stores documents under blobs/sha256/<hex> and reuses an existing
//     identical blob. On MinIO the final write is a conditional request
//     (If-None-Match: *) and bucket versioning is a backstop; on disk it is a
//     hard link, which fails if the name exists.
//   - Uploads are staged: SHA-256 and the size are computed and the limit
//     enforced while bytes stream to staging (staging/<random>; on MinIO an
//     upload under 8 MiB is held in memory instead), and only a complete,
//     hashed upload is committed to its key in one atomic step (a
//     conditional PUT or multipart copy on MinIO, a hard link on disk). A
//     failed upload (cancelled context, ErrTooLarge, server gone) leaves
//     nothing visible; its staging data is deleted at once when possible and
//     otherwise by SweepStaging, which the server runs at start and hourly,
//     and on MinIO also by a lifecycle rule on staging/.
//   - Keys are validated (ErrBadKey): a safe charset, no "..", no leading "/".
//     The disk store opens everything through an os.Root, so no key and no
//     symlink can reach outside its directory. The prefixes staging/ and
//     blobs/ are reserved: Put refuses both, and staging/ is never readable.
//   - On a MinIO bucket with object lock enabled, every committed object gets
//     a legal hold, and optionally a retention period (Config.RetainFor).
//
// docs/STORAGE.md describes the bucket layout, settings and configuration.
package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// DocumentLimit is the default size limit for a meeting document (200 MiB).
const DocumentLimit int64 = 200 << 20

// BlobPrefix is the prefix of content-addressed blobs: blobs/sha256/<hex>.
const BlobPrefix = "blobs/sha256/"

// stagingPrefix holds uploads in progress; it is never visible through Store.
const stagingPrefix = "staging/"

// Errors a caller must tell apart. Match them with errors.Is.
var (
	// ErrNotFound means no object has the key.
	ErrNotFound = errors.New("objstore: object not found")
	// ErrExists means Put found an object under the key already.
	ErrExists = errors.New("objstore: object already exists")
	// ErrTooLarge means the upload went over its size limit.
	ErrTooLarge = errors.New("objstore: object larger than the limit")
	// ErrUnsupported means the store cannot do this (PresignGet on disk).
	ErrUnsupported = errors.New("objstore: not supported by this store")
	// ErrBadKey means the key or prefix is not a valid, allowed key.
	ErrBadKey = errors.New("objstore: invalid key")
	// ErrBadRange means a range read starts at or after the end of the object,
	// or has a negative offset or a non-positive length.
	ErrBadRange = errors.New("objstore: invalid range")
)

// Info describes a stored object.
type Info struct {
	// Key is the object's key, e.g. blobs/sha256/<hex>.
	Key string
	// Size is the length in bytes.
	Size int64
	// ContentType is the type given at upload. List leaves it empty.
	ContentType string
	// SHA256 is the lowercase hex SHA-256 of the content when known: always
	// for blobs, and for objects Cầu wrote with Put.
	SHA256 string
	// Modified is when the object was stored.
	Modified time.Time
}

// Store is an object store. Every method validates its key first (ErrBadKey).
type Store interface {
	// Put stores r under key if no object has that key (ErrExists otherwise).
	// At most limit bytes are accepted (ErrTooLarge). Keys under blobs/ and
	// staging/ are refused; use PutBlob for documents.
	Put(ctx context.Context, key string, r io.Reader, limit int64, contentType string) (Info, error)
	// PutBlob streams r into a content-addressed blob and returns its Info
	// (Key = blobs/sha256/<hex>). An existing identical blob is reused, not
	// rewritten, and keeps its original content type.
	PutBlob(ctx context.Context, r io.Reader, limit int64, contentType string) (Info, error)
	// Get opens the whole object.
	Get(ctx context.Context, key string) (io.ReadCloser, Info, error)
	// GetRange opens n bytes from offset off; a range running past the end
	// is cut at the end, and one starting at or after it is ErrBadRange.
	GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error)
	// Stat describes the object.
	Stat(ctx context.Context, key string) (Info, error)
	// List returns the objects whose keys start with prefix, sorted by key.
	// Info.ContentType is left empty.
	List(ctx context.Context, prefix string) ([]Info, error)
	// Delete removes the key; a missing key is not an error. On a versioned
	// or locked MinIO bucket earlier versions remain (see docs/STORAGE.md).
	Delete(ctx context.Context, key string) error
	// PresignGet returns a URL that fetches the object without credentials
	// for ttl (at most 7 days). A non-empty filename is offered to browsers
	// as an attachment name. The disk store returns ErrUnsupported.
	PresignGet(ctx context.Context, key string, ttl time.Duration, filename string) (string, error)
	// SweepStaging removes staging data (and, on MinIO, incomplete multipart
	// uploads) older than olderThan, and returns how many it removed.
	SweepStaging(ctx context.Context, olderThan time.Duration) (int, error)
	// Close releases the store's resources.
	Close() error
}

// Config selects and configures a store. With an empty Endpoint the store
// is the local directory Dir.
type Config struct {
	// Endpoint is the S3 host:port, e.g. "minio.example.vn:9000".
	Endpoint string
	// AccessKey and SecretKey are the S3 credentials.
	AccessKey, SecretKey string
	// Bucket is the bucket name; it is created if missing.
	Bucket string
	// Region is the bucket region; empty lets the server choose.
	Region string
	// TLS selects https for Endpoint (system root certificates).
	TLS bool
	// Dir is the disk store's root when Endpoint is empty.
	Dir string
	// RetainFor, when positive and the bucket has object lock, adds a
	// retention period to every committed object on top of the legal hold.
	RetainFor time.Duration
	// RetainMode is "GOVERNANCE" (default) or "COMPLIANCE".
	RetainMode string
}

// Open returns the MinIO store when cfg.Endpoint is set, and the disk store
// under cfg.Dir otherwise.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (Store, error) {
	if cfg.Endpoint == "" {
		if cfg.Dir == "" {
			return nil, errors.New("objstore: neither an S3 endpoint nor a directory is configured")
		}
		d, err := NewDisk(cfg.Dir)
		if err != nil {
			return nil, err
		}
		return d, nil
	}
	m, err := NewMinIO(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// checkLimit rejects limits that could not admit any upload.
func checkLimit(limit int64) error {
	if limit <= 0 {
		return fmt.Errorf("objstore: size limit must be positive, got %d", limit)
	}
	return nil
}

// checkRange validates a range read's arguments against the object size.
func checkRange(off, n, size int64) (int64, error) {
	if off < 0 || n <= 0 || off >= size {
		return 0, fmt.Errorf("%w: offset %d length %d of %d bytes", ErrBadRange, off, n, size)
	}
	return min(n, size-off), nil
}
