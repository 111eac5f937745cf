package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cau-bridge/cau/internal/app"
	"github.com/cau-bridge/cau/internal/testutil"
	"github.com/cau-bridge/cau/registry"
	"github.com/cau-bridge/cau/signaling"
	"github.com/cau-bridge/cau/signaling/client"
)

const adminPassword = "mật-khẩu-quản-trị"

// call sends a JSON (or raw) request and decodes a JSON answer into out.
func call(t *testing.T, a *app.App, method, path, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "text/csv"
	default:
		buf, _ := json.Marshal(b)
		rd = bytes.NewReader(buf)
	}
	req, _ := http.NewRequest(method, a.URL()+"/api/v1"+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, res.StatusCode, raw, err)
		}
	}
	if res.StatusCode >= 400 && !strings.Contains(string(raw), `"error"`) {
		t.Errorf("%s %s: %d without a JSON error: %s", method, path, res.StatusCode, raw)
	}
	return res.StatusCode
}

type tokenReply struct {
	Token string `json:"token"`
}

func loginAdmin(t *testing.T, a *app.App) string {
	t.Helper()
	var tr tokenReply
	if st := call(t, a, "POST", "/auth/login", "", map[string]string{"username": "admin", "password": adminPassword}, &tr); st != 200 {
		t.Fatalf("admin login: %d", st)
	}
	return tr.Token
}

func startRegistryServer(t *testing.T) *app.App {
	t.Helper()
	return testutil.StartServer(t, func(c *app.Config) { c.AdminPassword = adminPassword })
}

func importLangSon(t *testing.T, a *app.App, admin string) {
	t.Helper()
	roster, err := os.ReadFile("../registry/testdata/bridgepoints-langson.csv")
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]int
	if st := call(t, a, "POST", "/points/import", admin, string(roster), &out); st != 200 || out["imported"] != 214 {
		t.Fatalf("import roster: %d %v", st, out)
	}
}

func TestRegistryAPIFlow(t *testing.T) {
	a := startRegistryServer(t)
	admin := loginAdmin(t, a)
	importLangSon(t, a, admin)

	// A malformed file changes nothing and names its bad rows.
	var bad struct {
		Error struct {
			Code string              `json:"code"`
			Rows []registry.RowError `json:"rows"`
		} `json:"error"`
	}
	st := call(t, a, "POST", "/points/import", admin, "id,name,level,parent\nnew-1,Mới,district,ls-ubnd\nls-ubnd,Vòng,province,new-1\n", &bad)
	if st != 422 || bad.Error.Code != "import_refused" || len(bad.Error.Rows) == 0 {
		t.Fatalf("cyclic import: %d %+v", st, bad)
	}
	var pts []registry.Point
	call(t, a, "GET", "/points", admin, nil, &pts)
	if len(pts) != 214 {
		t.Fatalf("after a refused import: %d points", len(pts))
	}
	for _, p := range pts {
		if p.ID == "ls-ubnd" && p.Parent != "tw" {
			t.Fatalf("a refused import changed ls-ubnd: %+v", p)
		}
	}

	// A secretary schedules a 2-level meeting.
	var sec registry.User
	if st := call(t, a, "POST", "/users", admin, map[string]string{"username": "thuky", "name": "Thư ký", "role": "secretary", "password": "thư-ký-mật-khẩu"}, &sec); st != 201 {
		t.Fatalf("create secretary: %d", st)
	}
	var tr tokenReply
	call(t, a, "POST", "/auth/login", "", map[string]string{"username": "thuky", "password": "thư-ký-mật-khẩu"}, &tr)
	secTok := tr.Token
	if st := call(t, a, "POST", "/auth/login", "", map[string]string{"username": "thuky", "password": "sai"}, nil); st != 401 {
		t.Errorf("wrong password: %d", st)
	}
	var m registry.Meeting
	if st := call(t, a, "POST", "/meetings", secTok, map[string]any{"title": "Giao ban tháng 11", "starts_at": time.Now().Add(time.Hour),
		"chair_point": "ls-ubnd", "root_point": "ls-ubnd", "depth": 1}, &m); st != 201 {
		t.Fatalf("create meeting: %d", st)
	}
	var inv []registry.Point
	call(t, a, "GET", "/meetings/"+m.ID+"/invited", secTok, nil, &inv)
	if len(inv) != 13 {
		t.Fatalf("2-level meeting invites %d", len(inv))
	}

	// Devices sign in with their credentials.
	pointToken := func(id string) string {
		var cred registry.Credential
		if st := call(t, a, "POST", "/points/"+id+"/credentials", admin, map[string]bool{"rotate": true}, &cred); st != 201 {
			t.Fatalf("issue credential for %s: %d", id, st)
		}
		var tr tokenReply
		if st := call(t, a, "POST", "/auth/point", "", map[string]string{"credential": cred.Secret}, &tr); st != 200 {
			t.Fatalf("point login %s: %d", id, st)
		}
		return tr.Token
	}
	district, commune := pointToken("ls-bac-son"), pointToken("ls-bac-son-x01")
	if st := call(t, a, "POST", "/auth/point", "", map[string]string{"credential": "cau_pt_0000_forged"}, nil); st != 401 {
		t.Errorf("forged credential: %d", st)
	}
	if st := call(t, a, "POST", "/meetings/"+m.ID+"/join", district, nil, nil); st != 409 {
		t.Errorf("join before the meeting opens: %d, want 409", st)
	}
	if st := call(t, a, "POST", "/meetings/"+m.ID+"/state", secTok, map[string]string{"state": "open"}, nil); st != 201 {
		t.Fatalf("open: %d", st)
	}
	if st := call(t, a, "POST", "/meetings/"+m.ID+"/join", commune, nil, nil); st != 403 {
		t.Errorf("a non-invited point joins: %d, want 403", st)
	}
	var join struct {
		Token  string `json:"token"`
		Role   string `json:"role"`
		PeerID string `json:"peer_id"`
	}
	if st := call(t, a, "POST", "/meetings/"+m.ID+"/join", district, nil, &join); st != 200 || join.Role != "operator" || join.PeerID != "ls-bac-son" {
		t.Fatalf("invited point joins: %d %+v", st, join)
	}
	// The meeting token opens the meeting's WebSocket, and only that.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{URL: a.WSURL(), Token: join.Token})
	if err != nil {
		t.Fatalf("join the WebSocket with the meeting token: %v", err)
	}
	defer c.Close()
	if st := call(t, a, "GET", "/points", join.Token, nil, nil); st != 403 {
		t.Errorf("a meeting token used outside its meeting: %d", st)
	}
	if st := call(t, a, "POST", "/meetings/"+m.ID+"/join", join.Token, nil, nil); st != 403 {
		t.Errorf("a meeting token minted another: %d", st)
	}
	// Revoking a point's credential ends the tokens it earned.
	if st := call(t, a, "GET", "/meetings/"+m.ID, commune, nil, nil); st != 403 {
		t.Errorf("the commune's token before revocation: %d, want 403 (not invited)", st)
	}
	if st := call(t, a, "DELETE", "/points/ls-bac-son-x01/credentials", admin, nil, nil); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	if st := call(t, a, "GET", "/meetings/"+m.ID, commune, nil, nil); st != 401 {
		t.Errorf("a token of a revoked credential: %d, want 401", st)
	}
	// Expired and forged tokens.
	expired, _ := a.Tokens.MintClaims(signaling.Claims{Kind: "api", Role: "it_admin", RegisteredClaims: jwtSub("u-x")}, -time.Minute)
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	if st := call(t, a, "GET", "/points", expired, nil, &e); st != 401 || e.Error.Code != "token_expired" {
		t.Errorf("expired token: %d %+v", st, e)
	}
	if st := call(t, a, "GET", "/points", admin[:len(admin)-3]+"abc", nil, nil); st != 401 {
		t.Errorf("forged token: %d", st)
	}
	if st := call(t, a, "GET", "/points", "", nil, nil); st != 401 {
		t.Errorf("no token: %d", st)
	}
	// Unknown fields are refused.
	if st := call(t, a, "POST", "/meetings", secTok, map[string]any{"title": "x", "bogus": 1}, nil); st != 400 {
		t.Errorf("unknown field: %d", st)
	}
	// Roll call, absence, and the record kept at the end.
	if st := call(t, a, "PUT", "/meetings/"+m.ID+"/attendance/ls-dinh-lap", secTok, map[string]string{"reason": "Mất điện"}, nil); st != 200 {
		t.Errorf("mark absent: %d", st)
	}
	deadline := time.Now().Add(5 * time.Second)
	var roll []registry.RollEntry
	for time.Now().Before(deadline) {
		call(t, a, "GET", "/meetings/"+m.ID+"/rollcall", secTok, nil, &roll)
		if status(roll, "ls-bac-son") == registry.AttendConnected || status(roll, "ls-bac-son") == registry.AttendPresent {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s := status(roll, "ls-bac-son"); s != registry.AttendConnected && s != registry.AttendPresent {
		t.Errorf("roll call of the connected point: %q", s)
	}
	if s := status(roll, "ls-dinh-lap"); s != registry.AttendAbsent {
		t.Errorf("roll call of the absent point: %q", s)
	}
	if s := status(roll, "ls-tinhuy"); s != registry.AttendMissing {
		t.Errorf("roll call of a point never seen: %q", s)
	}
	// A revoked credential's meeting token no longer opens the WebSocket
	// (the session already in keeps going until the meeting ends).
	if st := call(t, a, "DELETE", "/points/ls-bac-son/credentials", admin, nil, nil); st != 200 {
		t.Fatalf("revoke the district's credential: %d", st)
	}
	if c3, err := client.Dial(ctx, client.Config{URL: a.WSURL(), Token: join.Token}); err == nil {
		c3.Close()
		t.Error("a meeting token of a revoked credential joined")
	} else if !strings.Contains(err.Error(), "unauthorized") {
		t.Errorf("joining with a revoked credential's token: %v, want unauthorized", err)
	}
	if st := call(t, a, "POST", "/meetings/"+m.ID+"/state", secTok, map[string]string{"state": "ended"}, nil); st != 201 {
		t.Fatalf("end: %d", st)
	}
	// Ending the meeting closes its sessions, and its tokens stop working.
	select {
	case <-c.Done():
		if code, why := c.CloseReason(); code != 1000 || why != "meeting ended" {
			t.Errorf("session closed with %d %q, want 1000 \"meeting ended\"", code, why)
		}
	case <-time.After(5 * time.Second):
		t.Error("the meeting ended but its session stayed open")
	}
	if c2, err := client.Dial(ctx, client.Config{URL: a.WSURL(), Token: join.Token}); err == nil {
		c2.Close()
		t.Error("a meeting token still joins after the meeting ended")
	} else if !strings.Contains(err.Error(), "meeting_closed") {
		t.Errorf("joining an ended meeting: %v, want meeting_closed", err)
	}
	var rec registry.Record
	if st := call(t, a, "GET", "/meetings/"+m.ID+"/attendance", secTok, nil, &rec); st != 200 || rec.Present != 1 || rec.Absent != 1 || rec.Missing != 11 {
		t.Errorf("attendance record: %d present %d absent %d missing %d", st, rec.Present, rec.Absent, rec.Missing)
	}
}

func status(roll []registry.RollEntry, id string) string {
	for _, e := range roll {
		if e.PointID == id {
			return e.Status
		}
	}
	return fmt.Sprintf("(%s not on the roll)", id)
}

func jwtSub(s string) jwt.RegisteredClaims { return jwt.RegisteredClaims{Subject: s} }
