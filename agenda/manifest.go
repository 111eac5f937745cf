package agenda

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gowebpki/jcs"
)

// ManifestFormat names the manifest's layout; a reader refuses any other.
const ManifestFormat = "cau.agenda.manifest/v1"

// Manifest is a published agenda version, frozen. Its canonical JSON
// (RFC 8785) is what officials sign, byte for byte; every field below is
// part of it. docs/AGENDA.md describes the format.
type Manifest struct {
	// Format is always ManifestFormat.
	Format string `json:"format"`
	// Meeting is the meeting's ID and MeetingTitle its title when published.
	Meeting      string `json:"meeting"`
	MeetingTitle string `json:"meeting_title"`
	// Version counts from 1; each publication adds one.
	Version int `json:"version"`
	// Previous is the lowercase hex SHA-256 of the previous version's
	// manifest bytes, and empty for version 1: the versions form a hash
	// chain, so no earlier version can be replaced unnoticed.
	Previous string `json:"previous"`
	// PublishedAt is when the version was published (UTC, RFC 3339, seconds).
	PublishedAt string `json:"published_at"`
	// PublishedBy names who published it.
	PublishedBy string `json:"published_by"`
	// Items are the agenda items in order.
	Items []ManifestItem `json:"items"`
}

// ManifestItem is one agenda item in a manifest.
type ManifestItem struct {
	// Number is the item's position, from 1.
	Number      int    `json:"number"`
	Title       string `json:"title"`
	Presenter   string `json:"presenter"`
	DurationMin int    `json:"duration_min"`
	// Access says who may read the item's documents.
	Access Access `json:"access"`
	// Documents are the item's files, meeting documents first.
	Documents []ManifestDocument `json:"documents"`
}

// ManifestDocument is one file in a manifest.
type ManifestDocument struct {
	// ID is the document's ID in Cầu.
	ID    string `json:"id"`
	Title string `json:"title"`
	// FileName is the safe file name offered on download.
	FileName string `json:"file_name"`
	// Role is RoleDocument (a PDF shown in the meeting) or RoleAttachment.
	Role Role `json:"role"`
	// MediaType is the sniffed type, e.g. application/pdf.
	MediaType string `json:"media_type"`
	Size      int64  `json:"size"`
	// SHA256 is the lowercase hex SHA-256 of the content.
	SHA256 string `json:"sha256"`
	// Key is the object-store key, blobs/sha256/<SHA256>.
	Key string `json:"key"`
}

// Access is an item's access list: everyone in the meeting, or only the
// named meeting roles and bridge points.
type Access struct {
	Everyone bool     `json:"everyone"`
	Roles    []string `json:"roles"`
	Points   []string `json:"points"`
}

// Role is what a document is for in its item.
type Role string

// Document roles.
const (
	// RoleDocument is a PDF shown to the meeting.
	RoleDocument Role = "document"
	// RoleAttachment is any accepted file offered for download.
	RoleAttachment Role = "attachment"
)

// ErrBadManifest means manifest bytes are not a well-formed, canonical
// manifest, or a chain of them does not link up.
var ErrBadManifest = errors.New("agenda: bad manifest")

// ManifestKey is the object-store key of a version's manifest.
func ManifestKey(meeting string, version int) string {
	return "meetings/" + meeting + "/agenda/v" + strconv.Itoa(version) + "/manifest.json"
}

// SignatureKey is the object-store key of a version's detached signature.
func SignatureKey(meeting string, version int) string {
	return "meetings/" + meeting + "/agenda/v" + strconv.Itoa(version) + "/manifest.p7s"
}

// Canonical returns the manifest's canonical JSON (RFC 8785): keys sorted,
// no insignificant white space, numbers and strings in their one canonical
// form. These are the bytes stored, hashed and signed.
func (m *Manifest) Canonical() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(m.normalized())
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	out, err := jcs.Transform(raw)
	if err != nil {
		return nil, fmt.Errorf("canonicalise manifest: %w", err)
	}
	return out, nil
}

// normalized returns a copy whose nil lists are empty, so that a manifest
// built in Go and one decoded from "[]" encode alike (never as null).
func (m *Manifest) normalized() *Manifest {
	c := *m
	c.Items = make([]ManifestItem, len(m.Items))
	for i, it := range m.Items {
		if it.Access.Roles == nil {
			it.Access.Roles = []string{}
		}
		if it.Access.Points == nil {
			it.Access.Points = []string{}
		}
		if it.Documents == nil {
			it.Documents = []ManifestDocument{}
		}
		c.Items[i] = it
	}
	return &c
}

// ManifestHash is the lowercase hex SHA-256 of manifest bytes: the value the
// next version records as Previous.
func ManifestHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Validate checks the manifest's own consistency: format, meeting, version
// and chain link, item numbering, and every document's hash and key.
func (m *Manifest) Validate() error {
	switch {
	case m.Format != ManifestFormat:
		return fmt.Errorf("%w: format %q, want %q", ErrBadManifest, m.Format, ManifestFormat)
	case m.Meeting == "":
		return fmt.Errorf("%w: no meeting", ErrBadManifest)
	case m.Version < 1:
		return fmt.Errorf("%w: version %d", ErrBadManifest, m.Version)
	case m.Version == 1 && m.Previous != "":
		return fmt.Errorf("%w: version 1 has a previous hash", ErrBadManifest)
	case m.Version > 1 && !isHexSHA256(m.Previous):
		return fmt.Errorf("%w: version %d needs the previous version's SHA-256", ErrBadManifest, m.Version)
	}
	if _, err := time.Parse(time.RFC3339, m.PublishedAt); err != nil {
		return fmt.Errorf("%w: published_at: %v", ErrBadManifest, err)
	}
	for i, it := range m.Items {
		if it.Number != i+1 {
			return fmt.Errorf("%w: item %d numbered %d", ErrBadManifest, i+1, it.Number)
		}
		for _, d := range it.Documents {
			if !isHexSHA256(d.SHA256) || d.Key != blobKey(d.SHA256) || d.Size < 0 {
				return fmt.Errorf("%w: item %d document %q: bad hash, key or size", ErrBadManifest, it.Number, d.ID)
			}
		}
	}
	return nil
}

// ParseManifest decodes manifest bytes, refusing unknown fields and bytes
// that are not already canonical: what was signed must be exactly what
// Canonical would produce.
func ParseManifest(b []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadManifest, err)
	}
	canon, err := m.Canonical()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(canon, b) {
		return nil, fmt.Errorf("%w: not in canonical form (RFC 8785)", ErrBadManifest)
	}
	return &m, nil
}

// VerifyChain checks that manifests, oldest first and starting at version
// 1, are one meeting's consecutive versions, each naming the SHA-256 of the
// one before.
func VerifyChain(manifests [][]byte) error {
	prev := ""
	meeting := ""
	for i, b := range manifests {
		m, err := ParseManifest(b)
		if err != nil {
			return fmt.Errorf("version %d: %w", i+1, err)
		}
		if m.Version != i+1 {
			return fmt.Errorf("%w: position %d holds version %d", ErrBadManifest, i+1, m.Version)
		}
		if i == 0 {
			meeting = m.Meeting
		} else if m.Meeting != meeting {
			return fmt.Errorf("%w: version %d belongs to meeting %q, not %q", ErrBadManifest, m.Version, m.Meeting, meeting)
		}
		if m.Previous != prev {
			return fmt.Errorf("%w: version %d names previous %q, but version %d hashes to %q",
				ErrBadManifest, m.Version, m.Previous, i, prev)
		}
		prev = ManifestHash(b)
	}
	return nil
}

func blobKey(sha string) string { return "blobs/sha256/" + sha }

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
