package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestMetricsAccess: with a token, /metrics and /debug/stats need it;
// without one, only loopback clients may read them.
func TestMetricsAccess(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	for _, tc := range []struct {
		token, remote, auth string
		want                int
	}{
		{"", "127.0.0.1:5000", "", 200},
		{"", "[::1]:5000", "", 200},
		{"", "10.0.0.7:5000", "", 403},
		{"s3cret", "10.0.0.7:5000", "Bearer s3cret", 200},
		{"s3cret", "10.0.0.7:5000", "Bearer wrong", 401},
		{"s3cret", "127.0.0.1:5000", "", 401},
	} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.RemoteAddr = tc.remote
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		rec := httptest.NewRecorder()
		operatorsOnly(tc.token, ok).ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("token %q from %s with %q: %d, want %d", tc.token, tc.remote, tc.auth, rec.Code, tc.want)
		}
	}
}
