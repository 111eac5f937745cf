package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/cau-bridge/cau/registry"
	"github.com/cau-bridge/cau/signaling"
)

// Principal is who makes a request, from the bearer token.
type Principal struct {
	Subject string `json:"subject"`
	Name    string `json:"name"`
	// Role is the role in effect for the request: the account role for
	// requests outside a meeting, the role in the meeting otherwise.
	Role        registry.Role `json:"role"`
	AccountRole registry.Role `json:"account_role"`
	// Point is set for a bridge point's device.
	Point string `json:"point,omitempty"`
	// Meeting is set when the token is a meeting token, which is good for
	// that meeting only.
	Meeting string `json:"meeting,omitempty"`

	credential string // the device credential behind the token
}

func (p *Principal) subject() registry.Subject {
	if p.Point != "" {
		return registry.Subject{Point: p.Point}
	}
	return registry.Subject{UserID: p.Subject, AccountRole: p.AccountRole}
}

// api holds what REST handlers share.
type api struct {
	cfg    Config
	reg    *registry.Registry
	tokens *signaling.Tokens
}

// authenticate reads the bearer token (or, for downloads opened by the
// browser, the access_token query parameter).
func (a *api) authenticate(r *http.Request) (*Principal, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		tok = r.URL.Query().Get("access_token")
	}
	if tok == "" {
		return nil, errors.New("no bearer token")
	}
	c, err := a.tokens.VerifyAny(strings.TrimSpace(tok))
	if err != nil {
		return nil, err
	}
	if c.Point != "" {
		// A device's tokens live only as long as the credential that
		// earned them: revoking it or disabling the point ends them.
		if c.ID == "" {
			return nil, errors.New("device token without its credential")
		}
		if err := a.reg.CheckCredential(r.Context(), c.ID, c.Point); err != nil {
			return nil, err
		}
	}
	p := &Principal{Subject: c.Subject, Name: c.Name, Point: c.Point, credential: c.ID}
	if c.Kind == "api" {
		p.AccountRole = registry.Role(c.Role)
	} else {
		p.Meeting, p.Role, p.AccountRole = c.Meeting, registry.Role(c.Role), registry.Role(c.Role)
		if c.Point != "" {
			p.AccountRole = registry.Operator
		}
	}
	return p, nil
}

// authorize resolves the principal and checks that its role may perform
// act, in meetingID when that is not empty. On refusal it writes the JSON
// error (401, 403 or 404) and returns false.
func (a *api) authorize(w http.ResponseWriter, r *http.Request, act registry.Action, meetingID string) (*Principal, bool) {
	p, err := a.authenticate(r)
	if err != nil {
		code := "unauthorized"
		if errors.Is(err, signaling.ErrTokenExpired) {
			code = "token_expired"
		}
		writeError(w, http.StatusUnauthorized, code, "sign in first: "+err.Error())
		return nil, false
	}
	role := p.AccountRole
	if meetingID != "" {
		switch {
		case p.Meeting != "" && p.Meeting != meetingID:
			writeError(w, http.StatusForbidden, "forbidden", "this token is for another meeting")
			return nil, false
		case p.Meeting != "":
			role = p.Role
		default:
			role, err = a.reg.MeetingRole(r.Context(), meetingID, p.subject())
			if err != nil {
				writeRegistryError(w, err)
				return nil, false
			}
		}
	} else if p.Meeting != "" {
		writeError(w, http.StatusForbidden, "forbidden", "a meeting token is good only for its meeting; sign in for this")
		return nil, false
	}
	if !registry.Allowed(role, act) {
		writeError(w, http.StatusForbidden, "forbidden", "role "+string(role)+" may not do "+string(act))
		return nil, false
	}
	p.Role = role
	return p, true
}

// writeRegistryError maps registry errors to statuses.
func writeRegistryError(w http.ResponseWriter, err error) {
	var ie *registry.ImportError
	switch {
	case errors.As(err, &ie):
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": map[string]any{
			"code": "import_refused", "message": ie.Error(), "rows": ie.Rows}})
	case errors.Is(err, registry.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, registry.ErrNotInvited):
		writeError(w, http.StatusForbidden, "not_invited", err.Error())
	case errors.Is(err, registry.ErrUnauthorized):
		writeError(w, http.StatusUnauthorized, "unauthorized", err.Error())
	case errors.Is(err, registry.ErrConflict):
		writeError(w, http.StatusConflict, "conflict", err.Error())
	case errors.Is(err, registry.ErrInvalid):
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
	default:
		writeError(w, http.StatusInternalServerError, "internal", "internal error")
	}
}
