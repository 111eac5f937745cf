package objstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cau-bridge/cau/internal/testutil"
	"github.com/cau-bridge/cau/storage/objstore"
)

// fixture is one store under contract test.
type fixture struct {
	store objstore.Store
	// presigns is true when PresignGet must work (MinIO).
	presigns bool
}

// contract is every behaviour both stores must share.
var contract = []struct {
	name string
	run  func(t *testing.T, f fixture)
}{
	{"PutGetStatList", testPutGetStatList},
	{"Range", testRange},
	{"BlobHashAndDedup", testBlobHashAndDedup},
	{"NeverOverwrite", testNeverOverwrite},
	{"ConcurrentPutOneWins", testConcurrentPut},
	{"SizeLimit", testSizeLimit},
	{"CancelHalfway", testCancelHalfway},
	{"BadKeys", testBadKeys},
	{"Delete", testDelete},
	{"Presign", testPresign},
}

func TestContract(t *testing.T) {
	t.Run("disk", func(t *testing.T) {
		for _, c := range contract {
			t.Run(c.name, func(t *testing.T) {
				d, err := objstore.NewDisk(t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { d.Close() })
				c.run(t, fixture{store: d})
			})
		}
	})
	t.Run("minio", func(t *testing.T) {
		srv := testutil.StartMinIO(t)
		for i, c := range contract {
			t.Run(c.name, func(t *testing.T) {
				m := openMinIO(t, srv, fmt.Sprintf("contract-%d", i), objstore.Config{})
				c.run(t, fixture{store: m, presigns: true})
			})
		}
	})
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func readAll(t *testing.T, rc io.ReadCloser) []byte {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}

func keys(infos []objstore.Info) []string {
	out := make([]string, len(infos))
	for i, in := range infos {
		out[i] = in.Key
	}
	return out
}

// assertNoLeftovers checks that no blob is visible and nothing is staged.
func assertNoLeftovers(t *testing.T, s objstore.Store) {
	t.Helper()
	ctx := ctxT(t)
	blobs, err := s.List(ctx, "blobs/")
	if err != nil {
		t.Fatal(err)
	}
	if len(blobs) != 0 {
		t.Errorf("blobs visible after a failed upload: %v", keys(blobs))
	}
	if n, err := s.SweepStaging(ctx, 0); err != nil || n != 0 {
		t.Errorf("staging not empty after a failed upload: swept %d, err %v", n, err)
	}
}

func testPutGetStatList(t *testing.T, f fixture) {
	ctx, s := ctxT(t), f.store
	body := []byte(`{"meeting":"hop-tinh","version":1}`)
	start := time.Now().Add(-time.Minute)
	const key = "meetings/hop-tinh/agenda/v1/manifest.json"
	info, err := s.Put(ctx, key, bytes.NewReader(body), 1<<20, "application/json")
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	want := objstore.Info{Key: key, Size: int64(len(body)), ContentType: "application/json", SHA256: sum(body)}
	check := func(what string, got objstore.Info) {
		t.Helper()
		if got.Key != want.Key || got.Size != want.Size || got.ContentType != want.ContentType || got.SHA256 != want.SHA256 {
			t.Errorf("%s info = %+v, want %+v", what, got, want)
		}
		if got.Modified.Before(start) || got.Modified.After(time.Now().Add(time.Minute)) {
			t.Errorf("%s modified %v, want about now", what, got.Modified)
		}
	}
	check("put", info)
	rc, ginfo, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got := readAll(t, rc); !bytes.Equal(got, body) {
		t.Errorf("get = %q, want %q", got, body)
	}
	check("get", ginfo)
	sinfo, err := s.Stat(ctx, key)
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	check("stat", sinfo)

	for _, k := range []string{"meetings/hop-tinh/agenda/v1/manifest.p7s", "meetings/hop-tinh/agenda/v2/manifest.json",
		"meetings/hop-tinh-2/agenda/v1/manifest.json", "meetings/a-c", "meetings/a/b"} {
		if _, err := s.Put(ctx, k, strings.NewReader(k), 1<<20, "text/plain"); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"meetings/hop-tinh/", []string{key, "meetings/hop-tinh/agenda/v1/manifest.p7s", "meetings/hop-tinh/agenda/v2/manifest.json"}},
		{"meetings/hop-tinh/agenda/v1/manifest.", []string{key, "meetings/hop-tinh/agenda/v1/manifest.p7s"}},
		{"meetings/hop-tinh", []string{"meetings/hop-tinh-2/agenda/v1/manifest.json", key,
			"meetings/hop-tinh/agenda/v1/manifest.p7s", "meetings/hop-tinh/agenda/v2/manifest.json"}},
		{"meetings/a", []string{"meetings/a-c", "meetings/a/b"}}, // byte order, as S3
		{"meetings/nothing/", nil},
		{"nothing", nil},
	} {
		got, err := s.List(ctx, tc.prefix)
		if err != nil {
			t.Fatalf("list %q: %v", tc.prefix, err)
		}
		if fmt.Sprint(keys(got)) != fmt.Sprint(tc.want) {
			t.Errorf("list %q = %v, want %v", tc.prefix, keys(got), tc.want)
		}
		for _, in := range got {
			if in.Key == key && (in.Size != int64(len(body)) || in.Modified.Before(start)) {
				t.Errorf("list %q: %+v has wrong size or time", tc.prefix, in)
			}
		}
	}
	if _, err := s.Stat(ctx, "meetings/hop-tinh/agenda/v9/manifest.json"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("stat missing: %v, want ErrNotFound", err)
	}
	if _, _, err := s.Get(ctx, "meetings/a-c/x"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("get below a file: %v, want ErrNotFound", err)
	}
}

func testRange(t *testing.T, f fixture) {
	ctx, s := ctxT(t), f.store
	body := randomBytes(t, 1000)
	info, err := s.PutBlob(ctx, bytes.NewReader(body), 1<<20, "application/pdf")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		off, n int64
		want   []byte
		err    error
	}{
		{0, 1000, body, nil},
		{10, 20, body[10:30], nil},
		{990, 50, body[990:], nil}, // cut at the end, as HTTP does
		{999, 1, body[999:], nil},
		{1000, 1, nil, objstore.ErrBadRange},
		{-1, 5, nil, objstore.ErrBadRange},
		{0, 0, nil, objstore.ErrBadRange},
	} {
		rc, err := s.GetRange(ctx, info.Key, tc.off, tc.n)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("range %d+%d: err %v, want %v", tc.off, tc.n, err, tc.err)
			}
			if rc != nil {
				rc.Close()
			}
			continue
		}
		if err != nil {
			t.Errorf("range %d+%d: %v", tc.off, tc.n, err)
			continue
		}
		if got := readAll(t, rc); !bytes.Equal(got, tc.want) {
			t.Errorf("range %d+%d: got %d bytes, want %d", tc.off, tc.n, len(got), len(tc.want))
		}
	}
	if _, err := s.GetRange(ctx, objstore.BlobPrefix+sum(nil), 0, 1); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("range of missing blob: %v, want ErrNotFound", err)
	}
}

func testBlobHashAndDedup(t *testing.T, f fixture) {
	ctx, s := ctxT(t), f.store
	// Sizes around the MinIO store's paths: empty, one small PUT, and staged
	// chunks (8 MiB each) committed by multipart copy.
	for _, n := range []int{0, 1, 100 << 10, 8 << 20, 20<<20 + 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			body := randomBytes(t, n)
			info, err := s.PutBlob(ctx, bytes.NewReader(body), objstore.DocumentLimit, "application/pdf")
			if err != nil {
				t.Fatalf("put blob: %v", err)
			}
			if want := objstore.BlobPrefix + sum(body); info.Key != want || info.SHA256 != sum(body) || info.Size != int64(n) {
				t.Fatalf("info = %+v, want key %s size %d", info, want, n)
			}
			rc, ginfo, err := s.Get(ctx, info.Key)
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, rc); !bytes.Equal(got, body) {
				t.Fatalf("blob content differs (%d bytes, want %d)", len(got), n)
			}
			if ginfo.ContentType != "application/pdf" || ginfo.SHA256 != sum(body) {
				t.Errorf("get info = %+v", ginfo)
			}
			// The same bytes again: same blob, first content type kept.
			again, err := s.PutBlob(ctx, bytes.NewReader(body), objstore.DocumentLimit, "application/octet-stream")
			if err != nil {
				t.Fatalf("put same blob: %v", err)
			}
			if again.Key != info.Key || again.ContentType != "application/pdf" || !again.Modified.Equal(info.Modified) {
				t.Errorf("dedup: second put %+v, first %+v", again, info)
			}
			if n, err := s.SweepStaging(ctx, 0); err != nil || n != 0 {
				t.Errorf("staging after success: swept %d, err %v", n, err)
			}
		})
	}
	all, err := s.List(ctx, objstore.BlobPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 5 {
		t.Errorf("want 5 distinct blobs, got %v", keys(all))
	}
}

func testNeverOverwrite(t *testing.T, f fixture) {
	ctx, s := ctxT(t), f.store
	const key = "meetings/m1/agenda/v1/manifest.json"
	if _, err := s.Put(ctx, key, strings.NewReader("one"), 100, "text/plain"); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"two", "one", strings.Repeat("x", 9<<20)} {
		if _, err := s.Put(ctx, key, strings.NewReader(body), 10<<20, "text/plain"); !errors.Is(err, objstore.ErrExists) {
			t.Errorf("second put (%d bytes): %v, want ErrExists", len(body), err)
		}
	}
	rc, _, err := s.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, rc); string(got) != "one" {
		t.Errorf("content after refused puts = %.20q, want %q", got, "one")
	}
	blob, err := s.PutBlob(ctx, strings.NewReader("doc"), 100, "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	// Only PutBlob writes blobs, and nobody writes staging.
	for _, k := range []string{blob.Key, objstore.BlobPrefix + sum([]byte("other")), "staging/x"} {
		if _, err := s.Put(ctx, k, strings.NewReader("evil"), 100, "text/plain"); !errors.Is(err, objstore.ErrBadKey) {
			t.Errorf("put %s: %v, want ErrBadKey", k, err)
		}
	}
	assertNoStaging(t, s)
}

func assertNoStaging(t *testing.T, s objstore.Store) {
	t.Helper()
	if n, err := s.SweepStaging(ctxT(t), 0); err != nil || n != 0 {
		t.Errorf("staging not empty: swept %d, err %v", n, err)
	}
}

func testConcurrentPut(t *testing.T, f fixture) {
	ctx, s := ctxT(t), f.store
	// Small objects race on the conditional PUT, staged ones on the commit.
	for _, size := range []int{16, 9 << 20} {
		key := fmt.Sprintf("meetings/race/%d", size)
		const writers = 4
		bodies := make([][]byte, writers)
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for i := range writers {
			bodies[i] = randomBytes(t, size)
			wg.Go(func() {
				_, errs[i] = s.Put(ctx, key, bytes.NewReader(bodies[i]), 10<<20, "application/octet-stream")
			})
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("size %d: writers %d and %d both succeeded", size, winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, objstore.ErrExists):
				t.Fatalf("size %d: writer %d: %v, want nil or ErrExists", size, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("size %d: no writer succeeded", size)
		}
		rc, info, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, rc); !bytes.Equal(got, bodies[winner]) || info.SHA256 != sum(bodies[winner]) {
			t.Errorf("size %d: stored content is not the winner's", size)
		}
	}
	assertNoStaging(t, s)
}

func testSizeLimit(t *testing.T, f fixture) {
	ctx, s := ctxT(t), f.store
	if _, err := s.PutBlob(ctx, bytes.NewReader(randomBytes(t, 1000)), 1000, ""); err != nil {
		t.Errorf("exactly the limit: %v", err)
	}
	if _, err := s.Put(ctx, "m/exact", bytes.NewReader(randomBytes(t, 1000)), 1000, ""); err != nil {
		t.Errorf("put exactly the limit: %v", err)
	}
	if _, err := s.Put(ctx, "m/zero-limit", strings.NewReader(""), 0, ""); err == nil {
		t.Error("put with limit 0 succeeded")
	}
	if err := s.Delete(ctx, "m/exact"); err != nil {
		t.Fatal(err)
	}
	blobs, _ := s.List(ctx, "blobs/")
	for _, b := range blobs {
		s.Delete(ctx, b.Key)
	}
	// One byte over, and well over after chunks were already staged.
	for _, tc := range []struct{ size, limit int }{{1001, 1000}, {20 << 20, 17 << 20}} {
		_, err := s.PutBlob(ctx, bytes.NewReader(randomBytes(t, tc.size)), int64(tc.limit), "")
		if !errors.Is(err, objstore.ErrTooLarge) {
			t.Errorf("blob %d over limit %d: %v, want ErrTooLarge", tc.size, tc.limit, err)
		}
		_, err = s.Put(ctx, "m/too-large", bytes.NewReader(randomBytes(t, tc.size)), int64(tc.limit), "")
		if !errors.Is(err, objstore.ErrTooLarge) {
			t.Errorf("put %d over limit %d: %v, want ErrTooLarge", tc.size, tc.limit, err)
		}
	}
	if _, err := s.Stat(ctx, "m/too-large"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("too-large object visible: %v", err)
	}
	assertNoLeftovers(t, s)
}

// slowReader produces fast bytes up to fast, then 64 KiB every 10 ms, and
// calls at once it has produced at bytes.
type slowReader struct {
	fast, at int64
	n        atomic.Int64
	once     sync.Once
	reached  func()
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.n.Load() >= r.fast {
		time.Sleep(10 * time.Millisecond)
		p = p[:min(len(p), 64<<10)]
	}
	rand.Read(p)
	if r.n.Add(int64(len(p))) >= r.at {
		r.once.Do(r.reached)
	}
	return len(p), nil
}

func testCancelHalfway(t *testing.T, f fixture) {
	s := f.store
	// Cancelled before the first chunk was complete, and after two chunks
	// were staged.
	for _, at := range []int64{1 << 20, 17 << 20} {
		ctx, cancel := context.WithCancel(ctxT(t))
		r := &slowReader{fast: at, at: at + 256<<10, reached: cancel}
		_, err := s.PutBlob(ctx, r, objstore.DocumentLimit, "application/pdf")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancel at %d: err %v, want context.Canceled", at, err)
		}
		ctx, cancel = context.WithCancel(ctxT(t))
		r = &slowReader{fast: at, at: at + 256<<10, reached: cancel}
		_, err = s.Put(ctx, "meetings/m/upload", r, objstore.DocumentLimit, "application/pdf")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("put cancelled at %d: err %v, want context.Canceled", at, err)
		}
	}
	if _, err := s.Stat(ctxT(t), "meetings/m/upload"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("cancelled put visible: %v", err)
	}
	assertNoLeftovers(t, s)
}

func testBadKeys(t *testing.T, f fixture) {
	ctx, s := ctxT(t), f.store
	bad := []string{"", "../x", "a/../../x", "..", "a/..", "/etc/passwd", "a\\b", "..\\x", "a\x00b", "a//b",
		"a/", "./a", "a/./b", "sp ace", "tiếng-việt", "a?b", "a%2F..", "staging/x", strings.Repeat("a", 513)}
	for _, k := range bad {
		if _, err := s.Put(ctx, k, strings.NewReader("x"), 10, ""); !errors.Is(err, objstore.ErrBadKey) {
			t.Errorf("put %q: %v, want ErrBadKey", k, err)
		}
		if _, _, err := s.Get(ctx, k); !errors.Is(err, objstore.ErrBadKey) {
			t.Errorf("get %q: %v, want ErrBadKey", k, err)
		}
		if _, err := s.GetRange(ctx, k, 0, 1); !errors.Is(err, objstore.ErrBadKey) {
			t.Errorf("get range %q: %v, want ErrBadKey", k, err)
		}
		if _, err := s.Stat(ctx, k); !errors.Is(err, objstore.ErrBadKey) {
			t.Errorf("stat %q: %v, want ErrBadKey", k, err)
		}
		if err := s.Delete(ctx, k); !errors.Is(err, objstore.ErrBadKey) {
			t.Errorf("delete %q: %v, want ErrBadKey", k, err)
		}
		if _, err := s.PresignGet(ctx, k, time.Minute, ""); !errors.Is(err, objstore.ErrBadKey) {
			t.Errorf("presign %q: %v, want ErrBadKey", k, err)
		}
	}
	for _, p := range []string{"../", "/", "a//", "staging/"} {
		if _, err := s.List(ctx, p); !errors.Is(err, objstore.ErrBadKey) {
			t.Errorf("list %q: %v, want ErrBadKey", p, err)
		}
	}
	good := "meetings/Hop-Tinh_2025.10/agenda/v12/manifest.json"
	if _, err := s.Put(ctx, good, strings.NewReader("x"), 10, ""); err != nil {
		t.Errorf("put %q: %v", good, err)
	}
}

func testDelete(t *testing.T, f fixture) {
	ctx, s := ctxT(t), f.store
	const key = "meetings/m/notes.txt"
	if _, err := s.Put(ctx, key, strings.NewReader("v1"), 10, "text/plain"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, key); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("stat after delete: %v, want ErrNotFound", err)
	}
	if l, _ := s.List(ctx, "meetings/"); len(l) != 0 {
		t.Errorf("list after delete: %v", keys(l))
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Errorf("delete missing: %v, want nil", err)
	}
	// A deleted key is free again.
	if _, err := s.Put(ctx, key, strings.NewReader("v2"), 10, "text/plain"); err != nil {
		t.Errorf("put after delete: %v", err)
	}
}

func testPresign(t *testing.T, f fixture) {
	ctx, s := ctxT(t), f.store
	body := []byte("%PDF-1.7 biên bản họp")
	info, err := s.PutBlob(ctx, bytes.NewReader(body), 1<<20, "application/pdf")
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.PresignGet(ctx, info.Key, time.Minute, "Biên bản họp.pdf")
	if !f.presigns {
		if !errors.Is(err, objstore.ErrUnsupported) {
			t.Errorf("presign on this store: %q, %v, want ErrUnsupported", u, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("presign: %v", err)
	}
	if !strings.HasPrefix(u, "http://127.0.0.1:") {
		t.Errorf("presigned URL %s is not on loopback", u)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, body) {
		t.Fatalf("GET presigned: %s %q", resp.Status, got)
	}
	cd := resp.Header.Get("Content-Disposition")
	if !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, "Bi%C3%AAn%20b%E1%BA%A3n%20h%E1%BB%8Dp.pdf") {
		t.Errorf("Content-Disposition = %q, want an attachment named Biên bản họp.pdf", cd)
	}
	// The URL is signed: changing the key must fail.
	resp, err = http.Get(strings.Replace(u, info.Key[len(objstore.BlobPrefix):], sum(nil), 1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("tampered URL: %s, want 403", resp.Status)
	}
	if _, err := s.PresignGet(ctx, objstore.BlobPrefix+sum(nil), time.Minute, ""); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("presign missing: %v, want ErrNotFound", err)
	}
	if _, err := s.PresignGet(ctx, info.Key, 8*24*time.Hour, ""); err == nil {
		t.Error("presign for 8 days succeeded, want an error")
	}
}
