package objstore_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/cau-bridge/cau/internal/testutil"
	"github.com/cau-bridge/cau/storage/objstore"
)

// openMinIO opens the MinIO store on bucket; cfg may set lock options.
func openMinIO(t *testing.T, srv *testutil.MinIOServer, bucket string, cfg objstore.Config) *objstore.MinIO {
	t.Helper()
	cfg.Endpoint, cfg.AccessKey, cfg.SecretKey, cfg.Bucket = srv.Endpoint, srv.AccessKey, srv.SecretKey, bucket
	m, err := objstore.NewMinIO(ctxT(t), cfg, testutil.Logger(t))
	if err != nil {
		t.Fatalf("open MinIO store: %v", err)
	}
	return m
}

// rawClient is a plain minio-go client, to check what the store did.
func rawClient(t *testing.T, srv *testutil.MinIOServer) *minio.Client {
	t.Helper()
	c, err := minio.New(srv.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// stagingVersions lists every version under staging/, and incomplete uploads.
func stagingVersions(t *testing.T, c *minio.Client, bucket string) []string {
	t.Helper()
	var out []string
	for oi := range c.ListObjects(ctxT(t), bucket, minio.ListObjectsOptions{Prefix: "staging/", Recursive: true, WithVersions: true}) {
		if oi.Err != nil {
			t.Fatal(oi.Err)
		}
		out = append(out, oi.Key+"@"+oi.VersionID)
	}
	return out
}

func TestMinIOBucketSettings(t *testing.T) {
	srv := testutil.StartMinIO(t)
	ctx, raw := ctxT(t), rawClient(t, srv)
	m := openMinIO(t, srv, "cau", objstore.Config{})
	if ok, err := raw.BucketExists(ctx, "cau"); err != nil || !ok {
		t.Fatalf("bucket not created: %v %v", ok, err)
	}
	vc, err := raw.GetBucketVersioning(ctx, "cau")
	if err != nil || !vc.Enabled() {
		t.Errorf("versioning = %+v, %v; want enabled", vc, err)
	}
	if policy, err := raw.GetBucketPolicy(ctx, "cau"); err != nil || policy != "" {
		t.Errorf("bucket policy = %q, %v; want none (private)", policy, err)
	}
	info, err := m.PutBlob(ctx, strings.NewReader("secret minutes"), 100, "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + srv.Endpoint + "/cau/" + info.Key)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous GET: %s, want 403", resp.Status)
	}

	// Opening again keeps one Cầu rule and an operator's own rule.
	lc, err := raw.GetBucketLifecycle(ctx, "cau")
	if err != nil {
		t.Fatal(err)
	}
	lc.Rules = append(lc.Rules, lc.Rules[0])
	lc.Rules[1].ID, lc.Rules[1].RuleFilter.Prefix = "operator-tmp", "tmp/"
	if err := raw.SetBucketLifecycle(ctx, "cau", lc); err != nil {
		t.Fatal(err)
	}
	openMinIO(t, srv, "cau", objstore.Config{})
	lc, err = raw.GetBucketLifecycle(ctx, "cau")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range lc.Rules {
		ids = append(ids, r.ID)
		if r.ID == "cau-staging-cleanup" && (r.RuleFilter.Prefix != "staging/" || r.Expiration.Days != 1 ||
			r.NoncurrentVersionExpiration.NoncurrentDays != 1 || r.Status != "Enabled") {
			t.Errorf("staging rule = %+v", r)
		}
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"cau-staging-cleanup", "operator-tmp"}) {
		t.Errorf("lifecycle rules = %v", ids)
	}

	// An existing bucket without versioning gets it.
	if err := raw.MakeBucket(ctx, "plain", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	openMinIO(t, srv, "plain", objstore.Config{})
	if vc, err := raw.GetBucketVersioning(ctx, "plain"); err != nil || !vc.Enabled() {
		t.Errorf("existing bucket versioning = %+v, %v; want enabled", vc, err)
	}
	if _, err := objstore.NewMinIO(ctx, objstore.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey,
		SecretKey: "wrong", Bucket: "cau"}, nil); err == nil {
		t.Error("wrong secret key accepted")
	}
}

func TestMinIOObjectLock(t *testing.T) {
	srv := testutil.StartMinIO(t)
	ctx, raw := ctxT(t), rawClient(t, srv)
	for _, b := range []string{"locked", "retained"} {
		if err := raw.MakeBucket(ctx, b, minio.MakeBucketOptions{ObjectLocking: true}); err != nil {
			t.Fatal(err)
		}
	}
	m := openMinIO(t, srv, "locked", objstore.Config{})
	small, err := m.PutBlob(ctx, strings.NewReader("biên bản"), 100, "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	large, err := m.PutBlob(ctx, bytes.NewReader(randomBytes(t, 9<<20)), objstore.DocumentLimit, "application/pdf")
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := m.Put(ctx, "meetings/m/agenda/v1/manifest.json", strings.NewReader("{}"), 100, "application/json")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{small.Key, large.Key, manifest.Key} {
		st, err := raw.StatObject(ctx, "locked", key, minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		hold, err := raw.GetObjectLegalHold(ctx, "locked", key, minio.GetObjectLegalHoldOptions{VersionID: st.VersionID})
		if err != nil || hold == nil || *hold != minio.LegalHoldEnabled {
			t.Errorf("%s: legal hold %v, %v; want ON", key, hold, err)
		}
		// The locked version cannot be removed; Delete only hides it.
		err = raw.RemoveObject(ctx, "locked", key, minio.RemoveObjectOptions{VersionID: st.VersionID, GovernanceBypass: true})
		if err == nil {
			t.Errorf("%s: locked version was removed", key)
		}
		if err := m.Delete(ctx, key); err != nil {
			t.Errorf("delete %s: %v", key, err)
		}
		if _, err := m.Stat(ctx, key); !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("stat %s after delete: %v", key, err)
		}
		if _, err := raw.StatObject(ctx, "locked", key, minio.StatObjectOptions{VersionID: st.VersionID}); err != nil {
			t.Errorf("%s: locked version gone after Delete: %v", key, err)
		}
	}
	if left := stagingVersions(t, raw, "locked"); len(left) != 0 {
		t.Errorf("staging left in a locked bucket: %v", left)
	}

	r := openMinIO(t, srv, "retained", objstore.Config{RetainFor: time.Hour})
	before := time.Now()
	info, err := r.PutBlob(ctx, bytes.NewReader(randomBytes(t, 9<<20)), objstore.DocumentLimit, "application/pdf")
	if err != nil {
		t.Fatal(err)
	}
	mode, until, err := raw.GetObjectRetention(ctx, "retained", info.Key, "")
	if err != nil || mode == nil || *mode != minio.Governance || until == nil ||
		until.Before(before.Add(59*time.Minute)) || until.After(time.Now().Add(61*time.Minute)) {
		t.Errorf("retention = %v until %v, %v; want GOVERNANCE for an hour", mode, until, err)
	}
	if left := stagingVersions(t, raw, "retained"); len(left) != 0 {
		t.Errorf("staging left in a retained bucket: %v", left)
	}
	if _, err := objstore.NewMinIO(ctx, objstore.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey, Bucket: "retained", RetainMode: "forever"}, nil); err == nil {
		t.Error("retention mode \"forever\" accepted")
	}
}

// gatedReader yields open bytes at once, then blocks until gate closes,
// yields rest more bytes and ends.
type gatedReader struct {
	open, rest int
	gate       chan struct{}
	once       sync.Once
}

func (r *gatedReader) Read(p []byte) (int, error) {
	if r.open == 0 {
		r.once.Do(func() { <-r.gate })
		if r.rest == 0 {
			return 0, io.EOF
		}
		n := min(len(p), r.rest)
		r.rest -= n
		return n, nil
	}
	n := min(len(p), r.open)
	r.open -= n
	return n, nil
}

func TestMinIOKilledMidUpload(t *testing.T) {
	srv := testutil.StartMinIO(t)
	ctx, raw := ctxT(t), rawClient(t, srv)
	m := openMinIO(t, srv, "crash", objstore.Config{})

	r := &gatedReader{open: 9 << 20, rest: 9 << 20, gate: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := m.PutBlob(ctx, r, objstore.DocumentLimit, "application/pdf")
		done <- err
	}()
	// Wait until the first chunk is staged, then crash the server.
	deadline := time.Now().Add(time.Minute)
	for len(stagingVersions(t, raw, "crash")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no chunk staged within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
	srv.Stop()
	close(r.gate)
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("upload succeeded with the server down")
		}
		t.Logf("upload failed as expected: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("upload did not fail within 90s of the server going down")
	}

	srv.Restart()
	if blobs, err := m.List(ctx, "blobs/"); err != nil || len(blobs) != 0 {
		t.Fatalf("after restart: blobs %v, %v; want none", keys(blobs), err)
	}
	left := stagingVersions(t, raw, "crash")
	if len(left) == 0 {
		t.Fatal("no staged chunk survived the crash; the test did not exercise the sweep")
	}
	if n, err := m.SweepStaging(ctx, time.Hour); err != nil || n != 0 {
		t.Errorf("sweep of fresh staging: %d, %v; want 0 (an upload may still be running)", n, err)
	}
	n, err := m.SweepStaging(ctx, 0)
	if err != nil || n < len(left) {
		t.Errorf("sweep = %d, %v; want at least %d", n, err, len(left))
	}
	if left := stagingVersions(t, raw, "crash"); len(left) != 0 {
		t.Errorf("staging after sweep: %v", left)
	}
	// The store works again, and the same document can now be stored.
	if _, err := m.PutBlob(ctx, bytes.NewReader(bytes.Repeat([]byte{0}, 18<<20)), objstore.DocumentLimit, ""); err != nil {
		t.Errorf("put after restart: %v", err)
	}
}
