package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"

	"github.com/cau-bridge/cau/registry"
	"github.com/cau-bridge/cau/signaling"
)

func jwtSubject(sub string) jwt.RegisteredClaims { return jwt.RegisteredClaims{Subject: sub} }

// Live is what the REST API reads from the meetings in progress.
type Live interface {
	// Connected lists the peers connected to a meeting now.
	Connected(meeting string) map[string]bool
	// Flowing lists the peers whose media arrives now.
	Flowing(meeting string) map[string]bool
	// Quality is the live quality of every peer in a meeting.
	Quality(meeting string) any
}

type meetingBody struct {
	registry.Meeting
}

type stateBody struct {
	State string `json:"state"`
}

type inviteBody struct {
	UserID string        `json:"user_id"`
	Role   registry.Role `json:"role"`
}

type absentBody struct {
	Reason string `json:"reason"`
}

func (a *api) mountMeetings(r chi.Router) {
	r.Get("/meetings", func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.authorize(w, r, registry.ActMeetingsRead, "")
		if !ok {
			return
		}
		ms, err := a.visibleMeetings(r.Context(), p)
		a.reply(w, http.StatusOK, ms, err)
	})
	r.Post("/meetings", a.withBody(registry.ActMeetingsWrite, func() any { return &registry.Meeting{} },
		func(ctx context.Context, p *Principal, _ *http.Request, body any) (any, error) {
			m := body.(*registry.Meeting)
			m.CreatedBy = p.Subject
			return a.reg.CreateMeeting(ctx, *m)
		}))
	r.Route("/meetings/{meeting}", func(r chi.Router) {
		r.Get("/", a.handle(registry.ActMeetingsRead, func(ctx context.Context, _ *Principal, r *http.Request) (any, error) {
			return a.reg.Meeting(ctx, chi.URLParam(r, "meeting"))
		}))
		r.Put("/", a.withBody(registry.ActMeetingsWrite, func() any { return &registry.Meeting{} },
			func(ctx context.Context, _ *Principal, r *http.Request, body any) (any, error) {
				m := body.(*registry.Meeting)
				m.ID = chi.URLParam(r, "meeting")
				return a.reg.UpdateMeeting(ctx, *m)
			}))
		r.Get("/invited", a.handle(registry.ActMeetingsRead, func(ctx context.Context, p *Principal, r *http.Request) (any, error) {
			inv, err := a.reg.Invited(ctx, chi.URLParam(r, "meeting"))
			if err == nil && !registry.Allowed(p.Role, registry.ActPointsRead) {
				// Contact details are for those who may read points.
				for i := range inv {
					inv[i].ContactName, inv[i].ContactPhone, inv[i].ContactEmail = "", "", ""
				}
			}
			return inv, err
		}))
		r.Get("/people", a.handle(registry.ActMeetingsRead, func(ctx context.Context, _ *Principal, r *http.Request) (any, error) {
			return a.reg.People(ctx, chi.URLParam(r, "meeting"))
		}))
		r.Post("/people", a.withBody(registry.ActMeetingsWrite, func() any { return &inviteBody{} },
			func(ctx context.Context, _ *Principal, r *http.Request, body any) (any, error) {
				b := body.(*inviteBody)
				id := chi.URLParam(r, "meeting")
				if err := a.reg.InvitePerson(ctx, id, b.UserID, b.Role); err != nil {
					return nil, err
				}
				return a.reg.People(ctx, id)
			}))
		r.Post("/state", a.withBody(registry.ActMeetingsState, func() any { return &stateBody{} }, a.setState))
		r.Post("/join", a.join)
		r.Get("/rollcall", a.handle(registry.ActAttendanceRead, func(ctx context.Context, _ *Principal, r *http.Request) (any, error) {
			return a.rollCall(ctx, chi.URLParam(r, "meeting"))
		}))
		r.Put("/attendance/{point}", a.withBody(registry.ActAttendanceWrite, func() any { return &absentBody{} },
			func(ctx context.Context, _ *Principal, r *http.Request, body any) (any, error) {
				id := chi.URLParam(r, "meeting")
				if err := a.reg.MarkAbsent(ctx, id, chi.URLParam(r, "point"), strings.TrimSpace(body.(*absentBody).Reason)); err != nil {
					return nil, err
				}
				return a.rollCall(ctx, id)
			}))
		r.Get("/attendance", a.handle(registry.ActAttendanceRead, func(ctx context.Context, _ *Principal, r *http.Request) (any, error) {
			return a.reg.AttendanceRecord(ctx, chi.URLParam(r, "meeting"))
		}))
		r.Get("/quality", a.handle(registry.ActQualityRead, func(_ context.Context, _ *Principal, r *http.Request) (any, error) {
			return a.quality(chi.URLParam(r, "meeting")), nil
		}))
	})
}

func (a *api) quality(meeting string) any {
	if a.cfg.Live == nil {
		return []any{}
	}
	return a.cfg.Live.Quality(meeting)
}

func (a *api) rollCall(ctx context.Context, meeting string) ([]registry.RollEntry, error) {
	var connected, flowing map[string]bool
	if a.cfg.Live != nil {
		connected, flowing = a.cfg.Live.Connected(meeting), a.cfg.Live.Flowing(meeting)
	}
	return a.reg.RollCall(ctx, meeting, connected, flowing)
}

// setState moves the meeting along; ending it keeps the attendance record.
func (a *api) setState(ctx context.Context, _ *Principal, r *http.Request, body any) (any, error) {
	id := chi.URLParam(r, "meeting")
	state := body.(*stateBody).State
	if state != registry.StateEnded {
		return a.reg.SetState(ctx, id, state)
	}
	entries, err := a.rollCall(ctx, id)
	if err != nil {
		return nil, err
	}
	m, err := a.reg.EndMeeting(ctx, id, entries)
	if err != nil {
		return nil, err
	}
	if a.cfg.EndMeeting != nil {
		a.cfg.EndMeeting(id)
	}
	return m, nil
}

// join gives an invited principal a short-lived meeting token for an open or
// live meeting.
func (a *api) join(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "meeting")
	p, ok := a.authorize(w, r, registry.ActMeetingJoin, id)
	if !ok {
		return
	}
	if p.Meeting != "" {
		// Otherwise a meeting token would renew itself for ever, past a
		// revoked invitation.
		writeError(w, http.StatusForbidden, "forbidden", "a meeting token cannot get another; sign in again")
		return
	}
	m, err := a.reg.Meeting(r.Context(), id)
	if err != nil {
		a.reply(w, 0, nil, err)
		return
	}
	if m.State != registry.StateOpen && m.State != registry.StateLive {
		writeError(w, http.StatusConflict, "meeting_not_open", "the meeting is "+m.State+"; it can be joined when open or live")
		return
	}
	sub := p.Subject
	if p.Point != "" {
		sub = p.Point
	}
	claims := signaling.Claims{Name: p.Name, Meeting: id, Role: string(p.Role), Point: p.Point,
		RegisteredClaims: jwtSubject(sub)}
	claims.ID = p.credential
	tok, err := a.tokens.MintClaims(claims, meetingTokenTTL)
	a.reply(w, http.StatusOK, map[string]any{"token": tok, "expires_in": int(meetingTokenTTL.Seconds()),
		"role": p.Role, "peer_id": sub, "meeting": m}, err)
}
