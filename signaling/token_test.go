package signaling

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestTokens(t *testing.T) {
	secret := []byte(strings.Repeat("k", 32))
	tokens, err := NewTokens(secret)
	if err != nil {
		t.Fatal(err)
	}
	good, err := tokens.Mint("ls-ubnd", "UBND tỉnh Lạng Sơn", "hop-tinh", "chair", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tokens.Verify(good)
	if err != nil || c.Subject != "ls-ubnd" || c.Name != "UBND tỉnh Lạng Sơn" || c.Role != "chair" || c.Meeting != "hop-tinh" {
		t.Fatalf("verify good token: %+v, %v", c, err)
	}
	if _, err := NewTokens([]byte("short")); err == nil {
		t.Error("a short secret was accepted")
	}

	sign := func(method jwt.SigningMethod, key any, claims Claims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	valid := Claims{Meeting: "m", RegisteredClaims: jwt.RegisteredClaims{
		Subject: "x", Issuer: "cau", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}}
	noExp, noSub, otherIss := valid, valid, valid
	noExp.ExpiresAt = nil
	noSub.Subject = ""
	otherIss.Issuer = "someone-else"
	expired := valid
	expired.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Minute))
	for _, tc := range []struct {
		name, token string
		expired     bool
	}{
		{"empty", "", false},
		{"garbage", "a.b.c", false},
		{"other secret", sign(jwt.SigningMethodHS256, []byte(strings.Repeat("z", 32)), valid), false},
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid), false},
		{"HS512 instead of HS256", sign(jwt.SigningMethodHS512, secret, valid), false},
		{"no expiry", sign(jwt.SigningMethodHS256, secret, noExp), false},
		{"no subject", sign(jwt.SigningMethodHS256, secret, noSub), false},
		{"other issuer", sign(jwt.SigningMethodHS256, secret, otherIss), false},
		{"expired", sign(jwt.SigningMethodHS256, secret, expired), true},
	} {
		_, err := tokens.Verify(tc.token)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
		} else if errors.Is(err, ErrTokenExpired) != tc.expired {
			t.Errorf("%s: error %v; expired=%v wanted", tc.name, err, tc.expired)
		}
	}
}
