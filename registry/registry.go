package registry

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cau-bridge/cau/storage"
)

// Errors callers tell apart; the web layer maps them to HTTP statuses.
var (
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("already exists")
	ErrInvalid      = errors.New("invalid")
	ErrUnauthorized = errors.New("wrong or revoked credentials")
	ErrNotInvited   = errors.New("not invited to this meeting")
)

// Registry is the registry of levels, points, people and meetings.
type Registry struct {
	db  *storage.DB
	now func() time.Time
	// hashing bounds concurrent password hashes (32 MiB each), so a flood
	// of sign-in attempts queues instead of exhausting memory.
	hashing chan struct{}
}

// maxConcurrentHashes is how many password hashes run at once.
const maxConcurrentHashes = 4

// New returns a registry persisted in db.
func New(db *storage.DB) *Registry {
	return &Registry{db: db, now: time.Now, hashing: make(chan struct{}, maxConcurrentHashes)}
}

// hash computes a password hash, at most maxConcurrentHashes at a time.
func (r *Registry) hash(ctx context.Context, pw, salt string) (string, error) {
	select {
	case r.hashing <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-r.hashing }()
	return hashPassword(pw, salt), nil
}

// Level is one level of government, ranked from the top (0).
type Level struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Rank int    `json:"rank"`
}

// Point is a bridge point.
type Point struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Level        string `json:"level"`
	Parent       string `json:"parent,omitempty"`
	ContactName  string `json:"contact_name,omitempty"`
	ContactPhone string `json:"contact_phone,omitempty"`
	ContactEmail string `json:"contact_email,omitempty"`
	Enabled      bool   `json:"enabled"`
}

// validID accepts the ids of the rosters: lower-case ASCII letters, digits
// and dashes, 1-64 characters.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func checkText(field, v string, required bool, max int) error {
	if required && strings.TrimSpace(v) == "" {
		return fmt.Errorf("%w: %s is required", ErrInvalid, field)
	}
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > max {
		return fmt.Errorf("%w: %s must be valid UTF-8 of at most %d characters", ErrInvalid, field, max)
	}
	return nil
}

func (p *Point) validate() error {
	if !validID(p.ID) {
		return fmt.Errorf("%w: id %q must be 1-64 characters of a-z, 0-9, '-', '_', '.'", ErrInvalid, p.ID)
	}
	if p.Parent == p.ID {
		return fmt.Errorf("%w: point %s cannot be its own parent", ErrInvalid, p.ID)
	}
	for _, f := range []struct {
		name, v  string
		required bool
	}{{"name", p.Name, true}, {"level", p.Level, true}, {"contact_name", p.ContactName, false},
		{"contact_phone", p.ContactPhone, false}, {"contact_email", p.ContactEmail, false}} {
		if err := checkText(f.name, f.v, f.required, 200); err != nil {
			return err
		}
	}
	return nil
}

// Levels lists the levels, top first.
func (r *Registry) Levels(ctx context.Context) ([]Level, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT id, name, rank FROM levels ORDER BY rank`)
	if err != nil {
		return nil, fmt.Errorf("list levels: %w", err)
	}
	defer rows.Close()
	out := []Level{}
	for rows.Next() {
		var l Level
		if err := rows.Scan(&l.ID, &l.Name, &l.Rank); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// SetLevels replaces the list of levels, in rank order (the first is the
// top). A level still used by a point cannot be removed.
func (r *Registry) SetLevels(ctx context.Context, levels []Level) error {
	if len(levels) == 0 {
		return fmt.Errorf("%w: at least one level is needed", ErrInvalid)
	}
	seen := map[string]bool{}
	for _, l := range levels {
		if !validID(l.ID) || seen[l.ID] {
			return fmt.Errorf("%w: level id %q is malformed or repeated", ErrInvalid, l.ID)
		}
		if err := checkText("level name", l.Name, true, 100); err != nil {
			return err
		}
		seen[l.ID] = true
	}
	return r.db.Tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT DISTINCT level FROM points`)
		if err != nil {
			return err
		}
		var used []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			used = append(used, id)
		}
		rows.Close()
		for _, id := range used {
			if !seen[id] {
				return fmt.Errorf("%w: level %q is used by bridge points", ErrConflict, id)
			}
		}
		// Ranks are unique, so move the old ones out of the way first.
		if _, err := tx.ExecContext(ctx, `UPDATE levels SET rank = rank + 1000000`); err != nil {
			return err
		}
		for i, l := range levels {
			if _, err := tx.ExecContext(ctx, `INSERT INTO levels(id, name, rank) VALUES (?, ?, ?)
				ON CONFLICT(id) DO UPDATE SET name = excluded.name, rank = excluded.rank`, l.ID, l.Name, i); err != nil {
				return err
			}
		}
		if _, err = tx.ExecContext(ctx, `DELETE FROM levels WHERE rank >= 1000000`); err != nil {
			return err
		}
		// A new order must keep every point below its parent.
		all, ranks, err := loadTree(ctx, tx)
		if err != nil {
			return err
		}
		for id := range all {
			if err := checkTree(all, ranks, id); err != nil {
				return fmt.Errorf("%w (point %s)", err, id)
			}
		}
		return nil
	})
}

const pointCols = `id, name, level, COALESCE(parent, ''), contact_name, contact_phone, contact_email, enabled`

func scanPoint(s interface{ Scan(...any) error }) (Point, error) {
	var p Point
	err := s.Scan(&p.ID, &p.Name, &p.Level, &p.Parent, &p.ContactName, &p.ContactPhone, &p.ContactEmail, &p.Enabled)
	return p, err
}

// Points lists every point, ordered by id.
func (r *Registry) Points(ctx context.Context) ([]Point, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT `+pointCols+` FROM points ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list points: %w", err)
	}
	defer rows.Close()
	out := []Point{}
	for rows.Next() {
		p, err := scanPoint(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Point returns one point.
func (r *Registry) Point(ctx context.Context, id string) (Point, error) {
	p, err := scanPoint(r.db.QueryRowContext(ctx, `SELECT `+pointCols+` FROM points WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Point{}, fmt.Errorf("point %q: %w", id, ErrNotFound)
	}
	return p, err
}

// SavePoint creates or replaces a point after checking its level, its
// parent and that the hierarchy stays a tree.
func (r *Registry) SavePoint(ctx context.Context, p Point) error {
	if err := p.validate(); err != nil {
		return err
	}
	return r.db.Tx(ctx, func(tx *sql.Tx) error {
		all, levels, err := loadTree(ctx, tx)
		if err != nil {
			return err
		}
		all[p.ID] = p
		// Every point, not only this one: a changed level can put its
		// children above it.
		for id := range all {
			if err := checkTree(all, levels, id); err != nil {
				if id != p.ID {
					return fmt.Errorf("%w (point %s)", err, id)
				}
				return err
			}
		}
		return upsertPoint(ctx, tx, p)
	})
}

func upsertPoint(ctx context.Context, tx *sql.Tx, p Point) error {
	var parent any
	if p.Parent != "" {
		parent = p.Parent
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO points(id, name, level, parent, contact_name, contact_phone, contact_email, enabled)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET name = excluded.name, level = excluded.level, parent = excluded.parent,
			contact_name = excluded.contact_name, contact_phone = excluded.contact_phone,
			contact_email = excluded.contact_email, enabled = excluded.enabled,
			updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`,
		p.ID, p.Name, p.Level, parent, p.ContactName, p.ContactPhone, p.ContactEmail, p.Enabled)
	if err != nil {
		return fmt.Errorf("save point %s: %w", p.ID, err)
	}
	return nil
}

// SetEnabled enables or disables a point. A disabled point's credentials
// stop working.
func (r *Registry) SetEnabled(ctx context.Context, id string, enabled bool) error {
	res, err := r.db.ExecContext(ctx, `UPDATE points SET enabled = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?`, enabled, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("point %q: %w", id, ErrNotFound)
	}
	return nil
}

func loadTree(ctx context.Context, tx *sql.Tx) (map[string]Point, map[string]int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+pointCols+` FROM points`)
	if err != nil {
		return nil, nil, err
	}
	all := map[string]Point{}
	for rows.Next() {
		p, err := scanPoint(rows)
		if err != nil {
			rows.Close()
			return nil, nil, err
		}
		all[p.ID] = p
	}
	rows.Close()
	lrows, err := tx.QueryContext(ctx, `SELECT id, rank FROM levels`)
	if err != nil {
		return nil, nil, err
	}
	defer lrows.Close()
	levels := map[string]int{}
	for lrows.Next() {
		var id string
		var rank int
		if err := lrows.Scan(&id, &rank); err != nil {
			return nil, nil, err
		}
		levels[id] = rank
	}
	return all, levels, lrows.Err()
}

// checkTree checks point id within all: a known level, a known parent at a
// higher level, and no cycle through its ancestors.
func checkTree(all map[string]Point, levels map[string]int, id string) error {
	p := all[id]
	rank, ok := levels[p.Level]
	if !ok {
		return fmt.Errorf("%w: unknown level %q", ErrInvalid, p.Level)
	}
	if p.Parent == "" {
		return nil
	}
	parent, ok := all[p.Parent]
	if !ok {
		return fmt.Errorf("%w: unknown parent %q", ErrInvalid, p.Parent)
	}
	if pr, ok := levels[parent.Level]; ok && pr > rank {
		return fmt.Errorf("%w: parent %q is at a lower level (%s) than %s", ErrInvalid, p.Parent, parent.Level, p.Level)
	}
	seen := map[string]bool{id: true}
	for cur := p.Parent; cur != ""; cur = all[cur].Parent {
		if seen[cur] {
			return fmt.Errorf("%w: parent chain of %q forms a cycle through %q", ErrInvalid, id, cur)
		}
		seen[cur] = true
		if _, ok := all[cur]; !ok {
			break
		}
	}
	return nil
}

// newSecret returns n random bytes in hex.
func newSecret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
