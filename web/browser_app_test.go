package web_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/cau-bridge/cau/internal/app"
	"github.com/cau-bridge/cau/internal/testutil"
	"github.com/cau-bridge/cau/registry"
)

// jsErrors records the uncaught exceptions of a tab; check fails the test
// with them.
type jsErrors struct {
	mu   sync.Mutex
	errs []string
}

func watchJSErrors(t *testing.T, ctx context.Context) *jsErrors {
	t.Helper()
	j := &jsErrors{}
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			j.mu.Lock()
			j.errs = append(j.errs, msg)
			j.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("listen to the tab: %v", err)
	}
	return j
}

func (j *jsErrors) check(t *testing.T, tab string) {
	t.Helper()
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, e := range j.errs {
		t.Errorf("%s: uncaught JavaScript error: %s", tab, e)
	}
}

// run runs chromedp actions with a deadline, failing the test with what.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(c, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// evalJS evaluates a JavaScript expression (awaiting a promise) into T.
func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS polls a JavaScript condition until it is true.
func waitJS(t *testing.T, ctx context.Context, timeout time.Duration, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if evalJS[bool](t, ctx, "Promise.resolve("+expr+").then(Boolean)") {
			return
		}
		if time.Now().After(deadline) {
			body := evalJS[string](t, ctx, `document.body.innerText.slice(0, 1500)`)
			t.Fatalf("after %v: %s; the page shows:\n%s", timeout, what, body)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// signIn fills one of the two sign-in forms of /app/.
func signIn(t *testing.T, ctx context.Context, base string, fields map[string]string, form string) {
	t.Helper()
	actions := []chromedp.Action[chromedp.Void]{chromedp.Navigate(base + "/app/"), chromedp.WaitVisible(chromedp.CSS(form + ` button[type=submit]`))}
	for sel, v := range fields {
		actions = append(actions, chromedp.SendKeys(chromedp.CSS(form+" "+sel), v))
	}
	actions = append(actions, chromedp.Click(chromedp.CSS(form+` button[type=submit]`)))
	run(t, ctx, "sign in", actions...)
	waitJS(t, ctx, 10*time.Second, "signed in", `document.getElementById('signout').hidden === false`)
}

// TestAppAdminImportsRoster: an IT admin signs in, a malformed roster is
// refused with its row numbers, the Lạng Sơn roster shows 214 points, the
// page is in Vietnamese and switches to English.
func TestAppAdminImportsRoster(t *testing.T) {
	a := startRegistryServer(t)
	ctx := testutil.Browser(t)
	errs := watchJSErrors(t, ctx)

	signIn(t, ctx, a.URL(), map[string]string{`input[name=username]`: "admin", `input[name=password]`: adminPassword}, "#signin-user")
	waitJS(t, ctx, 10*time.Second, "the admin screen", `!!document.getElementById('csv-file')`)
	text := evalJS[string](t, ctx, `document.body.innerText`)
	for _, want := range []string{"Điểm cầu", "Quản trị CNTT", "Nhập danh sách", "Xuất CSV"} {
		if !strings.Contains(text, want) {
			t.Errorf("the admin screen lacks %q:\n%s", want, text)
		}
	}

	dir := t.TempDir()
	bad := filepath.Join(dir, "hong.csv")
	if err := os.WriteFile(bad, []byte("id,name,level,parent\nls-a,Tỉnh A,province,\nls-b,Huyện B,district,khong-co\nls-c,Xã C,cap-la,ls-a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "import a malformed roster", chromedp.SetUploadFiles(chromedp.CSS("#csv-file"), []string{bad}), chromedp.Click(chromedp.CSS("#csv-import")))
	waitJS(t, ctx, 10*time.Second, "the bad rows listed", `document.querySelectorAll('#import-errors li').length > 0`)
	rows := evalJS[[]string](t, ctx, `[...document.querySelectorAll('#import-errors li')].map(li => li.innerText)`)
	if !strings.HasPrefix(rows[0], "Dòng 3") {
		t.Errorf("bad rows shown as %q, want the first to start with \"Dòng 3\"", rows)
	}
	t.Logf("refused rows: %q", rows)

	roster, err := filepath.Abs("../registry/testdata/bridgepoints-langson.csv")
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "import the roster", chromedp.SetUploadFiles(chromedp.CSS("#csv-file"), []string{roster}), chromedp.Click(chromedp.CSS("#csv-import")))
	waitJS(t, ctx, 15*time.Second, "214 points in the table", `document.querySelectorAll('#points-table tbody tr').length === 214`)
	if got := evalJS[string](t, ctx, `document.getElementById('import-result').innerText`); !strings.Contains(got, "Đã nhập 214 điểm cầu") {
		t.Errorf("import result: %q", got)
	}

	// Both dictionaries have every key, and every label on the page is known.
	missing := evalJS[[]string](t, ctx, `import('/app/i18n.js').then(({ I18N }) => {
	  const out = [];
	  for (const [a, b] of [['vi', 'en'], ['en', 'vi']]) for (const k of Object.keys(I18N[a])) if (!(k in I18N[b])) out.push(b + ' lacks ' + k);
	  for (const el of document.querySelectorAll('[data-i18n]')) { const k = el.dataset.i18n; if (k && !(k in I18N.vi)) out.push('unknown key ' + k); }
	  return out;
	})`)
	for _, m := range missing {
		t.Error(m)
	}

	run(t, ctx, "switch to English", chromedp.Click(chromedp.CSS("#lang")))
	waitJS(t, ctx, 5*time.Second, "English labels", `document.body.innerText.includes('Bridge points') && document.body.innerText.includes('Import roster')`)
	if text := evalJS[string](t, ctx, `document.querySelector('main h2').innerText + ' ' + document.getElementById('nav').innerText`); strings.Contains(text, "Điểm cầu") || strings.Contains(text, "Quản trị") {
		t.Errorf("English page still reads %q", text)
	}
	run(t, ctx, "switch back", chromedp.Click(chromedp.CSS("#lang")))
	waitJS(t, ctx, 5*time.Second, "Vietnamese again", `document.querySelector('main h2').innerText === 'Điểm cầu'`)
	errs.check(t, "admin tab")
}

// TestAppChairGrantsFloor: the chair point's device signs in with its
// credential in the browser and enters an open meeting; it runs the
// pre-meeting check. An operator (a pion participant publishing VP8)
// raises its hand; the chair sees it in the queue and clicks "Cho phát
// biểu"; the operator's video then plays in the chair's tab.
func TestAppChairGrantsFloor(t *testing.T) {
	a := startRegistryServer(t)
	admin := loginAdmin(t, a)
	m := scheduleMeeting(t, a, admin, "open")
	var cred registry.Credential
	if st := call(t, a, "POST", "/points/ls-ubnd/credentials", admin, map[string]any{}, &cred); st != 201 {
		t.Fatalf("issue the chair point's credential: %d", st)
	}

	ctx := testutil.Browser(t)
	errs := watchJSErrors(t, ctx)
	signIn(t, ctx, a.URL(), map[string]string{`input[name=credential]`: cred.Secret}, "#signin-point")
	enter := `a[href="#/room/` + m.ID + `"]`
	run(t, ctx, "enter the room", chromedp.WaitVisible(chromedp.CSS(enter)), chromedp.Click(chromedp.CSS(enter)))
	waitJS(t, ctx, 15*time.Second, "joined as chair", `window.cau && window.cau.state === 'joined' && document.getElementById('my-role').innerText === 'Chủ trì'`)

	// Pre-meeting check: a verdict comes back, in Vietnamese.
	run(t, ctx, "start the check", chromedp.Click(chromedp.CSS("#check-btn")))
	waitJS(t, ctx, 20*time.Second, "a check verdict", `!!document.querySelector('#check-verdict[data-ready]')`)
	t.Logf("check: %s", evalJS[string](t, ctx, `document.getElementById('check-panel').innerText`))

	op := testutil.JoinAs(t, a, "ls-bac-son", m.ID, "operator")
	op.Publish(t)
	if err := op.RaiseHand(true); err != nil {
		t.Fatal(err)
	}
	grant := `#hands li[data-peer="ls-bac-son"] button.grant`
	waitJS(t, ctx, 15*time.Second, "the operator's hand in the chair's queue", `!!document.querySelector('`+grant+`')`)
	if label := evalJS[string](t, ctx, `document.querySelector('`+grant+`').innerText`); label != "Cho phát biểu" {
		t.Errorf("grant button reads %q", label)
	}
	run(t, ctx, "grant the floor", chromedp.Click(chromedp.CSS(grant)))

	waitJS(t, ctx, 30*time.Second, "the operator on air with its video decoded",
		`(async () => {
		  if (!document.querySelector('#stage figure[data-peer="ls-bac-son"]')) return false;
		  if (document.querySelector('#hands li[data-peer="ls-bac-son"]')) return false;
		  let frames = 0;
		  (await window.cau.sub.getStats()).forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'video') frames = Math.max(frames, r.framesDecoded || 0); });
		  const v = document.querySelector('#stage figure[data-peer="ls-bac-son"] video');
		  return frames > 10 && v.videoWidth > 0 && !v.paused;
		})()`)

	// The chair's tab shows the floor in Vietnamese.
	if onAir := evalJS[string](t, ctx, `document.getElementById('on-air').innerText`); !strings.Contains(onAir, "Đang phát") || !strings.Contains(onAir, "ls-bac-son") {
		t.Errorf("on-air line: %q", onAir)
	}
	errs.check(t, "chair tab")
}

// scheduleMeeting imports the Lạng Sơn roster, schedules a 2-level meeting
// chaired by ls-ubnd, and has its secretary move it to state.
func scheduleMeeting(t *testing.T, a *app.App, admin, state string) registry.Meeting {
	t.Helper()
	importLangSon(t, a, admin)
	var m registry.Meeting
	if st := call(t, a, "POST", "/meetings", admin, map[string]any{"title": "Giao ban trực tuyến", "starts_at": time.Now().Add(time.Hour),
		"chair_point": "ls-ubnd", "root_point": "ls-ubnd", "depth": 1}, &m); st != 201 {
		t.Fatalf("schedule: %d", st)
	}
	var sec registry.User
	call(t, a, "POST", "/users", admin, map[string]string{"username": "thuky", "name": "Thư ký", "role": "secretary", "password": "thư-ký-mật-khẩu"}, &sec)
	if st := call(t, a, "POST", "/meetings/"+m.ID+"/people", admin, map[string]string{"user_id": sec.ID, "role": "secretary"}, nil); st != 201 {
		t.Fatalf("invite the secretary: %d", st)
	}
	var tr tokenReply
	call(t, a, "POST", "/auth/login", "", map[string]string{"username": "thuky", "password": "thư-ký-mật-khẩu"}, &tr)
	if st := call(t, a, "POST", "/meetings/"+m.ID+"/state", tr.Token, map[string]string{"state": state}, nil); st != 201 {
		t.Fatalf("move the meeting to %s: %d", state, st)
	}
	return m
}

// TestAppMonitor: an IT admin opens the quality dashboard of a live
// meeting from the meetings table; two pion points show in the table, and
// when one drops without a goodbye an "offline" alert appears.
func TestAppMonitor(t *testing.T) {
	a := startRegistryServer(t)
	admin := loginAdmin(t, a)
	m := scheduleMeeting(t, a, admin, "live")
	chair := testutil.JoinAs(t, a, "ls-ubnd", m.ID, "chair")
	chair.Publish(t)
	op := testutil.JoinAs(t, a, "ls-bac-son", m.ID, "operator")
	op.Publish(t)

	ctx := testutil.Browser(t)
	errs := watchJSErrors(t, ctx)
	signIn(t, ctx, a.URL(), map[string]string{`input[name=username]`: "admin", `input[name=password]`: adminPassword}, "#signin-user")
	monitor := `a[href="#/monitor/` + m.ID + `"]`
	run(t, ctx, "open the monitor", chromedp.WaitVisible(chromedp.CSS(monitor)), chromedp.Click(chromedp.CSS(monitor)))
	waitJS(t, ctx, 15*time.Second, "both points online in the table",
		`['ls-ubnd', 'ls-bac-son'].every(p => { const r = document.querySelector('#quality-table tr[data-point="' + p + '"]'); return r && r.innerText.includes('Trực tuyến'); })`)
	if head := evalJS[string](t, ctx, `document.querySelector('#quality-table thead').innerText`); !strings.Contains(head, "Mất gói (lên)") || !strings.Contains(head, "Trễ khứ hồi") {
		t.Errorf("table header: %q", head)
	}
	_ = op.Close() // a crashed point: no leave
	waitJS(t, ctx, 20*time.Second, "an offline alert for ls-bac-son",
		`!!document.querySelector('#alerts li.raised[data-point="ls-bac-son"][data-kind="offline"]') && document.querySelector('#quality-table tr[data-point="ls-bac-son"]').classList.contains('alerting')`)
	t.Logf("alerts: %s", evalJS[string](t, ctx, `document.getElementById('alerts').innerText`))
	errs.check(t, "monitor tab")
}

// TestAppSecretaryAgenda: a secretary schedules a meeting in the form,
// adds an agenda item, uploads a PDF to it (unsigned: "Chưa ký") and
// publishes version 1.
func TestAppSecretaryAgenda(t *testing.T) {
	a := startRegistryServer(t)
	admin := loginAdmin(t, a)
	importLangSon(t, a, admin)
	if st := call(t, a, "POST", "/users", admin, map[string]string{"username": "thuky", "name": "Trần Thị Thư Ký", "role": "secretary", "password": "thư-ký-mật-khẩu"}, nil); st != 201 {
		t.Fatalf("create the secretary: %d", st)
	}
	ctx := testutil.Browser(t)
	errs := watchJSErrors(t, ctx)
	signIn(t, ctx, a.URL(), map[string]string{`input[name=username]`: "thuky", `input[name=password]`: "thư-ký-mật-khẩu"}, "#signin-user")
	run(t, ctx, "schedule a meeting",
		chromedp.WaitVisible(chromedp.CSS("#m-title")),
		chromedp.SendKeys(chromedp.CSS("#m-title"), "Họp UBND tỉnh tháng 7"),
		chromedp.SetValue(chromedp.CSS("#m-depth"), "2"),
		chromedp.Click(chromedp.CSS(`#schedule button[type=submit]`)))
	waitJS(t, ctx, 10*time.Second, "the meeting screen", `location.hash.startsWith('#/meeting/m-') && !!document.getElementById('item-form')`)
	if n := evalJS[string](t, ctx, `document.getElementById('invited-count').innerText`); !strings.HasPrefix(n, "Mời ") {
		t.Errorf("invitation count: %q", n)
	}

	run(t, ctx, "add an item",
		chromedp.SendKeys(chromedp.CSS("#item-title"), "Báo cáo kinh tế - xã hội 6 tháng"),
		chromedp.SendKeys(chromedp.CSS("#item-presenter"), "Sở KH&ĐT"),
		chromedp.Click(chromedp.CSS(`#item-form button[type=submit]`)))
	waitJS(t, ctx, 10*time.Second, "the item listed", `!!document.querySelector('#agenda-items li[data-id] .doc-file')`)
	pdf, err := filepath.Abs("../agenda/testdata/hello.pdf")
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "upload a PDF",
		chromedp.SetUploadFiles(chromedp.CSS(`#agenda-items li[data-id] .doc-file`), []string{pdf}),
		chromedp.Click(chromedp.CSS(`#agenda-items li[data-id] .upload button`)))
	waitJS(t, ctx, 10*time.Second, "the document listed as unsigned", `!!document.querySelector('#agenda-items li[data-doc] [data-sig="unsigned"]')`)
	if s := evalJS[string](t, ctx, `document.querySelector('#agenda-items li[data-doc] [data-sig]').innerText`); s != "Chưa ký" {
		t.Errorf("signature status %q, want \"Chưa ký\"", s)
	}
	run(t, ctx, "publish", chromedp.Click(chromedp.CSS("#agenda-publish")))
	waitJS(t, ctx, 10*time.Second, "version 1 listed", `!!document.querySelector('#agenda-versions li[data-version="1"]')`)
	// No seal is configured: applying it says so.
	run(t, ctx, "try the seal", chromedp.Click(chromedp.CSS(`#agenda-versions li[data-version="1"] button`)))
	waitJS(t, ctx, 10*time.Second, "the seal refused", `document.body.innerText.includes('chưa cấu hình con dấu')`)
	errs.check(t, "secretary tab")
}
