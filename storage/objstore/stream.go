package objstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// meter wraps an upload's reader: it hashes and counts what passes, fails
// with ErrTooLarge past the limit, and stops when the context ends, so a
// client that goes away ends the upload at the next read.
type meter struct {
	ctx   context.Context
	r     io.Reader
	limit int64
	n     int64
	sum   hash.Hash
}

func newMeter(ctx context.Context, r io.Reader, limit int64) *meter {
	return &meter{ctx: ctx, r: r, limit: limit, sum: sha256.New()}
}

// Read implements io.Reader.
func (m *meter) Read(p []byte) (int, error) {
	if err := m.ctx.Err(); err != nil {
		return 0, err
	}
	// Read at most one byte past the limit: enough to know it was exceeded.
	if room := m.limit + 1 - m.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := m.r.Read(p)
	m.n += int64(n)
	if m.n > m.limit {
		return 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, m.limit)
	}
	m.sum.Write(p[:n])
	return n, err
}

// hex returns the SHA-256 of everything read so far.
func (m *meter) hex() string { return hex.EncodeToString(m.sum.Sum(nil)) }

// stagingName returns a fresh random name for a staging object.
func stagingName() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
