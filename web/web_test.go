package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cau-bridge/cau/internal/app"
	"github.com/cau-bridge/cau/internal/testutil"
)

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func TestHealthzAndPage(t *testing.T) {
	a := testutil.StartServer(t, nil)
	res, err := http.Get(a.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d", res.StatusCode)
	}
	res, err = http.Get(a.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "Cầu") {
		t.Fatalf("page: %d, Vietnamese title missing", res.StatusCode)
	}
}

func TestDevToken(t *testing.T) {
	a := testutil.StartServer(t, nil)
	post := func(t *testing.T, url, ctype, body string) (int, []byte) {
		t.Helper()
		res, err := http.Post(url, ctype, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	status, body := post(t, a.URL()+"/api/v1/dev/token", "application/json", `{"name":"Xã Tân Thanh","meeting":"demo"}`)
	var ok struct{ Token string }
	if status != http.StatusOK || json.Unmarshal(body, &ok) != nil {
		t.Fatalf("mint: %d %s", status, body)
	}
	claims, err := a.Tokens.Verify(ok.Token)
	if err != nil || claims.Name != "Xã Tân Thanh" || claims.Meeting != "demo" {
		t.Fatalf("minted token: %+v, %v", claims, err)
	}
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		code              string
	}{
		{"malformed JSON", "application/json", `{"name":`, 400, "bad_request"},
		{"unknown field", "application/json", `{"name":"a","meeting":"b","role":"chair"}`, 400, "bad_request"},
		{"missing meeting", "application/json", `{"name":"a"}`, 400, "bad_request"},
		{"wrong content type", "text/plain", `{"name":"a","meeting":"b"}`, 400, "bad_request"},
		{"oversized body", "application/json", `{"name":"` + strings.Repeat("a", 8000) + `","meeting":"b"}`, 400, "bad_request"},
		{"trailing data", "application/json", `{"name":"a","meeting":"b"} {}`, 400, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, a.URL()+"/api/v1/dev/token", tc.ctype, tc.body)
			var e apiError
			if status != tc.status || json.Unmarshal(body, &e) != nil || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Errorf("got %d %s; want %d with code %s", status, body, tc.status, tc.code)
			}
		})
	}
	status, body = post(t, a.URL()+"/api/v1/nothing", "application/json", `{}`)
	if status != http.StatusNotFound || !strings.Contains(string(body), "not_found") {
		t.Errorf("unknown API path: %d %s", status, body)
	}

	off := testutil.StartServer(t, func(c *app.Config) { c.DevJoin = false })
	status, body = post(t, off.URL()+"/api/v1/dev/token", "application/json", `{"name":"a","meeting":"b"}`)
	if status != http.StatusForbidden || !strings.Contains(string(body), "dev_join_disabled") {
		t.Errorf("dev join off: %d %s", status, body)
	}
}
