package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/cau-bridge/cau/registry"
	"github.com/cau-bridge/cau/signaling"
)

// Token lifetimes: an API session lasts a working day; a meeting token is
// short, and the client asks for a new one to rejoin.
const (
	apiTokenTTL     = 12 * time.Hour
	meetingTokenTTL = 2 * time.Hour
	maxImportBytes  = 4 << 20
)

// mountRegistry routes sign-in, levels, points, people and meetings.
func (a *api) mountRegistry(r chi.Router) {
	r.Post("/auth/login", a.login)
	r.Post("/auth/point", a.pointLogin)
	r.Get("/me", func(w http.ResponseWriter, r *http.Request) {
		p, err := a.authenticate(r)
		if err != nil {
			code := "unauthorized"
			if errors.Is(err, signaling.ErrTokenExpired) {
				code = "token_expired"
			}
			writeError(w, http.StatusUnauthorized, code, err.Error())
			return
		}
		if p.Role == "" {
			p.Role = p.AccountRole
		}
		writeJSON(w, http.StatusOK, p)
	})
	r.Get("/roles", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := a.authorize(w, r, registry.ActLevelsRead, ""); ok {
			writeJSON(w, http.StatusOK, registry.Rules())
		}
	})
	r.Get("/levels", a.handle(registry.ActLevelsRead, func(ctx context.Context, _ *Principal, _ *http.Request) (any, error) {
		return a.reg.Levels(ctx)
	}))
	r.Put("/levels", a.withBody(registry.ActLevelsWrite, func() any { return &[]registry.Level{} },
		func(ctx context.Context, _ *Principal, _ *http.Request, body any) (any, error) {
			if err := a.reg.SetLevels(ctx, *body.(*[]registry.Level)); err != nil {
				return nil, err
			}
			return a.reg.Levels(ctx)
		}))
	r.Get("/points", a.handle(registry.ActPointsRead, func(ctx context.Context, _ *Principal, _ *http.Request) (any, error) {
		return a.reg.Points(ctx)
	}))
	r.Post("/points", a.withBody(registry.ActPointsWrite, func() any { return &registry.Point{Enabled: true} }, a.savePoint))
	r.Get("/points/export", a.exportPoints)
	r.Post("/points/import", a.importPoints)
	r.Get("/points/{point}", a.handle(registry.ActPointsRead, func(ctx context.Context, _ *Principal, r *http.Request) (any, error) {
		return a.reg.Point(ctx, chi.URLParam(r, "point"))
	}))
	r.Put("/points/{point}", a.withBody(registry.ActPointsWrite, func() any { return &registry.Point{Enabled: true} }, a.savePoint))
	r.Post("/points/{point}/credentials", a.withBody(registry.ActPointsCredentials, func() any {
		return &struct {
			Rotate bool `json:"rotate"`
		}{}
	}, func(ctx context.Context, _ *Principal, r *http.Request, body any) (any, error) {
		return a.reg.IssueCredential(ctx, chi.URLParam(r, "point"), body.(*struct {
			Rotate bool `json:"rotate"`
		}).Rotate)
	}))
	r.Delete("/points/{point}/credentials", a.handle(registry.ActPointsCredentials, func(ctx context.Context, _ *Principal, r *http.Request) (any, error) {
		n, err := a.reg.RevokeCredentials(ctx, chi.URLParam(r, "point"))
		return map[string]int{"revoked": n}, err
	}))
	r.Get("/users", a.handle(registry.ActUsersRead, func(ctx context.Context, _ *Principal, _ *http.Request) (any, error) {
		return a.reg.Users(ctx)
	}))
	r.Post("/users", a.withBody(registry.ActUsersWrite, func() any { return &newUser{} },
		func(ctx context.Context, _ *Principal, _ *http.Request, body any) (any, error) {
			u := body.(*newUser)
			return a.reg.CreateUser(ctx, registry.User{Username: u.Username, Name: u.Name, Role: u.Role}, u.Password)
		}))
	a.mountMeetings(r)
}

type newUser struct {
	Username string        `json:"username"`
	Name     string        `json:"name"`
	Role     registry.Role `json:"role"`
	Password string        `json:"password"`
}

// handle wraps a read handler: authorize act (in the URL's meeting, if
// any), run fn, write its result as JSON or its error.
func (a *api) handle(act registry.Action, fn func(context.Context, *Principal, *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.authorize(w, r, act, chi.URLParam(r, "meeting"))
		if !ok {
			return
		}
		v, err := fn(r.Context(), p, r)
		a.reply(w, http.StatusOK, v, err)
	}
}

// withBody is handle for requests with a JSON body (unknown fields
// refused, at most 64 KiB); writes answer 201 when they create.
func (a *api) withBody(act registry.Action, newBody func() any, fn func(context.Context, *Principal, *http.Request, any) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.authorize(w, r, act, chi.URLParam(r, "meeting"))
		if !ok {
			return
		}
		body := newBody()
		if err := decodeJSON(w, r, body, 64<<10); err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", err.Error())
			return
		}
		v, err := fn(r.Context(), p, r, body)
		status := http.StatusOK
		if r.Method == http.MethodPost {
			status = http.StatusCreated
		}
		a.reply(w, status, v, err)
	}
}

func (a *api) reply(w http.ResponseWriter, status int, v any, err error) {
	if err != nil {
		if !errors.Is(err, registry.ErrNotFound) && !errors.Is(err, registry.ErrInvalid) &&
			!errors.Is(err, registry.ErrConflict) && !errors.Is(err, registry.ErrNotInvited) &&
			!errors.Is(err, registry.ErrUnauthorized) {
			a.cfg.Logger.Error("api request failed", "err", err)
		}
		writeRegistryError(w, err)
		return
	}
	writeJSON(w, status, v)
}

func (a *api) savePoint(ctx context.Context, _ *Principal, r *http.Request, body any) (any, error) {
	p := body.(*registry.Point)
	if id := chi.URLParam(r, "point"); id != "" {
		if p.ID != "" && p.ID != id {
			return nil, errors.Join(registry.ErrInvalid, errors.New("id in the body differs from the URL"))
		}
		p.ID = id
	} else if _, err := a.reg.Point(ctx, p.ID); err == nil {
		return nil, errors.Join(registry.ErrConflict, errors.New("point "+p.ID+" exists; PUT /points/"+p.ID+" changes it"))
	}
	if err := a.reg.SavePoint(ctx, *p); err != nil {
		return nil, err
	}
	return a.reg.Point(ctx, p.ID)
}

func (a *api) importPoints(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.authorize(w, r, registry.ActPointsWrite, ""); !ok {
		return
	}
	body := http.MaxBytesReader(w, r.Body, maxImportBytes)
	n, err := a.reg.ImportCSV(r.Context(), body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "the CSV file is larger than 4 MiB")
		return
	}
	a.reply(w, http.StatusOK, map[string]int{"imported": n}, err)
}

func (a *api) exportPoints(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.authorize(w, r, registry.ActPointsRead, ""); !ok {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="bridgepoints.csv"`)
	if err := a.reg.ExportCSV(r.Context(), w); err != nil {
		a.cfg.Logger.Error("export points", "err", err)
	}
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (a *api) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := decodeJSON(w, r, &req, 4<<10); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	u, err := a.reg.Login(r.Context(), req.Username, req.Password)
	if err != nil {
		a.reply(w, 0, nil, err)
		return
	}
	tok, err := a.tokens.MintClaims(signaling.Claims{Name: u.Name, Role: string(u.Role), Kind: "api",
		RegisteredClaims: jwtSubject(u.ID)}, apiTokenTTL)
	a.reply(w, http.StatusOK, map[string]any{"token": tok, "expires_in": int(apiTokenTTL.Seconds()), "user": u}, err)
}

type pointLoginRequest struct {
	Credential string `json:"credential"`
}

// pointLogin signs a room device in with its point's credential.
func (a *api) pointLogin(w http.ResponseWriter, r *http.Request) {
	var req pointLoginRequest
	if err := decodeJSON(w, r, &req, 4<<10); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	p, err := a.reg.AuthenticatePoint(r.Context(), req.Credential)
	if err != nil {
		a.reply(w, 0, nil, err)
		return
	}
	claims := signaling.Claims{Name: p.Name, Role: string(registry.Operator), Point: p.ID, Kind: "api",
		RegisteredClaims: jwtSubject(p.ID)}
	claims.ID = registry.CredentialID(req.Credential)
	tok, err := a.tokens.MintClaims(claims, apiTokenTTL)
	a.reply(w, http.StatusOK, map[string]any{"token": tok, "expires_in": int(apiTokenTTL.Seconds()), "point": p}, err)
}

// visibleMeetings filters meetings to those the principal has a role in.
func (a *api) visibleMeetings(ctx context.Context, p *Principal) ([]registry.Meeting, error) {
	ms, err := a.reg.Meetings(ctx)
	if err != nil {
		return nil, err
	}
	if p.AccountRole == registry.ITAdmin {
		return ms, nil
	}
	return slices.DeleteFunc(ms, func(m registry.Meeting) bool {
		_, err := a.reg.MeetingRole(ctx, m.ID, p.subject())
		return err != nil
	}), nil
}
