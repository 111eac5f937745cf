package web

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/cau-bridge/cau/agenda"
	"github.com/cau-bridge/cau/registry"
	"github.com/cau-bridge/cau/sfu"
	"github.com/cau-bridge/cau/signaling"
	"github.com/cau-bridge/cau/storage"
	"github.com/cau-bridge/cau/storage/objstore"
)

// The parts of docs/openapi.json the tests read.
type oaDoc struct {
	OpenAPI    string                     `json:"openapi"`
	Paths      map[string]map[string]oaOp `json:"paths"`
	Components struct {
		Schemas         map[string]oaSchema `json:"schemas"`
		SecuritySchemes map[string]any      `json:"securitySchemes"`
	} `json:"components"`
}

type oaOp struct {
	Summary  string                 `json:"summary"`
	Action   string                 `json:"x-action"`
	Security *[]map[string][]string `json:"security"`
	Request  *struct {
		Content map[string]struct {
			Schema oaSchemaRef `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
	Responses map[string]oaResponse `json:"responses"`
}

type oaSchemaRef struct {
	Ref                  string       `json:"$ref"`
	Items                *oaSchemaRef `json:"items"`
	AdditionalProperties *bool        `json:"additionalProperties"`
}

type oaResponse struct {
	Description string         `json:"description"`
	Codes       []string       `json:"x-error-codes"`
	Content     map[string]any `json:"content"`
}

type oaSchema struct {
	Properties           map[string]any `json:"properties"`
	Required             []string       `json:"required"`
	AdditionalProperties *bool          `json:"additionalProperties"`
}

// publicOps answer without checking any action of the role table.
var publicOps = []string{
	"GET /healthz", "GET /metrics", "GET /debug/stats",
	"POST /api/v1/auth/login", "POST /api/v1/auth/point", "POST /api/v1/dev/token", "GET /api/v1/me",
}

func loadOpenAPI(t *testing.T) (oaDoc, []byte) {
	t.Helper()
	raw, err := os.ReadFile("../docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc oaDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("docs/openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Fatalf("openapi is %q, want 3.1.x", doc.OpenAPI)
	}
	return doc, raw
}

// openAPIRouter builds the handler as the server does, with every optional
// part that mounts routes.
func openAPIRouter(t *testing.T) (*Handler, *signaling.Tokens) {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tokens, err := signaling.NewTokens([]byte("openapi-test-secret-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	store, err := objstore.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := agenda.New(agenda.Config{DB: db, Store: store, TempDir: t.TempDir(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	h := New(Config{
		Tokens:   tokens,
		Registry: registry.New(db),
		Agenda:   svc,
		Stats:    func() any { return sfu.Totals{} },
		Metrics:  MetricsHandler(nil, nil),
		Logger:   log,
	})
	return h, tokens
}

// normPath makes chi's and the document's spellings of a route compare
// equal: no trailing slash (chi writes "/meetings/{meeting}/" for the root
// of a sub-router).
func normPath(p string) string {
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	return p
}

// TestOpenAPICoversRoutes checks docs/openapi.json against the router:
// the same routes both ways, every operation's x-action a real action (or
// public), and x-action equal to the action the handler checks, found by
// calling it with a role that may do nothing; the 401 and 403 answers it
// gets on the way must be documented with their codes.
func TestOpenAPICoversRoutes(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	h, tokens := openAPIRouter(t)

	routed := map[string]bool{}
	err := chi.Walk(h.Handler.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if route == "/*" || route == "/ws" {
			return nil // static files and the signaling WebSocket (protocol.md)
		}
		routed[method+" "+normPath(route)] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]oaOp{}
	for path, ops := range doc.Paths {
		for method, o := range ops {
			documented[strings.ToUpper(method)+" "+normPath(path)] = o
		}
	}
	for _, k := range sortedKeys(routed) {
		if _, ok := documented[k]; !ok {
			t.Errorf("route %s is not in docs/openapi.json", k)
		}
	}
	for _, k := range sortedKeys(documented) {
		if !routed[k] {
			t.Errorf("docs/openapi.json documents %s, which is not routed", k)
		}
	}

	actions := map[string]bool{}
	for _, r := range registry.Rules() {
		actions[string(r.Action)] = true
	}
	for _, k := range sortedKeys(documented) {
		o := documented[k]
		if o.Summary == "" {
			t.Errorf("%s: no summary", k)
		}
		public := slices.Contains(publicOps, k)
		switch {
		case public && o.Action != "public":
			t.Errorf("%s: x-action %q, want \"public\"", k, o.Action)
		case !public && !actions[o.Action]:
			t.Errorf("%s: x-action %q is not an action of registry.Rules()", k, o.Action)
		}
		// Operations behind the role table take the JWT; public ones do not
		// (GET /me reads one but checks no action).
		if o.Security == nil {
			t.Errorf("%s: no security", k)
		} else if jwt := slices.ContainsFunc(*o.Security, func(req map[string][]string) bool {
			_, ok := req["bearerAuth"]
			return ok
		}); jwt == public && k != "GET /api/v1/me" {
			t.Errorf("%s: security %v does not fit x-action %q", k, *o.Security, o.Action)
		}
		checkResponses(t, k, o)
		// JSON bodies refuse unknown fields (decodeJSON), and say so.
		if o.Request != nil {
			if c, ok := o.Request.Content["application/json"]; ok {
				sr := c.Schema
				if sr.Items != nil {
					sr = *sr.Items
				}
				closed := sr.AdditionalProperties
				if name, ok := strings.CutPrefix(sr.Ref, "#/components/schemas/"); ok {
					closed = doc.Components.Schemas[name].AdditionalProperties
				}
				if closed == nil || *closed {
					t.Errorf("%s: the JSON request body schema does not refuse unknown fields (additionalProperties: false)", k)
				}
			}
		}
	}

	// The action each handler really checks: a role that may do nothing is
	// told which action it may not do.
	// The token is a meeting token for the URL's meeting, else an API
	// token (the other way round with swap); ttl < 0 makes it expired.
	probe := func(method, path string, ttl time.Duration, withToken, swap bool) (int, string) {
		meetingScoped := strings.Contains(path, "{meeting}") != swap
		path = strings.NewReplacer("{meeting}", "m-openapi", "{point}", "p-openapi", "{item}", "i-openapi",
			"{version}", "1", "{doc}", "d-openapi").Replace(path)
		claims := signaling.Claims{Name: "probe", Role: "nobody", RegisteredClaims: jwtSubject("u-probe")}
		if meetingScoped {
			claims.Meeting = "m-openapi"
		} else {
			claims.Kind = "api"
		}
		tok, err := tokens.MintClaims(claims, ttl)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(method, path, strings.NewReader(""))
		if withToken {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	// documentedError wants an error answer's status and code documented.
	documentedError := func(k string, st int, body string) {
		t.Helper()
		var e errorBody
		_ = json.Unmarshal([]byte(body), &e)
		r, ok := documented[k].Responses[strconv.Itoa(st)]
		switch {
		case e.Error.Code == "":
			t.Errorf("%s: %d without a JSON error: %s", k, st, body)
		case !ok:
			t.Errorf("%s: answered %d %s, which docs/openapi.json does not document", k, st, e.Error.Code)
		case !slices.Contains(r.Codes, e.Error.Code):
			t.Errorf("%s: answered %d %s; documented codes are %v", k, st, e.Error.Code, r.Codes)
		}
	}
	mayNot := regexp.MustCompile(`role nobody may not do ([a-z_.]+)`)
	for _, k := range sortedKeys(documented) {
		if !routed[k] {
			continue
		}
		method, path, _ := strings.Cut(k, " ")
		st, body := probe(method, path, time.Minute, true, false)
		m := mayNot.FindStringSubmatch(body)
		want := documented[k].Action
		switch {
		case want == "public" && m != nil:
			t.Errorf("%s is documented public but checks %s", k, m[1])
		case want != "public" && (st != http.StatusForbidden || m == nil):
			t.Errorf("%s: probe answered %d %s; want 403 naming %s", k, st, strings.TrimSpace(body), want)
		case want != "public" && m[1] != want:
			t.Errorf("%s: x-action %s, but the handler checks %s", k, want, m[1])
		}
		if st >= 400 {
			documentedError(k, st, body)
		}
		if want == "public" && k != "GET /api/v1/me" {
			continue
		}
		// No token, and an expired one: 401 with a documented code.
		for _, c := range []struct {
			ttl       time.Duration
			withToken bool
		}{{time.Minute, false}, {-time.Minute, true}} {
			st, body := probe(method, path, c.ttl, c.withToken, false)
			if st != http.StatusUnauthorized {
				t.Errorf("%s without a valid token: %d, want 401", k, st)
			}
			documentedError(k, st, body)
		}
		// A meeting token outside its meeting is refused (403); an API
		// token names a meeting that does not exist (404).
		if want != "public" {
			st, body := probe(method, path, time.Minute, true, true)
			if wantSt := map[bool]int{false: 403, true: 404}[strings.Contains(path, "{meeting}")]; st != wantSt {
				t.Errorf("%s with the other kind of token: %d, want %d", k, st, wantSt)
			}
			documentedError(k, st, body)
		}
	}

	// roles_test.go's restEndpoints (package web_test) names the action
	// TestRoleTable tries for each endpoint; it must agree too.
	for _, ep := range restEndpointsFromSource(t) {
		o, ok := matchOperation(documented, ep.method, "/api/v1"+ep.path)
		if !ok {
			t.Errorf("roles_test.go tries %s %s, which docs/openapi.json does not document", ep.method, ep.path)
			continue
		}
		if o.Action != ep.act {
			t.Errorf("roles_test.go tries %s %s as %s; docs/openapi.json says %s", ep.method, ep.path, ep.act, o.Action)
		}
	}
}

// checkResponses wants a success answer, and JSON error answers that name
// their codes.
func checkResponses(t *testing.T, k string, o oaOp) {
	t.Helper()
	success := false
	for status, r := range o.Responses {
		n, err := strconv.Atoi(status)
		if err != nil {
			t.Errorf("%s: response %q is not a status", k, status)
			continue
		}
		if r.Description == "" {
			t.Errorf("%s %d: no description", k, n)
		}
		if n < 400 {
			success = success || n < 300
			continue
		}
		if len(r.Codes) == 0 {
			t.Errorf("%s %d: no x-error-codes", k, n)
		}
		c, ok := r.Content["application/json"].(map[string]any)
		ref, _ := func() (string, bool) {
			if !ok {
				return "", false
			}
			s, _ := c["schema"].(map[string]any)
			r, ok := s["$ref"].(string)
			return r, ok
		}()
		if !slices.Contains([]string{"#/components/schemas/Error", "#/components/schemas/ImportError",
			"#/components/schemas/SignatureRefused"}, ref) {
			t.Errorf("%s %d: error answer is not the error envelope (schema %q)", k, n, ref)
		}
	}
	if !success {
		t.Errorf("%s: no success response", k)
	}
	if o.Action != "public" {
		for _, st := range []string{"401", "403"} {
			if _, ok := o.Responses[st]; !ok {
				t.Errorf("%s: no %s response", k, st)
			}
		}
	}
}

type sourceEndpoint struct{ method, path, act string }

// restEndpointsFromSource reads restEndpoints() out of roles_test.go (it is
// in package web_test, which this internal test cannot call), resolving
// the registry.Act... constants from registry/roles.go.
func restEndpointsFromSource(t *testing.T) []sourceEndpoint {
	t.Helper()
	fset := token.NewFileSet()
	consts := map[string]string{}
	rf, err := parser.ParseFile(fset, "../registry/roles.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(rf, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Names) == len(vs.Values) {
			for i, name := range vs.Names {
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					consts[name.Name], _ = strconv.Unquote(lit.Value)
				}
			}
		}
		return true
	})
	f, err := parser.ParseFile(fset, "roles_test.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []sourceEndpoint
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "restEndpoints" {
			continue
		}
		ast.Inspect(fn, func(n ast.Node) bool {
			cl, ok := n.(*ast.CompositeLit)
			if !ok || len(cl.Elts) != 4 {
				return true
			}
			m, ok1 := cl.Elts[0].(*ast.BasicLit)
			p, ok2 := cl.Elts[1].(*ast.BasicLit)
			sel, ok3 := cl.Elts[3].(*ast.SelectorExpr)
			if !ok1 || !ok2 || !ok3 {
				return true
			}
			act, ok := consts[sel.Sel.Name]
			if !ok {
				t.Errorf("roles_test.go: unknown action constant %s", sel.Sel.Name)
				return false
			}
			ep := sourceEndpoint{act: act}
			ep.method, _ = strconv.Unquote(m.Value)
			ep.path, _ = strconv.Unquote(p.Value)
			out = append(out, ep)
			return false
		})
	}
	if len(out) == 0 {
		t.Fatal("found no endpoints in roles_test.go's restEndpoints")
	}
	return out
}

// matchOperation finds the documented operation a concrete path (which may
// hold placeholders like {m}) belongs to; as in the router, the template
// with the most literal segments wins (/points/export over /points/{point}).
func matchOperation(documented map[string]oaOp, method, path string) (oaOp, bool) {
	segs := strings.Split(normPath(path), "/")
	best, bestLiterals := "", -1
	for k := range documented {
		m, tpl, _ := strings.Cut(k, " ")
		tsegs := strings.Split(tpl, "/")
		if m != method || len(tsegs) != len(segs) {
			continue
		}
		literals := 0
		for i := range segs {
			switch {
			case strings.HasPrefix(tsegs[i], "{"):
			case strings.HasPrefix(segs[i], "{") || tsegs[i] == segs[i]:
				literals++
			default:
				literals = -1
			}
			if literals < 0 {
				break
			}
		}
		if literals > bestLiterals {
			best, bestLiterals = k, literals
		}
	}
	if best == "" {
		return oaOp{}, false
	}
	return documented[best], true
}

// TestOpenAPISchemasMatchGo checks the component schemas against the Go
// types they describe: the same JSON field names, and (for answers) the
// fields Go always writes marked required.
func TestOpenAPISchemasMatchGo(t *testing.T) {
	doc, raw := loadOpenAPI(t)
	types := map[string]any{
		"Level": registry.Level{}, "Point": registry.Point{}, "Credential": registry.Credential{},
		"User": registry.User{}, "Meeting": registry.Meeting{}, "Invitee": registry.Invitee{},
		"RollEntry": registry.RollEntry{}, "Record": registry.Record{}, "RowError": registry.RowError{},
		"Rule": registry.Rule{}, "Principal": Principal{}, "NewUser": newUser{}, "InviteInput": inviteBody{},
		"StateInput": stateBody{}, "AbsentInput": absentBody{},
		"LinkQuality": signaling.LinkQuality{}, "ReceivedLayer": signaling.ReceivedLayer{},
		"PointQuality": signaling.PointQuality{}, "Stats": sfu.Totals{},
		"Access": agenda.Access{}, "ItemInput": agenda.ItemInput{}, "Item": agenda.Item{},
		"Document": agenda.Document{}, "DocumentSignature": agenda.DocumentSignature{},
		"SignerBrief": agenda.SignerBrief{}, "Version": agenda.Version{}, "VersionSignature": agenda.VersionSignature{},
		"Manifest": agenda.Manifest{}, "ManifestItem": agenda.ManifestItem{},
		"ManifestDocument": agenda.ManifestDocument{}, "PublishedAgenda": agenda.PublishedAgenda{},
		"DocumentsInput": documentsBody{}, "OrderInput": orderBody{},
	}
	for _, name := range sortedKeys(types) {
		s, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("components.schemas has no %s", name)
			continue
		}
		fields, always := jsonFields(reflect.TypeOf(types[name]))
		if got := sortedKeys(s.Properties); !slices.Equal(got, fields) {
			t.Errorf("schema %s has properties %v; the Go type has %v", name, got, fields)
		}
		req := slices.Sorted(slices.Values(s.Required))
		input := s.AdditionalProperties != nil && !*s.AdditionalProperties
		for _, r := range req {
			if !slices.Contains(always, r) {
				t.Errorf("schema %s requires %s, which Go omits when empty", name, r)
			}
		}
		if !input && !slices.Equal(req, always) {
			t.Errorf("schema %s requires %v; Go always writes %v", name, req, always)
		}
	}
	var role struct {
		Components struct {
			Schemas struct {
				Role struct {
					Enum []registry.Role `json:"enum"`
				} `json:"Role"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &role); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(role.Components.Schemas.Role.Enum, registry.Roles()) {
		t.Errorf("Role enum %v; registry.Roles() is %v", role.Components.Schemas.Role.Enum, registry.Roles())
	}
	// Every $ref resolves.
	for _, m := range regexp.MustCompile(`"\$ref":\s*"#/components/schemas/([^"]+)"`).FindAllSubmatch(raw, -1) {
		if _, ok := doc.Components.Schemas[string(m[1])]; !ok {
			t.Errorf("$ref to missing schema %s", m[1])
		}
	}
	for _, m := range regexp.MustCompile(`\{"(\w+)":\s*\[\]\}`).FindAllSubmatch(raw, -1) {
		if _, ok := doc.Components.SecuritySchemes[string(m[1])]; !ok {
			t.Errorf("security requirement names missing scheme %s", m[1])
		}
	}
}

// jsonFields lists a struct's JSON field names (sorted) and those written
// even when empty (no omitempty).
func jsonFields(typ reflect.Type) (all, always []string) {
	for f := range typ.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			a, w := jsonFields(f.Type)
			all, always = append(all, a...), append(always, w...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		all = append(all, name)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			always = append(always, name)
		}
	}
	sort.Strings(all)
	sort.Strings(always)
	return all, always
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
