package registry_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cau-bridge/cau/registry"
	"github.com/cau-bridge/cau/storage"
)

const roster = "testdata/bridgepoints-langson.csv"

func newRegistry(t *testing.T) *registry.Registry {
	t.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "cau.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return registry.New(db)
}

func importRoster(t *testing.T, r *registry.Registry) {
	t.Helper()
	f, err := os.Open(roster)
	if err != nil {
		t.Fatalf("the Lạng Sơn roster: %v", err)
	}
	defer f.Close()
	n, err := r.ImportCSV(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if n != 214 {
		t.Fatalf("imported %d points, want 214", n)
	}
}

func TestScopeInvitesByLevels(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t)
	importRoster(t, r)
	for _, tc := range []struct {
		root  string
		depth int
		want  int
	}{
		{"ls-ubnd", 1, 13},  // 2-level: 2 provincial + 11 district
		{"ls-ubnd", 2, 213}, // 3-level: + 200 communes
		{"tw", 3, 214},      // 4-level: + central
		{"ls-bac-son", 1, 0},
	} {
		m, err := r.CreateMeeting(ctx, registry.Meeting{Title: "Họp", StartsAt: time.Now(), ChairPoint: "ls-ubnd",
			RootPoint: tc.root, Depth: tc.depth})
		if err != nil {
			t.Fatal(err)
		}
		inv, err := r.Invited(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := tc.want
		if want == 0 { // Bắc Sơn and its communes, plus the chair point
			want = 1 + 1 + strings.Count(readFile(t, roster), ",ls-bac-son\n")
		}
		if len(inv) != want {
			t.Errorf("root %s depth %d invites %d points, want %d", tc.root, tc.depth, len(inv), want)
		}
	}
	// The 2-level list is exactly the provincial and district points.
	m, _ := r.CreateMeeting(ctx, registry.Meeting{Title: "Hai cấp", StartsAt: time.Now(), ChairPoint: "ls-ubnd", RootPoint: "ls-ubnd", Depth: 1})
	inv, _ := r.Invited(ctx, m.ID)
	for _, p := range inv {
		if p.Level != "province" && p.Level != "district" {
			t.Errorf("2-level meeting invites %s at level %s", p.ID, p.Level)
		}
	}
	// Explicit additions and exclusions.
	m.Include, m.Exclude = []string{"ls-bac-son-x01"}, []string{"ls-tinhuy"}
	if _, err := r.UpdateMeeting(ctx, m); err != nil {
		t.Fatal(err)
	}
	inv, _ = r.Invited(ctx, m.ID)
	ids := map[string]bool{}
	for _, p := range inv {
		ids[p.ID] = true
	}
	if len(inv) != 13 || !ids["ls-bac-son-x01"] || ids["ls-tinhuy"] {
		t.Errorf("after include/exclude: %d points, x01=%v tinhuy=%v", len(inv), ids["ls-bac-son-x01"], ids["ls-tinhuy"])
	}
	// A disabled point is not invited.
	if err := r.SetEnabled(ctx, "ls-bac-son", false); err != nil {
		t.Fatal(err)
	}
	inv, _ = r.Invited(ctx, m.ID)
	if len(inv) != 12 {
		t.Errorf("with Bắc Sơn disabled: %d points, want 12", len(inv))
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

func TestTwoTierLevels(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t)
	if err := r.SetLevels(ctx, []registry.Level{{ID: "central", Name: "Trung ương"}, {ID: "province", Name: "Tỉnh"}, {ID: "commune", Name: "Xã"}}); err != nil {
		t.Fatal(err)
	}
	csv := "id,name,level,parent\np,Tỉnh,province,\nc1,Xã 1,commune,p\nc2,Xã 2,commune,p\n"
	if _, err := r.ImportCSV(ctx, strings.NewReader(csv)); err != nil {
		t.Fatal(err)
	}
	m, err := r.CreateMeeting(ctx, registry.Meeting{Title: "Hai cấp", StartsAt: time.Now(), ChairPoint: "p", RootPoint: "p", Depth: 1})
	if err != nil {
		t.Fatal(err)
	}
	if inv, _ := r.Invited(ctx, m.ID); len(inv) != 3 {
		t.Errorf("two-tier 2-level meeting invites %d, want 3", len(inv))
	}
	// Reordering levels so that communes rank above provinces is refused.
	err = r.SetLevels(ctx, []registry.Level{{ID: "central", Name: "TW"}, {ID: "commune", Name: "Xã"}, {ID: "province", Name: "Tỉnh"}})
	if !errors.Is(err, registry.ErrInvalid) {
		t.Errorf("levels that put children above parents: %v, want ErrInvalid", err)
	}
	if lv, _ := r.Levels(ctx); len(lv) != 3 || lv[1].ID != "province" {
		t.Errorf("a refused reorder changed the levels: %+v", lv)
	}
	// A level still in use cannot be removed.
	err = r.SetLevels(ctx, []registry.Level{{ID: "central", Name: "TW"}, {ID: "province", Name: "Tỉnh"}})
	if !errors.Is(err, registry.ErrConflict) {
		t.Errorf("removing a used level: %v, want ErrConflict", err)
	}
}

func TestImportRefusesBadFilesWhole(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		csv  string
		rows []int
	}{
		{"cycle", "id,name,level,parent\na,A,province,b\nb,B,province,a\nok,OK,province,\n", []int{2, 3}},
		{"unknown parent", "id,name,level,parent\na,A,province,\nb,B,district,nowhere\n", []int{3}},
		{"duplicate id", "id,name,level,parent\na,A,province,\nb,B,district,a\na,A again,province,\n", []int{4}},
		{"unknown level", "id,name,level,parent\na,A,province,\nb,B,hamlet,a\n", []int{3}},
		{"several", "id,name,level,parent\na,A,province,\nb,B,hamlet,a\nc,,district,a\nd,D,district,zz\n", []int{3, 4, 5}},
		{"missing column", "id,name,level\na,A,province\n", []int{1}},
		{"bad id", "id,name,level,parent\nA B,A,province,\n", []int{2}},
		{"child above parent", "id,name,level,parent\nc,C,commune,\np,P,province,c\n", []int{3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegistry(t)
			_, err := r.ImportCSV(ctx, strings.NewReader("id,name,level,parent\nkeep,Giữ nguyên,province,\n"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.ImportCSV(ctx, strings.NewReader(tc.csv))
			var ie *registry.ImportError
			if !errors.As(err, &ie) {
				t.Fatalf("import: %v, want an ImportError", err)
			}
			var got []int
			for _, re := range ie.Rows {
				got = append(got, re.Row)
			}
			if !equalInts(got, tc.rows) {
				t.Errorf("bad rows %v (%v), want %v", got, err, tc.rows)
			}
			points, _ := r.Points(ctx)
			if len(points) != 1 || points[0].ID != "keep" {
				t.Errorf("a refused import changed the registry: %+v", points)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestExportRoundTrip(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t)
	importRoster(t, r)
	var b strings.Builder
	if err := r.ExportCSV(ctx, &b); err != nil {
		t.Fatal(err)
	}
	r2 := newRegistry(t)
	n, err := r2.ImportCSV(ctx, strings.NewReader(b.String()))
	if err != nil || n != 214 {
		t.Fatalf("re-import of the export: %d, %v", n, err)
	}
	p, _ := r2.Point(ctx, "ls-ubnd")
	if p.Name != "UBND tỉnh Lạng Sơn - Hội trường chính" || p.Parent != "tw" {
		t.Errorf("round trip lost data: %+v", p)
	}
}

func TestCredentialsAndMeetingRoles(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t)
	importRoster(t, r)
	m, err := r.CreateMeeting(ctx, registry.Meeting{Title: "Giao ban", StartsAt: time.Now(), ChairPoint: "ls-ubnd", RootPoint: "ls-ubnd", Depth: 1})
	if err != nil {
		t.Fatal(err)
	}
	cred, err := r.IssueCredential(ctx, "ls-bac-son", false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.AuthenticatePoint(ctx, cred.Secret)
	if err != nil || p.ID != "ls-bac-son" {
		t.Fatalf("authenticate: %v %v", p, err)
	}
	if role, err := r.MeetingRole(ctx, m.ID, registry.Subject{Point: p.ID}); err != nil || role != registry.Operator {
		t.Errorf("district point in a 2-level meeting: %v %v", role, err)
	}
	if role, _ := r.MeetingRole(ctx, m.ID, registry.Subject{Point: "ls-ubnd"}); role != registry.Chair {
		t.Errorf("chair point's role %q", role)
	}
	if _, err := r.MeetingRole(ctx, m.ID, registry.Subject{Point: "ls-bac-son-x01"}); !errors.Is(err, registry.ErrNotInvited) {
		t.Errorf("a commune in a 2-level meeting: %v, want ErrNotInvited", err)
	}
	// Forged, rotated, revoked and disabled credentials fail.
	for _, forged := range []string{"", "cau_pt_", cred.Secret + "x", "cau_pt_" + cred.ID + "_00", strings.Replace(cred.Secret, "cau_pt_", "cau_px_", 1)} {
		if _, err := r.AuthenticatePoint(ctx, forged); !errors.Is(err, registry.ErrUnauthorized) {
			t.Errorf("forged credential %q: %v", forged, err)
		}
	}
	cred2, err := r.IssueCredential(ctx, "ls-bac-son", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.AuthenticatePoint(ctx, cred.Secret); !errors.Is(err, registry.ErrUnauthorized) {
		t.Errorf("a rotated-out credential still works: %v", err)
	}
	if _, err := r.AuthenticatePoint(ctx, cred2.Secret); err != nil {
		t.Errorf("the new credential fails: %v", err)
	}
	if err := r.SetEnabled(ctx, "ls-bac-son", false); err != nil {
		t.Fatal(err)
	}
	if _, err := r.AuthenticatePoint(ctx, cred2.Secret); !errors.Is(err, registry.ErrUnauthorized) {
		t.Errorf("a disabled point's credential works: %v", err)
	}
	_ = r.SetEnabled(ctx, "ls-bac-son", true)
	if n, err := r.RevokeCredentials(ctx, "ls-bac-son"); err != nil || n != 1 {
		t.Errorf("revoke: %d %v", n, err)
	}
	if _, err := r.AuthenticatePoint(ctx, cred2.Secret); !errors.Is(err, registry.ErrUnauthorized) {
		t.Errorf("a revoked credential works: %v", err)
	}
	// People.
	u, err := r.CreateUser(ctx, registry.User{Username: "chutich", Name: "Chủ tịch", Role: registry.Viewer}, "mật-khẩu-dài-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Login(ctx, "chutich", "sai-mật-khẩu"); !errors.Is(err, registry.ErrUnauthorized) {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := r.Login(ctx, "chutich", "mật-khẩu-dài-1"); err != nil {
		t.Errorf("login: %v", err)
	}
	if _, err := r.MeetingRole(ctx, m.ID, registry.Subject{UserID: u.ID, AccountRole: u.Role}); !errors.Is(err, registry.ErrNotInvited) {
		t.Errorf("an uninvited person: %v", err)
	}
	if err := r.InvitePerson(ctx, m.ID, u.ID, registry.Chair); err != nil {
		t.Fatal(err)
	}
	if role, _ := r.MeetingRole(ctx, m.ID, registry.Subject{UserID: u.ID, AccountRole: u.Role}); role != registry.Chair {
		t.Errorf("invited as chair, role %q", role)
	}
	// States.
	if _, err := r.SetState(ctx, m.ID, registry.StateEnded); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SetState(ctx, m.ID, registry.StateLive); !errors.Is(err, registry.ErrConflict) {
		t.Errorf("ended → live: %v", err)
	}
}
