package web

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// operatorsOnly guards /metrics and /debug/stats, which name every meeting
// and point: with a token configured a scraper must present it as a bearer
// token; without one only clients on this machine (loopback) may read.
func operatorsOnly(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				writeError(w, http.StatusUnauthorized, "unauthorized", "present the metrics token as a bearer token")
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			writeError(w, http.StatusForbidden, "forbidden", "metrics are served to this machine only; configure --metrics-token for a remote scraper")
			return
		}
		next.ServeHTTP(w, r)
	})
}
