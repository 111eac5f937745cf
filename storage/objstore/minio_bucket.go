package objstore

import (
	"context"
	"fmt"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/lifecycle"
)

// stagingRuleID names Cầu's lifecycle rule, so it is replaced in place and
// an operator's own rules are kept.
const stagingRuleID = "cau-staging-cleanup"

// prepareBucket creates the bucket if missing (private, versioned), turns on
// versioning if off, installs the staging lifecycle rule and reads the
// object-lock configuration.
func (m *MinIO) prepareBucket(ctx context.Context, region string) error {
	exists, err := m.client.BucketExists(ctx, m.bucket)
	if err != nil {
		return fmt.Errorf("check bucket: %w", err)
	}
	if !exists {
		// New buckets have no policy, so they are private.
		err := m.client.MakeBucket(ctx, m.bucket, minio.MakeBucketOptions{Region: region})
		if err != nil && minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
			return fmt.Errorf("create bucket: %w", err)
		}
		m.log.Info("created bucket")
	}
	vc, err := m.client.GetBucketVersioning(ctx, m.bucket)
	if err != nil {
		return fmt.Errorf("read versioning: %w", err)
	}
	if !vc.Enabled() {
		if err := m.client.EnableVersioning(ctx, m.bucket); err != nil {
			return fmt.Errorf("enable versioning: %w", err)
		}
		m.log.Info("enabled bucket versioning")
	}
	if err := m.installLifecycle(ctx); err != nil {
		return err
	}
	if policy, err := m.client.GetBucketPolicy(ctx, m.bucket); err == nil && policy != "" {
		m.log.Warn("bucket has an access policy; Cầu expects a private bucket and serves documents itself or through presigned URLs")
	}
	m.readObjectLock(ctx)
	return nil
}

// installLifecycle adds (or replaces) the rule that removes staging data a
// crash left behind: current versions after one day, noncurrent versions one
// day later, and incomplete multipart uploads after one day (MinIO ignores
// that element and expires stale uploads itself after 24 hours by default).
func (m *MinIO) installLifecycle(ctx context.Context) error {
	cfg, err := m.client.GetBucketLifecycle(ctx, m.bucket)
	if err != nil {
		if minio.ToErrorResponse(err).Code != "NoSuchLifecycleConfiguration" {
			return fmt.Errorf("read lifecycle: %w", err)
		}
		cfg = lifecycle.NewConfiguration()
	}
	rules := cfg.Rules[:0]
	for _, r := range cfg.Rules {
		if r.ID != stagingRuleID {
			rules = append(rules, r)
		}
	}
	cfg.Rules = append(rules, lifecycle.Rule{
		ID:                             stagingRuleID,
		Status:                         "Enabled",
		RuleFilter:                     lifecycle.Filter{Prefix: stagingPrefix},
		Expiration:                     lifecycle.Expiration{Days: 1},
		NoncurrentVersionExpiration:    lifecycle.NoncurrentVersionExpiration{NoncurrentDays: 1},
		AbortIncompleteMultipartUpload: lifecycle.AbortIncompleteMultipartUpload{DaysAfterInitiation: 1},
	})
	if err := m.client.SetBucketLifecycle(ctx, m.bucket, cfg); err != nil {
		return fmt.Errorf("install staging lifecycle rule: %w", err)
	}
	return nil
}

// readObjectLock notes whether the bucket has object lock. Object lock can
// only be chosen when a bucket is created, so Cầu never turns it on; an
// operator who wants it creates the bucket with it.
func (m *MinIO) readObjectLock(ctx context.Context) {
	status, mode, validity, unit, err := m.client.GetObjectLockConfig(ctx, m.bucket)
	if err != nil || status != "Enabled" {
		return
	}
	m.locked = true
	m.log.Info("bucket has object lock: committed objects get a legal hold",
		"retain_for", m.retainFor, "retain_mode", m.retainMode)
	if mode != nil && *mode != "" {
		// A default retention also locks staging chunks. Cầu bypasses
		// GOVERNANCE when deleting them, but COMPLIANCE cannot be bypassed:
		// such chunks stay until their retention ends.
		m.log.Warn("bucket has a default retention rule; it applies to staging chunks too",
			"mode", *mode, "validity", deref(validity), "unit", deref(unit))
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// SweepStaging implements Store. It deletes every version of staging chunks
// last modified before olderThan ago, and aborts the incomplete multipart
// uploads (failed commits) the server lists that were started before then.
// MinIO lists uploads without a key only since its last start, so an upload
// cut by a MinIO restart is left to MinIO's own stale-upload expiry.
func (m *MinIO) SweepStaging(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	old := func(t time.Time) bool { return olderThan <= 0 || t.Before(cutoff) }
	removed := 0
	opts := minio.ListObjectsOptions{Prefix: stagingPrefix, Recursive: true, WithVersions: true}
	for oi := range m.client.ListObjects(ctx, m.bucket, opts) {
		if oi.Err != nil {
			return removed, fmt.Errorf("sweep staging: list: %w", oi.Err)
		}
		if !old(oi.LastModified) {
			continue
		}
		err := m.client.RemoveObject(ctx, m.bucket, oi.Key,
			minio.RemoveObjectOptions{VersionID: oi.VersionID, GovernanceBypass: true})
		if err != nil {
			m.log.Warn("sweep staging: delete", "key", oi.Key, "version", oi.VersionID, "err", err)
			continue
		}
		removed++
	}
	n, err := m.abortUploads(ctx, old)
	return removed + n, err
}

// abortUploads aborts the incomplete multipart uploads for which old is true.
func (m *MinIO) abortUploads(ctx context.Context, old func(time.Time) bool) (int, error) {
	removed := 0
	keyMarker, idMarker := "", ""
	for {
		res, err := m.core.ListMultipartUploads(ctx, m.bucket, "", keyMarker, idMarker, "", 1000)
		if err != nil {
			return removed, fmt.Errorf("sweep staging: list uploads: %w", err)
		}
		for _, up := range res.Uploads {
			if !old(up.Initiated) {
				continue
			}
			if err := m.core.AbortMultipartUpload(ctx, m.bucket, up.Key, up.UploadID); err != nil {
				m.log.Warn("sweep staging: abort upload", "key", up.Key, "upload", up.UploadID, "err", err)
				continue
			}
			removed++
		}
		if !res.IsTruncated {
			return removed, nil
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
}
