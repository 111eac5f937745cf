package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cau-bridge/cau/registry"
)

// setupParallel bounds the REST requests in flight while the bots' devices
// sign in and join, as a province's rooms would when the meeting opens.
const setupParallel = 16

// rest is a small client of the server's REST API.
type rest struct {
	base string // http://host:port/api/v1
	hc   *http.Client
}

// apiError is a refused REST request.
type apiError struct {
	method, path string
	status       int
	body         string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.status, strings.TrimSpace(e.body))
}

// do sends one request; body is JSON unless it is a []byte (sent as CSV).
// The reply is decoded into out when out is not nil.
func (r *rest) do(ctx context.Context, method, path, token string, body, out any) error {
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, ctype = bytes.NewReader(b), "text/csv"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return err
		}
		rd, ctype = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := r.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if res.StatusCode/100 != 2 {
		return &apiError{method: method, path: path, status: res.StatusCode, body: string(raw)}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decode reply: %w", method, path, err)
		}
	}
	return nil
}

// meetingSetup is what the REST setup produced.
type meetingSetup struct {
	id      string
	invited int
	tokens  map[string]string // point id -> meeting token
	took    time.Duration
}

// setupMeeting prepares the province scenario as its users would: the IT
// admin signs in, imports the roster, schedules a meeting whose scope
// invites exactly the run's points, with the chair point in the chair,
// opens it and takes it live; then every point's device gets a credential,
// signs in with it and asks to join, which gives its meeting token (role
// "chair" for the chair point, "operator" for the others).
func (l *load) setupMeeting(ctx context.Context, pts []point, file []byte, p plan) (*meetingSetup, error) {
	began := time.Now()
	api := &rest{base: l.httpURL + "/api/v1", hc: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: setupParallel}}}
	cfg := l.cfg
	var login struct {
		Token string `json:"token"`
	}
	if err := api.do(ctx, "POST", "/auth/login", "", map[string]string{"username": cfg.adminUser, "password": cfg.adminPassword}, &login); err != nil {
		return nil, fmt.Errorf("sign in as IT admin %q (--admin-user, --admin-password): %w", cfg.adminUser, err)
	}
	admin := login.Token
	var levels []registry.Level
	if err := api.do(ctx, "GET", "/levels", admin, nil, &levels); err != nil {
		return nil, err
	}
	rank := map[string]int{}
	maxRank := 0
	for _, lv := range levels {
		rank[lv.ID] = lv.Rank
		maxRank = max(maxRank, lv.Rank)
	}

	// The roster: the file as it is, then the points invented beyond it.
	byID := map[string]point{}
	for _, pt := range pts {
		byID[pt.id] = pt
	}
	chair := byID[p.chair]
	if file != nil {
		var res struct {
			Imported int `json:"imported"`
		}
		if err := api.do(ctx, "POST", "/points/import", admin, file, &res); err != nil {
			return nil, fmt.Errorf("import the roster %s: %w", cfg.rosterPath, err)
		}
	}
	var extra bytes.Buffer
	cw := csv.NewWriter(&extra)
	_ = cw.Write([]string{"id", "name", "level", "parent"})
	extras := 0
	for i, pt := range pts {
		if pt.level == "" { // beyond the file: a level below the chair's, under it
			pt.level, pt.parent = chair.level, chair.id
			for _, lv := range levels {
				if lv.Rank == rank[chair.level]+1 {
					pt.level = lv.ID
				}
			}
			pts[i] = pt
			byID[pt.id] = pt
		} else if file != nil {
			continue
		}
		_ = cw.Write([]string{pt.id, pt.name, pt.level, pt.parent})
		extras++
	}
	cw.Flush()
	if extras > 0 {
		if err := api.do(ctx, "POST", "/points/import", admin, extra.Bytes(), nil); err != nil {
			return nil, fmt.Errorf("import the invented points: %w", err)
		}
	}

	// The meeting: rooted at the run's top point, deep enough to reach its
	// lowest level; the server's scope is then corrected to the run's points
	// with includes and excludes (a --points smaller than the roster).
	root := pts[0]
	for _, pt := range pts {
		if rank[pt.level] < rank[root.level] {
			root = pt
		}
	}
	m := registry.Meeting{
		Title: cfg.meeting, StartsAt: time.Now().UTC().Truncate(time.Second), DurationMin: 120,
		ChairPoint: chair.id, RootPoint: root.id, Depth: min(max(maxRank-rank[root.level], 0), 10), OnAirMax: 1,
	}
	if err := api.do(ctx, "POST", "/meetings", admin, m, &m); err != nil {
		return nil, fmt.Errorf("create the meeting: %w", err)
	}
	invited, err := l.invited(ctx, api, admin, m.ID)
	if err != nil {
		return nil, err
	}
	for _, id := range invited {
		if _, ok := byID[id]; !ok {
			m.Exclude = append(m.Exclude, id)
		}
	}
	for _, pt := range pts {
		if !slices.Contains(invited, pt.id) {
			m.Include = append(m.Include, pt.id)
		}
	}
	if len(m.Include)+len(m.Exclude) > 0 {
		if err := api.do(ctx, "PUT", "/meetings/"+m.ID, admin, m, &m); err != nil {
			return nil, fmt.Errorf("narrow the meeting's scope to the run's points: %w", err)
		}
		if invited, err = l.invited(ctx, api, admin, m.ID); err != nil {
			return nil, err
		}
	}
	var missing []string
	for _, pt := range pts {
		if !slices.Contains(invited, pt.id) {
			missing = append(missing, pt.id)
		}
	}
	if len(invited) != len(pts) || len(missing) > 0 {
		return nil, fmt.Errorf("meeting %s invites %d points, the run has %d (not invited: %v; disabled points are never invited)",
			m.ID, len(invited), len(pts), missing)
	}

	// The chair point's device opens the meeting and takes it live (the IT
	// admin may schedule meetings but not run them: meetings.state is the
	// chair's and the secretary's).
	chairDevice, err := signInPoint(ctx, api, admin, chair.id)
	if err != nil {
		return nil, fmt.Errorf("chair point %s: %w", chair.id, err)
	}
	for _, st := range []string{registry.StateOpen, registry.StateLive} {
		if err := api.do(ctx, "POST", "/meetings/"+m.ID+"/state", chairDevice, map[string]string{"state": st}, nil); err != nil {
			return nil, fmt.Errorf("the chair's device sets meeting %s %s: %w", m.ID, st, err)
		}
	}

	// Every device: a credential, a sign-in, a meeting token.
	ms := &meetingSetup{id: m.ID, invited: len(invited), tokens: make(map[string]string, len(pts))}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, setupParallel)
	)
	for _, pt := range pts {
		wg.Add(1)
		sem <- struct{}{}
		go func(pt point) {
			defer func() { <-sem; wg.Done() }()
			device := ""
			if pt.id == chair.id {
				device = chairDevice // signed in already
			}
			tok, err := joinAsPoint(ctx, api, admin, device, m.ID, pt.id, pt.id == chair.id)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("point %s: %w", pt.id, err))
				return
			}
			ms.tokens[pt.id] = tok
		}(pt)
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, fmt.Errorf("%d of %d devices could not join: %w", len(errs), len(pts), errors.Join(errs[:min(len(errs), 5)]...))
	}
	ms.took = time.Since(began)
	return ms, nil
}

func (l *load) invited(ctx context.Context, api *rest, admin, meeting string) ([]string, error) {
	var inv []registry.Point
	if err := api.do(ctx, "GET", "/meetings/"+meeting+"/invited", admin, nil, &inv); err != nil {
		return nil, err
	}
	ids := make([]string, len(inv))
	for i, p := range inv {
		ids[i] = p.ID
	}
	return ids, nil
}

// signInPoint is a room device signing in: the IT admin issues (rotates)
// its point's credential, the device presents it and gets an API token.
func signInPoint(ctx context.Context, api *rest, admin, pointID string) (string, error) {
	var cred registry.Credential
	if err := api.do(ctx, "POST", "/points/"+pointID+"/credentials", admin, map[string]bool{"rotate": true}, &cred); err != nil {
		return "", err
	}
	var device struct {
		Token string `json:"token"`
	}
	if err := api.do(ctx, "POST", "/auth/point", "", map[string]string{"credential": cred.Secret}, &device); err != nil {
		return "", err
	}
	return device.Token, nil
}

// joinAsPoint is one room device: it signs in (unless device is its API
// token already) and asks to join the meeting, which gives its meeting token.
func joinAsPoint(ctx context.Context, api *rest, admin, device, meeting, pointID string, chair bool) (string, error) {
	if device == "" {
		var err error
		if device, err = signInPoint(ctx, api, admin, pointID); err != nil {
			return "", err
		}
	}
	var join struct {
		Token  string `json:"token"`
		Role   string `json:"role"`
		PeerID string `json:"peer_id"`
	}
	if err := api.do(ctx, "POST", "/meetings/"+meeting+"/join", device, nil, &join); err != nil {
		return "", err
	}
	want := string(registry.Operator)
	if chair {
		want = string(registry.Chair)
	}
	if join.Role != want || join.PeerID != pointID {
		return "", fmt.Errorf("joined as %s with role %q, want %s with role %q", join.PeerID, join.Role, pointID, want)
	}
	return join.Token, nil
}
