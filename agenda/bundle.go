package agenda

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ErrDigestMismatch means stored bytes no longer hash to the SHA-256
// recorded for them: the object store returned corrupted or substituted
// content, which Cầu never passes on.
var ErrDigestMismatch = errors.New("agenda: stored content does not match its SHA-256")

// BundleDocument is one document listed in a verification bundle.
type BundleDocument struct {
	// Path is the file's path inside the bundle, under documents/.
	Path   string
	SHA256 string
	Size   int64
	// Open, when set, supplies the content, which is copied into the
	// bundle and checked against SHA256 on the way. Nil lists the document
	// in documents.sha256 only.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// Bundle is everything needed to re-check a signed agenda version with
// openssl and sha256sum alone.
type Bundle struct {
	// Manifest and Signature are the exact stored bytes.
	Manifest, Signature []byte
	// Version is the manifest's version and Previous its previous hash.
	Version  int
	Previous string
	// Signer and Organisation name who signed; Method is "upload" or "seal".
	Signer, Organisation, Method string
	SignedAt                     *time.Time
	// Chain is the verified chain, signer first and trusted root last.
	Chain     []*x509.Certificate
	Documents []BundleDocument
}

// BundleDocuments lists a manifest's documents as bundle entries named
// documents/<item>-<n>-<file name>, without content.
func BundleDocuments(m *Manifest) []BundleDocument {
	var out []BundleDocument
	for _, it := range m.Items {
		for j, d := range it.Documents {
			out = append(out, BundleDocument{
				Path:   fmt.Sprintf("documents/%02d-%02d-%s", it.Number, j+1, d.FileName),
				SHA256: d.SHA256,
				Size:   d.Size,
			})
		}
	}
	return out
}

// WriteZip streams the bundle as a zip: manifest.json, manifest.p7s,
// documents.sha256 (sha256sum format), chain.pem (the signer and its
// intermediates), roots.pem (the trust anchor the signature was verified
// against), README.txt with the commands, and the documents that have an
// Open function. A document whose content does not match its SHA-256 stops
// the bundle with ErrDigestMismatch.
func (b *Bundle) WriteZip(ctx context.Context, w io.Writer) error {
	if len(b.Chain) == 0 {
		return errors.New("bundle: no verified certificate chain")
	}
	zw := zip.NewWriter(w)
	now := time.Now()
	add := func(name string, data []byte) error {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: now})
		if err != nil {
			return fmt.Errorf("bundle %s: %w", name, err)
		}
		if _, err := f.Write(data); err != nil {
			return fmt.Errorf("bundle %s: %w", name, err)
		}
		return nil
	}
	var sums strings.Builder
	for _, d := range b.Documents {
		fmt.Fprintf(&sums, "%s  %s\n", d.SHA256, d.Path)
	}
	root := b.Chain[len(b.Chain)-1]
	files := []struct {
		name string
		data []byte
	}{
		{"manifest.json", b.Manifest},
		{"manifest.p7s", b.Signature},
		{"documents.sha256", []byte(sums.String())},
		{"chain.pem", certsPEM(b.Chain[:len(b.Chain)-1])},
		{"roots.pem", certsPEM([]*x509.Certificate{root})},
		{"README.txt", []byte(b.readme(root))},
	}
	for _, f := range files {
		if err := add(f.name, f.data); err != nil {
			return err
		}
	}
	for _, d := range b.Documents {
		if d.Open == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := addDocument(ctx, zw, d, now); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	return nil
}

func addDocument(ctx context.Context, zw *zip.Writer, d BundleDocument, mod time.Time) error {
	rc, err := d.Open(ctx)
	if err != nil {
		return fmt.Errorf("bundle %s: %w", d.Path, err)
	}
	defer rc.Close()
	// Stored, not deflated: PDFs and OOXML are compressed already.
	f, err := zw.CreateHeader(&zip.FileHeader{Name: d.Path, Method: zip.Store, Modified: mod})
	if err != nil {
		return fmt.Errorf("bundle %s: %w", d.Path, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), rc)
	if err != nil {
		return fmt.Errorf("bundle %s: %w", d.Path, err)
	}
	if n != d.Size || hex.EncodeToString(h.Sum(nil)) != d.SHA256 {
		return fmt.Errorf("bundle %s: %w", d.Path, ErrDigestMismatch)
	}
	return nil
}

func certsPEM(cs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range cs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func (b *Bundle) readme(root *x509.Certificate) string {
	fp := sha256.Sum256(root.Raw)
	signedAt := "?"
	if b.SignedAt != nil {
		signedAt = b.SignedAt.UTC().Format(time.RFC3339)
	}
	prev := b.Previous
	if prev == "" {
		prev = "(không có / none: phiên bản đầu tiên / first version)"
	}
	var s strings.Builder
	fmt.Fprintf(&s, `GÓI KIỂM TRA CHƯƠNG TRÌNH HỌP / AGENDA VERIFICATION BUNDLE
=========================================================

Phiên bản / Version:       %d
SHA-256 của manifest.json: %s
Phiên bản trước / Previous version's SHA-256: %s
Người ký / Signed by:      %s (%s), %s
Cách ký / Method:          %s

Tiếng Việt
----------
1. Kiểm tra chữ ký số trên manifest.json (chỉ cần OpenSSL):

     openssl cms -verify -binary -inform DER -in manifest.p7s -content manifest.json -CAfile roots.pem -purpose any -out /dev/null

   Kết quả đúng: "CMS Verification successful" (hoặc "Verification successful").
   roots.pem là chứng thư gốc mà Cầu đã dùng để xác minh. Hãy so dấu vân tay của nó với
   chứng thư gốc do cơ quan của bạn tin cậy (ví dụ Ban Cơ yếu Chính phủ), hoặc dùng chính
   tệp chứng thư gốc của bạn thay cho roots.pem:

     openssl x509 -in roots.pem -noout -fingerprint -sha256
     (dấu vân tay SHA-256: %s)

2. Kiểm tra các tài liệu: đặt các tài liệu đã tải về vào thư mục documents/ theo đúng tên trong
   documents.sha256 (nếu gói đã kèm tài liệu thì chúng đã ở đó), rồi chạy:

     sha256sum -c documents.sha256

   Nếu chỉ có một số tài liệu: sha256sum -c --ignore-missing documents.sha256

3. Các mã SHA-256 trong documents.sha256 phải trùng với trường "sha256" của từng tài liệu trong
   manifest.json; trường "previous" nối phiên bản này với phiên bản trước (chuỗi băm).

English
-------
1. Check the signature over manifest.json with OpenSSL alone:

     openssl cms -verify -binary -inform DER -in manifest.p7s -content manifest.json -CAfile roots.pem -purpose any -out /dev/null

   Expect "CMS Verification successful" (or "Verification successful"). roots.pem is the root
   Cầu verified against; compare its fingerprint (above) with the root your organisation trusts,
   or pass your own root file instead of roots.pem. chain.pem holds the signer and intermediates.

2. Check the documents: put them in documents/ under the names listed in documents.sha256 (a
   bundle downloaded with its documents has them there already), then run

     sha256sum -c documents.sha256

   or, with only some of them, sha256sum -c --ignore-missing documents.sha256.

3. The hashes in documents.sha256 are the "sha256" fields of manifest.json's documents; its
   "previous" field is the SHA-256 of the previous version's manifest.json (a hash chain).
`, b.Version, ManifestHash(b.Manifest), prev, b.Signer, b.Organisation, signedAt, b.Method,
		fingerprint(fp[:]))
	return s.String()
}

// fingerprint formats a digest as openssl x509 -fingerprint prints it.
func fingerprint(sum []byte) string {
	parts := make([]string, len(sum))
	for i, c := range sum {
		parts[i] = strings.ToUpper(hex.EncodeToString([]byte{c}))
	}
	return strings.Join(parts, ":")
}
