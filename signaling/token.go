package signaling

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims is what a meeting token says about its bearer.
type Claims struct {
	Name    string `json:"name"`
	Meeting string `json:"meeting"`
	Role    string `json:"role"`
	// Point is the bridge point a device token speaks for ("" for people).
	Point string `json:"point,omitempty"`
	// Kind is "api" for REST session tokens; meeting tokens leave it empty.
	Kind string `json:"kind,omitempty"`
	jwt.RegisteredClaims
}

// Tokens mints and verifies meeting tokens (JWT, HMAC-SHA256).
type Tokens struct {
	secret []byte
	issuer string
}

// ErrTokenExpired is returned for a well-signed token past its expiry.
var ErrTokenExpired = errors.New("token expired")

// NewTokens returns a minter and verifier for the given secret, which must be
// at least 32 bytes.
func NewTokens(secret []byte) (*Tokens, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("token secret is %d bytes; at least 32 are needed", len(secret))
	}
	return &Tokens{secret: secret, issuer: "cau"}, nil
}

// Mint signs a meeting token for identity sub, valid for ttl.
func (t *Tokens) Mint(sub, name, meeting, role string, ttl time.Duration) (string, error) {
	return t.MintClaims(Claims{Name: name, Meeting: meeting, Role: role,
		RegisteredClaims: jwt.RegisteredClaims{Subject: sub}}, ttl)
}

// MintClaims signs c, valid for ttl from now. A meeting token needs Subject
// and Meeting; an API token (Kind "api") needs Subject and Role.
func (t *Tokens) MintClaims(c Claims, ttl time.Duration) (string, error) {
	if c.Subject == "" || (c.Kind != "api" && c.Meeting == "") || (c.Kind == "api" && c.Role == "") {
		return "", errors.New("mint token: identity and meeting (or role, for an API token) are required")
	}
	now := time.Now()
	c.Issuer = t.issuer
	c.IssuedAt = jwt.NewNumericDate(now)
	c.ExpiresAt = jwt.NewNumericDate(now.Add(ttl))
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
}

// Verify checks a token's signature, algorithm, issuer and expiry and returns
// its claims.
func (t *Tokens) Verify(token string) (*Claims, error) {
	c, err := t.VerifyAny(token)
	if err != nil {
		return nil, err
	}
	if c.Kind == "api" || c.Meeting == "" {
		return nil, errors.New("invalid token: not a meeting token")
	}
	return c, nil
}

// VerifyAny checks a meeting or API token and returns its claims.
func (t *Tokens) VerifyAny(token string) (*Claims, error) {
	if token == "" {
		return nil, errors.New("no token")
	}
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(), jwt.WithIssuer(t.issuer), jwt.WithLeeway(5*time.Second))
	if errors.Is(err, jwt.ErrTokenExpired) {
		return nil, ErrTokenExpired
	}
	if err != nil {
		return nil, fmt.Errorf("invalid token: %w", err)
	}
	if c.Subject == "" || (c.Meeting == "" && c.Kind != "api") {
		return nil, errors.New("invalid token: identity or meeting missing")
	}
	return &c, nil
}
