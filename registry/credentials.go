package registry

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Credential is a newly issued point credential. Secret is shown once; only
// its hash is stored.
type Credential struct {
	ID      string `json:"id"`
	PointID string `json:"point_id"`
	// Secret is what the room device presents: "cau_pt_<credential id>_<random>".
	Secret string `json:"secret"`
}

func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// IssueCredential creates a new credential for a point. With rotate, the
// point's other credentials are revoked in the same transaction.
func (r *Registry) IssueCredential(ctx context.Context, pointID string, rotate bool) (Credential, error) {
	c := Credential{ID: newSecret(8), PointID: pointID}
	c.Secret = "cau_pt_" + c.ID + "_" + newSecret(24)
	err := r.db.Tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM points WHERE id = ?`, pointID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("point %q: %w", pointID, ErrNotFound)
		}
		if rotate {
			if _, err := tx.ExecContext(ctx, `UPDATE point_credentials SET revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
				WHERE point_id = ? AND revoked_at IS NULL`, pointID); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO point_credentials(id, point_id, secret_hash) VALUES (?, ?, ?)`,
			c.ID, pointID, hashSecret(c.Secret))
		return err
	})
	if err != nil {
		return Credential{}, err
	}
	return c, nil
}

// RevokeCredentials revokes every credential of a point.
func (r *Registry) RevokeCredentials(ctx context.Context, pointID string) (int, error) {
	if _, err := r.Point(ctx, pointID); err != nil {
		return 0, err
	}
	res, err := r.db.ExecContext(ctx, `UPDATE point_credentials SET revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
		WHERE point_id = ? AND revoked_at IS NULL`, pointID)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// AuthenticatePoint checks a device's credential and returns its point. A
// revoked credential or a disabled point fails with ErrUnauthorized.
func (r *Registry) AuthenticatePoint(ctx context.Context, secret string) (Point, error) {
	id := CredentialID(secret)
	if id == "" {
		return Point{}, ErrUnauthorized
	}
	var pointID, hash string
	var revoked sql.NullString
	err := r.db.QueryRowContext(ctx, `SELECT point_id, secret_hash, revoked_at FROM point_credentials WHERE id = ?`, id).
		Scan(&pointID, &hash, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return Point{}, ErrUnauthorized
	}
	if err != nil {
		return Point{}, err
	}
	if subtle.ConstantTimeCompare([]byte(hash), []byte(hashSecret(secret))) != 1 || revoked.Valid {
		return Point{}, ErrUnauthorized
	}
	p, err := r.Point(ctx, pointID)
	if err != nil {
		return Point{}, err
	}
	if !p.Enabled {
		return Point{}, fmt.Errorf("%w: point %s is disabled", ErrUnauthorized, p.ID)
	}
	return p, nil
}

// User is a person's account.
type User struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Name     string `json:"name"`
	// Role is the account role: it_admin or secretary act across meetings;
	// chair and viewer only mean something in the meetings a person is
	// invited to.
	Role Role `json:"role"`
}

func hashPassword(pw, salt string) string {
	k := argon2.IDKey([]byte(pw), []byte(salt), 1, 32*1024, 2, 32)
	return "argon2id$" + salt + "$" + hex.EncodeToString(k)
}

// CreateUser creates an account.
func (r *Registry) CreateUser(ctx context.Context, u User, password string) (User, error) {
	if !validID(u.Username) {
		return User{}, fmt.Errorf("%w: username must be 1-64 characters of a-z, 0-9, '-', '_', '.'", ErrInvalid)
	}
	if err := checkText("name", u.Name, true, 200); err != nil {
		return User{}, err
	}
	if !u.Role.Valid() || u.Role == Operator {
		return User{}, fmt.Errorf("%w: account role must be it_admin, secretary, chair or viewer", ErrInvalid)
	}
	if len(password) < 10 || len(password) > 200 {
		return User{}, fmt.Errorf("%w: password must be 10-200 characters", ErrInvalid)
	}
	u.ID = "u-" + newSecret(6)
	hash, err := r.hash(ctx, password, newSecret(16))
	if err != nil {
		return User{}, err
	}
	_, err = r.db.ExecContext(ctx, `INSERT INTO users(id, username, name, role, password_hash) VALUES (?, ?, ?, ?, ?)`,
		u.ID, u.Username, u.Name, string(u.Role), hash)
	if err != nil && strings.Contains(err.Error(), "UNIQUE") {
		return User{}, fmt.Errorf("user %q: %w", u.Username, ErrConflict)
	}
	if err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// Users lists the accounts.
func (r *Registry) Users(ctx context.Context) ([]User, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT id, username, name, role FROM users ORDER BY username`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		var u User
		if err := rows.Scan(&u.ID, &u.Username, &u.Name, &u.Role); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// User returns one account by id.
func (r *Registry) User(ctx context.Context, id string) (User, error) {
	var u User
	err := r.db.QueryRowContext(ctx, `SELECT id, username, name, role FROM users WHERE id = ?`, id).
		Scan(&u.ID, &u.Username, &u.Name, &u.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user %q: %w", id, ErrNotFound)
	}
	return u, err
}

// Login checks a username and password.
func (r *Registry) Login(ctx context.Context, username, password string) (User, error) {
	var u User
	var stored string
	err := r.db.QueryRowContext(ctx, `SELECT id, username, name, role, password_hash FROM users WHERE username = ?`, username).
		Scan(&u.ID, &u.Username, &u.Name, &u.Role, &stored)
	if errors.Is(err, sql.ErrNoRows) {
		_, _ = r.hash(ctx, password, "timing-equaliser") // answer as slowly as for a real user
		return User{}, ErrUnauthorized
	}
	if err != nil {
		return User{}, err
	}
	parts := strings.Split(stored, "$")
	if len(parts) != 3 {
		return User{}, ErrUnauthorized
	}
	got, err := r.hash(ctx, password, parts[1])
	if err != nil {
		return User{}, err
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(stored)) != 1 {
		return User{}, ErrUnauthorized
	}
	return u, nil
}

// EnsureAdmin creates the account "admin" (it_admin) with password when no
// account exists yet, and reports whether it did.
func (r *Registry) EnsureAdmin(ctx context.Context, password string) (bool, error) {
	var n int
	if err := r.db.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	_, err := r.CreateUser(ctx, User{Username: "admin", Name: "Quản trị CNTT", Role: ITAdmin}, password)
	return err == nil, err
}

// CredentialID returns the id part of a credential secret ("" if malformed);
// tokens issued on the strength of a credential carry it, so revoking the
// credential revokes them.
func CredentialID(secret string) string {
	rest, ok := strings.CutPrefix(secret, "cau_pt_")
	id, _, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 {
		return ""
	}
	return id
}

// CheckCredential fails with ErrUnauthorized unless credential id of point
// is still valid: not revoked, and the point enabled.
func (r *Registry) CheckCredential(ctx context.Context, id, pointID string) error {
	var n int
	err := r.db.QueryRowContext(ctx, `SELECT count(*) FROM point_credentials c JOIN points p ON p.id = c.point_id
		WHERE c.id = ? AND c.point_id = ? AND c.revoked_at IS NULL AND p.enabled = 1`, id, pointID).Scan(&n)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: the credential was revoked or the point disabled", ErrUnauthorized)
	}
	return nil
}
