package objstore

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// maxKeyLen keeps keys well under S3's 1024-byte limit and common path limits.
const maxKeyLen = 512

// validKey checks that key is a relative slash-separated path of safe
// segments: letters, digits, '-', '_', '.', no empty, "." or ".." segment,
// no leading or trailing '/'. Every store calls it before touching storage.
func validKey(key string) error {
	if key == "" || len(key) > maxKeyLen {
		return fmt.Errorf("%w: %q: empty or longer than %d bytes", ErrBadKey, key, maxKeyLen)
	}
	for _, seg := range strings.Split(key, "/") {
		if err := validSegment(seg); err != nil {
			return fmt.Errorf("%w: %q: %v", ErrBadKey, key, err)
		}
	}
	if key == "staging" || strings.HasPrefix(key, stagingPrefix) {
		return fmt.Errorf("%w: %q: staging/ is reserved", ErrBadKey, key)
	}
	return nil
}

// validPrefix checks a List prefix: empty, or a valid key optionally
// followed by '/'.
func validPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := validKey(strings.TrimSuffix(prefix, "/")); err != nil {
		return err
	}
	return nil
}

// validPutKey checks a key for Put, which may not write blobs directly.
func validPutKey(key string) error {
	if err := validKey(key); err != nil {
		return err
	}
	if strings.HasPrefix(key, "blobs/") {
		return fmt.Errorf("%w: %q: blobs/ is written only by PutBlob", ErrBadKey, key)
	}
	return nil
}

func validSegment(seg string) error {
	if seg == "" || seg == "." || seg == ".." {
		return fmt.Errorf("segment %q not allowed", seg)
	}
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.':
		default:
			return fmt.Errorf("byte %q not allowed", c)
		}
	}
	return nil
}

// blobHash returns the hex digest named by a blob key, or "".
func blobHash(key string) string {
	h, ok := strings.CutPrefix(key, BlobPrefix)
	if !ok || len(h) != 64 {
		return ""
	}
	if _, err := hex.DecodeString(h); err != nil {
		return ""
	}
	return h
}
