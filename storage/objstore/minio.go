package objstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// chunkSize is the size of one staging chunk. Every chunk but the last must
// be at least 5 MiB, S3's minimum part size for the multipart copy that
// commits them; it is also the memory one upload holds.
const chunkSize = 8 << 20

// maxParts is S3's limit on parts in one multipart upload.
const maxParts = 10000

// cleanupTimeout bounds cleanup that runs after the caller's context ended.
const cleanupTimeout = 30 * time.Second

// MinIO stores objects in one bucket of a MinIO (or other S3) server.
//
// An upload that fits in one chunk (8 MiB) is hashed in memory and written
// with one conditional PUT (If-None-Match: *) straight to its key. A larger
// upload streams chunk by chunk into staging/<random>/<n>, each chunk a
// complete object, and is committed by a multipart upload to the final key
// whose parts are server-side copies of the chunks, created and completed
// with If-None-Match: *. Chunks are objects rather than parts of an
// incomplete multipart upload because MinIO lists incomplete uploads only
// by exact key, so after a crash they could not be found again; chunks can,
// by SweepStaging and by the bucket's lifecycle rule.
type MinIO struct {
	client *minio.Client
	core   minio.Core
	bucket string
	log    *slog.Logger
	// locked is true when the bucket has object lock enabled.
	locked     bool
	retainFor  time.Duration
	retainMode minio.RetentionMode
}

// NewMinIO connects to cfg.Endpoint and prepares cfg.Bucket: it creates the
// bucket with versioning if missing, enables versioning if off, installs the
// staging lifecycle rule and reads the object-lock configuration.
func NewMinIO(ctx context.Context, cfg Config, log *slog.Logger) (*MinIO, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("objstore: no bucket configured")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mode := minio.RetentionMode(strings.ToUpper(cfg.RetainMode))
	if mode == "" {
		mode = minio.Governance
	}
	if !mode.IsValid() {
		return nil, fmt.Errorf("objstore: retention mode %q is neither GOVERNANCE nor COMPLIANCE", cfg.RetainMode)
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.TLS,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("objstore: minio client for %s: %w", cfg.Endpoint, err)
	}
	m := &MinIO{
		client: client, core: minio.Core{Client: client}, bucket: cfg.Bucket,
		log: log.With("bucket", cfg.Bucket), retainFor: cfg.RetainFor, retainMode: mode,
	}
	if err := m.prepareBucket(ctx, cfg.Region); err != nil {
		return nil, fmt.Errorf("objstore: prepare bucket %s on %s: %w", cfg.Bucket, cfg.Endpoint, err)
	}
	return m, nil
}

// Close implements Store; the client holds nothing that needs closing.
func (m *MinIO) Close() error { return nil }

// Put implements Store.
func (m *MinIO) Put(ctx context.Context, key string, r io.Reader, limit int64, contentType string) (Info, error) {
	if err := validPutKey(key); err != nil {
		return Info{}, err
	}
	if err := checkLimit(limit); err != nil {
		return Info{}, err
	}
	// Refuse early rather than after streaming; the commit checks again.
	if _, err := m.Stat(ctx, key); err == nil {
		return Info{}, fmt.Errorf("put %s: %w", key, ErrExists)
	} else if !errors.Is(err, ErrNotFound) {
		return Info{}, fmt.Errorf("put %s: %w", key, err)
	}
	created, err := m.upload(ctx, r, limit, contentType, func(string) (string, bool) { return key, true })
	if err != nil {
		return Info{}, fmt.Errorf("put %s: %w", key, err)
	}
	if !created {
		return Info{}, fmt.Errorf("put %s: %w", key, ErrExists)
	}
	return m.Stat(ctx, key)
}

// PutBlob implements Store.
func (m *MinIO) PutBlob(ctx context.Context, r io.Reader, limit int64, contentType string) (Info, error) {
	if err := checkLimit(limit); err != nil {
		return Info{}, err
	}
	var key string
	_, err := m.upload(ctx, r, limit, contentType, func(sum string) (string, bool) {
		key = BlobPrefix + sum
		// An identical blob is already stored: reuse it, write nothing.
		_, err := m.Stat(ctx, key)
		return key, err != nil
	})
	if err != nil {
		return Info{}, fmt.Errorf("put blob: %w", err)
	}
	return m.Stat(ctx, key)
}

// upload streams r and commits it to the key dest chooses from the SHA-256;
// dest returning false skips the commit. It reports whether it created the
// object; false with a nil error means the key was taken.
func (m *MinIO) upload(ctx context.Context, r io.Reader, limit int64, contentType string,
	dest func(sum string) (string, bool)) (bool, error) {
	mt := newMeter(ctx, r, limit)
	size := chunkSize
	if per := (limit + maxParts - 1) / maxParts; per > int64(size) {
		size = int(min(per, 5<<30))
	}
	buf := make([]byte, min(int64(size), limit+1))
	n, err := io.ReadFull(mt, buf)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		key, ok := dest(mt.hex())
		if !ok {
			return false, nil
		}
		return m.putSmall(ctx, key, buf[:n], contentType, mt.hex())
	case err != nil:
		return false, err
	}
	s := &staging{m: m, prefix: stagingPrefix + stagingName() + "/"}
	defer s.discard(ctx)
	if err := s.add(ctx, buf[:n]); err != nil {
		return false, err
	}
	for {
		n, err := io.ReadFull(mt, buf)
		last := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !last {
			return false, err
		}
		if n > 0 {
			if err := s.add(ctx, buf[:n]); err != nil {
				return false, err
			}
		}
		if last {
			break
		}
	}
	key, ok := dest(mt.hex())
	if !ok {
		return false, nil
	}
	return m.commit(ctx, key, s.chunks, contentType, mt.hex())
}

// putSmall writes data to key with one conditional PUT. The server checks
// the body against its MD5 and SHA-256.
func (m *MinIO) putSmall(ctx context.Context, key string, data []byte, contentType, sum string) (bool, error) {
	md5sum := md5.Sum(data)
	opts := m.finalOptions(contentType, sum)
	_, err := m.core.PutObject(ctx, m.bucket, key, bytes.NewReader(data), int64(len(data)),
		base64.StdEncoding.EncodeToString(md5sum[:]), sum, opts)
	if isPreconditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("write %s: %w", key, err)
	}
	return true, nil
}

// commit assembles the staged chunks into key by server-side copy. The
// object appears only when CompleteMultipartUpload succeeds, and only if key
// is still free then.
func (m *MinIO) commit(ctx context.Context, key string, chunks []chunk, contentType, sum string) (created bool, err error) {
	uploadID, err := m.core.NewMultipartUpload(ctx, m.bucket, key, m.finalOptions(contentType, sum))
	if isPreconditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("start commit of %s: %w", key, err)
	}
	defer func() {
		if created {
			return
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if aerr := m.core.AbortMultipartUpload(cctx, m.bucket, key, uploadID); aerr != nil {
			m.log.Warn("abort commit upload; SweepStaging or MinIO's stale-upload expiry will remove it",
				"key", key, "upload", uploadID, "err", aerr)
		}
	}()
	parts := make([]minio.CompletePart, 0, len(chunks))
	for i, c := range chunks {
		p, err := m.core.CopyObjectPart(ctx, m.bucket, c.key, m.bucket, key, uploadID, i+1, 0, c.size,
			map[string]string{"x-amz-copy-source-if-match": `"` + c.etag + `"`})
		if err != nil {
			return false, fmt.Errorf("copy chunk %d into %s: %w", i+1, key, err)
		}
		parts = append(parts, p)
	}
	var opts minio.PutObjectOptions
	opts.SetMatchETagExcept("*")
	_, err = m.core.CompleteMultipartUpload(ctx, m.bucket, key, uploadID, parts, opts)
	if isPreconditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("complete commit of %s: %w", key, err)
	}
	return true, nil
}

// finalOptions are the options of a write to a final key: never replace,
// record the SHA-256, and lock it when the bucket has object lock.
func (m *MinIO) finalOptions(contentType, sum string) minio.PutObjectOptions {
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	opts := minio.PutObjectOptions{ContentType: contentType, UserMetadata: map[string]string{"sha256": sum}}
	if m.locked {
		opts.LegalHold = minio.LegalHoldEnabled
		if m.retainFor > 0 {
			opts.Mode = m.retainMode
			opts.RetainUntilDate = time.Now().Add(m.retainFor).UTC()
		}
	}
	opts.SetMatchETagExcept("*")
	return opts
}

// chunk is one staged object.
type chunk struct {
	key, version, etag string
	size               int64
}

// staging is one upload's chunks under staging/<random>/.
type staging struct {
	m      *MinIO
	prefix string
	chunks []chunk
}

func (s *staging) add(ctx context.Context, data []byte) error {
	key := fmt.Sprintf("%s%05d", s.prefix, len(s.chunks)+1)
	sum := sha256.Sum256(data)
	info, err := s.m.core.PutObject(ctx, s.m.bucket, key, bytes.NewReader(data), int64(len(data)), "",
		hex.EncodeToString(sum[:]), minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return fmt.Errorf("stage chunk %s: %w", key, err)
	}
	s.chunks = append(s.chunks, chunk{key: key, version: info.VersionID, etag: info.ETag, size: int64(len(data))})
	return nil
}

// discard deletes every staged chunk version, even after ctx ended. What it
// cannot delete (server gone) SweepStaging and the lifecycle rule remove.
func (s *staging) discard(ctx context.Context) {
	if len(s.chunks) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	objs := make(chan minio.ObjectInfo, len(s.chunks))
	for _, c := range s.chunks {
		objs <- minio.ObjectInfo{Key: c.key, VersionID: c.version}
	}
	close(objs)
	for e := range s.m.client.RemoveObjects(cctx, s.m.bucket, objs, minio.RemoveObjectsOptions{GovernanceBypass: true}) {
		s.m.log.Warn("delete staged chunk; SweepStaging will remove it", "key", e.ObjectName, "err", e.Err)
	}
}

// Get implements Store.
func (m *MinIO) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	if err := validKey(key); err != nil {
		return nil, Info{}, err
	}
	obj, err := m.client.GetObject(ctx, m.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, Info{}, m.mapErr("get", key, err)
	}
	oi, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, Info{}, m.mapErr("get", key, err)
	}
	return obj, infoOf(oi), nil
}

// GetRange implements Store.
func (m *MinIO) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	if err := validKey(key); err != nil {
		return nil, err
	}
	if off < 0 || n <= 0 {
		return nil, fmt.Errorf("get %s: %w: offset %d length %d", key, ErrBadRange, off, n)
	}
	var opts minio.GetObjectOptions
	if err := opts.SetRange(off, off+n-1); err != nil {
		return nil, fmt.Errorf("get %s: %w: %v", key, ErrBadRange, err)
	}
	obj, err := m.client.GetObject(ctx, m.bucket, key, opts)
	if err != nil {
		return nil, m.mapErr("get", key, err)
	}
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, m.mapErr("get", key, err)
	}
	return obj, nil
}

// Stat implements Store.
func (m *MinIO) Stat(ctx context.Context, key string) (Info, error) {
	if err := validKey(key); err != nil {
		return Info{}, err
	}
	oi, err := m.client.StatObject(ctx, m.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, m.mapErr("stat", key, err)
	}
	return infoOf(oi), nil
}

// infoOf converts minio-go's description. User metadata keys arrive in
// canonical header case ("Sha256"), so they are matched without case.
func infoOf(oi minio.ObjectInfo) Info {
	info := Info{Key: oi.Key, Size: oi.Size, ContentType: oi.ContentType, Modified: oi.LastModified,
		SHA256: blobHash(oi.Key)}
	if info.SHA256 == "" {
		for k, v := range oi.UserMetadata {
			if strings.EqualFold(k, "sha256") {
				info.SHA256 = v
			}
		}
	}
	return info
}

// List implements Store.
func (m *MinIO) List(ctx context.Context, prefix string) ([]Info, error) {
	if err := validPrefix(prefix); err != nil {
		return nil, err
	}
	var out []Info
	for oi := range m.client.ListObjects(ctx, m.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if oi.Err != nil {
			return nil, m.mapErr("list", prefix, oi.Err)
		}
		if strings.HasPrefix(oi.Key, stagingPrefix) {
			continue
		}
		out = append(out, Info{Key: oi.Key, Size: oi.Size, Modified: oi.LastModified, SHA256: blobHash(oi.Key)})
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete implements Store. On a versioned bucket this adds a delete marker:
// the key disappears, earlier versions stay (and a locked one cannot be
// removed until its hold or retention ends).
func (m *MinIO) Delete(ctx context.Context, key string) error {
	if err := validKey(key); err != nil {
		return err
	}
	if err := m.client.RemoveObject(ctx, m.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return m.mapErr("delete", key, err)
	}
	return nil
}

// maxPresignTTL is S3's limit for a V4-signed URL.
const maxPresignTTL = 7 * 24 * time.Hour

// PresignGet implements Store.
func (m *MinIO) PresignGet(ctx context.Context, key string, ttl time.Duration, filename string) (string, error) {
	if err := validKey(key); err != nil {
		return "", err
	}
	if ttl <= 0 || ttl > maxPresignTTL {
		return "", fmt.Errorf("presign %s: ttl %v outside (0, %v]", key, ttl, maxPresignTTL)
	}
	if _, err := m.Stat(ctx, key); err != nil {
		return "", err
	}
	params := url.Values{}
	if filename != "" {
		// FormatMediaType encodes non-ASCII names (Vietnamese) per RFC 2231.
		cd := mime.FormatMediaType("attachment", map[string]string{"filename": filename})
		if cd == "" {
			return "", fmt.Errorf("presign %s: cannot encode filename %q", key, filename)
		}
		params.Set("response-content-disposition", cd)
	}
	u, err := m.client.PresignedGetObject(ctx, m.bucket, key, ttl, params)
	if err != nil {
		return "", m.mapErr("presign", key, err)
	}
	return u.String(), nil
}

// mapErr turns S3 error codes callers must tell apart into sentinels.
func (m *MinIO) mapErr(op, key string, err error) error {
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.Code == "NoSuchKey" || resp.Code == "NoSuchVersion" ||
		resp.StatusCode == http.StatusNotFound && resp.Code != "NoSuchBucket":
		return fmt.Errorf("%s %s: %w", op, key, ErrNotFound)
	case resp.Code == "InvalidRange" || resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		return fmt.Errorf("%s %s: %w", op, key, ErrBadRange)
	}
	return fmt.Errorf("%s %s: %w", op, key, err)
}

func isPreconditionFailed(err error) bool {
	if err == nil {
		return false
	}
	resp := minio.ToErrorResponse(err)
	return resp.Code == "PreconditionFailed" || resp.StatusCode == http.StatusPreconditionFailed
}
