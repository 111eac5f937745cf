package web_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cau-bridge/cau/internal/app"
	"github.com/cau-bridge/cau/registry"
)

// endpoint is one REST route and the action it names. Bodies are
// well-formed JSON that the handler refuses after authorization (400, 404
// or 409), so an allowed call never changes the fixture.
type endpoint struct {
	method, path string
	body         any
	act          registry.Action
}

// restEndpoints lists every REST endpoint behind the role table; {m} is the
// meeting, {p} a point.
func restEndpoints() []endpoint {
	bad := map[string]any{}
	return []endpoint{
		{"GET", "/roles", nil, registry.ActLevelsRead},
		{"GET", "/levels", nil, registry.ActLevelsRead},
		{"PUT", "/levels", []any{}, registry.ActLevelsWrite},
		{"GET", "/points", nil, registry.ActPointsRead},
		{"POST", "/points", bad, registry.ActPointsWrite},
		{"GET", "/points/export", nil, registry.ActPointsRead},
		{"POST", "/points/import", "id,name,level,parent\n", registry.ActPointsWrite},
		{"GET", "/points/{p}", nil, registry.ActPointsRead},
		{"PUT", "/points/{p}", map[string]any{"id": "other"}, registry.ActPointsWrite},
		{"POST", "/points/no-such-point/credentials", bad, registry.ActPointsCredentials},
		{"DELETE", "/points/no-such-point/credentials", nil, registry.ActPointsCredentials},
		{"GET", "/users", nil, registry.ActUsersRead},
		{"POST", "/users", bad, registry.ActUsersWrite},
		{"GET", "/meetings/{m}", nil, registry.ActMeetingsRead},
		{"PUT", "/meetings/{m}", bad, registry.ActMeetingsWrite},
		{"GET", "/meetings/{m}/invited", nil, registry.ActMeetingsRead},
		{"GET", "/meetings/{m}/people", nil, registry.ActMeetingsRead},
		{"POST", "/meetings/{m}/people", bad, registry.ActMeetingsWrite},
		{"POST", "/meetings/{m}/state", map[string]string{"state": "bogus"}, registry.ActMeetingsState},
		{"POST", "/meetings/{m}/join", nil, registry.ActMeetingJoin},
		{"GET", "/meetings/{m}/rollcall", nil, registry.ActAttendanceRead},
		{"PUT", "/meetings/{m}/attendance/no-such-point", bad, registry.ActAttendanceWrite},
		{"GET", "/meetings/{m}/attendance", nil, registry.ActAttendanceRead},
		{"GET", "/meetings/{m}/quality", nil, registry.ActQualityRead},
		{"GET", "/meetings/{m}/agenda", nil, registry.ActAgendaRead},
		{"GET", "/meetings/{m}/agenda/draft", nil, registry.ActAgendaDraft},
		{"POST", "/meetings/{m}/agenda/items", bad, registry.ActAgendaWrite},
		{"PUT", "/meetings/{m}/agenda/items/no-such-item", bad, registry.ActAgendaWrite},
		{"DELETE", "/meetings/{m}/agenda/items/no-such-item", nil, registry.ActAgendaWrite},
		{"PUT", "/meetings/{m}/agenda/items/no-such-item/documents", bad, registry.ActAgendaWrite},
		{"PUT", "/meetings/{m}/agenda/order", bad, registry.ActAgendaWrite},
		{"GET", "/meetings/{m}/agenda/versions", nil, registry.ActAgendaRead},
		{"GET", "/meetings/{m}/agenda/versions/99", nil, registry.ActAgendaRead},
		{"GET", "/meetings/{m}/agenda/versions/99/manifest.json", nil, registry.ActAgendaRead},
		{"GET", "/meetings/{m}/agenda/versions/99/manifest.p7s", nil, registry.ActAgendaRead},
		{"PUT", "/meetings/{m}/agenda/versions/99/signature", bad, registry.ActAgendaSign},
		{"POST", "/meetings/{m}/agenda/versions/99/seal", nil, registry.ActAgendaSign},
		{"GET", "/meetings/{m}/agenda/versions/99/bundle", nil, registry.ActAgendaRead},
		{"POST", "/meetings/{m}/documents", bad, registry.ActDocumentsUpload},
		{"GET", "/meetings/{m}/documents", nil, registry.ActAgendaRead},
		{"GET", "/meetings/{m}/documents/no-such-doc", nil, registry.ActAgendaRead},
		{"GET", "/meetings/{m}/documents/no-such-doc/content", nil, registry.ActAgendaRead},
		{"GET", "/meetings/{m}/documents/no-such-doc/url", nil, registry.ActAgendaRead},
		// Publishing last: allowed, it freezes the (empty) draft.
		{"POST", "/meetings/{m}/agenda/publish", nil, registry.ActAgendaWrite},
	}
}

// roleFixture has a principal of every role: account tokens for routes
// outside a meeting, and in meeting {m} the same principals, who hold
// there the role of the same name.
type roleFixture struct {
	meeting string
	tokens  map[registry.Role]string
}

func newRoleFixture(t *testing.T, a *app.App) roleFixture {
	t.Helper()
	admin := loginAdmin(t, a)
	importLangSon(t, a, admin)
	f := roleFixture{tokens: map[registry.Role]string{registry.ITAdmin: admin}}
	users := map[registry.Role]registry.User{}
	for _, r := range []registry.Role{registry.Chair, registry.Secretary, registry.Viewer} {
		var u registry.User
		if st := call(t, a, "POST", "/users", admin, map[string]string{"username": "u-" + string(r), "name": "Người " + string(r),
			"role": string(r), "password": "mật-khẩu-" + string(r)}, &u); st != 201 {
			t.Fatalf("create %s: %d", r, st)
		}
		users[r] = u
		var tr tokenReply
		call(t, a, "POST", "/auth/login", "", map[string]string{"username": u.Username, "password": "mật-khẩu-" + string(r)}, &tr)
		f.tokens[r] = tr.Token
	}
	var m registry.Meeting
	if st := call(t, a, "POST", "/meetings", f.tokens[registry.Secretary], map[string]any{"title": "Phân quyền", "starts_at": time.Now(),
		"chair_point": "ls-ubnd", "root_point": "ls-ubnd", "depth": 1}, &m); st != 201 {
		t.Fatalf("create meeting: %d", st)
	}
	f.meeting = m.ID
	for _, r := range []registry.Role{registry.Chair, registry.Viewer} {
		if st := call(t, a, "POST", "/meetings/"+m.ID+"/people", f.tokens[registry.Secretary],
			map[string]string{"user_id": users[r].ID, "role": string(r)}, nil); st != 201 {
			t.Fatalf("invite %s: %d", r, st)
		}
	}
	var cred registry.Credential
	if st := call(t, a, "POST", "/points/ls-bac-son/credentials", admin, map[string]bool{"rotate": true}, &cred); st != 201 {
		t.Fatalf("issue credential: %d", st)
	}
	var tr tokenReply
	if st := call(t, a, "POST", "/auth/point", "", map[string]string{"credential": cred.Secret}, &tr); st != 200 {
		t.Fatalf("point login: %d", st)
	}
	f.tokens[registry.Operator] = tr.Token
	if st := call(t, a, "POST", "/meetings/"+m.ID+"/state", f.tokens[registry.Secretary], map[string]string{"state": "open"}, nil); st != 201 {
		t.Fatalf("open: %d", st)
	}
	return f
}

// TestRoleTable tries every REST endpoint with every role: exactly the
// roles the table allows get past authorization (anything but 403), and
// the others get 403 with a JSON error.
func TestRoleTable(t *testing.T) {
	a := startRegistryServer(t)
	f := newRoleFixture(t, a)
	for _, ep := range restEndpoints() {
		path := strings.NewReplacer("{m}", f.meeting, "{p}", "ls-bac-son").Replace(ep.path)
		for _, role := range registry.Roles() {
			st := call(t, a, ep.method, path, f.tokens[role], ep.body, nil)
			allowed := registry.Allowed(role, ep.act)
			if allowed && (st == 403 || st == 401) {
				t.Errorf("%s %s as %s: %d, but the table allows %s", ep.method, ep.path, role, st, ep.act)
			}
			if !allowed && st != 403 {
				t.Errorf("%s %s as %s: %d, but the table refuses %s", ep.method, ep.path, role, st, ep.act)
			}
		}
	}
	// Every REST action of the table is exercised.
	for _, rule := range registry.Rules() {
		if strings.HasPrefix(string(rule.Action), "media.") || strings.HasPrefix(string(rule.Action), "floor.") ||
			strings.HasPrefix(string(rule.Action), "grid.") || rule.Action == registry.ActQualityFeed || rule.Action == registry.ActSelfCheck {
			continue // signaling messages: TestRoleTableSignaling
		}
		if !slices.ContainsFunc(restEndpoints(), func(e endpoint) bool { return e.act == rule.Action }) {
			t.Errorf("no endpoint tried for action %s", rule.Action)
		}
	}
}
