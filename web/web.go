package web

import (
	"embed"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/cau-bridge/cau/agenda"
	"github.com/cau-bridge/cau/registry"
	"github.com/cau-bridge/cau/signaling"
)

//go:embed static
var staticFS embed.FS

// Config configures the HTTP surface.
type Config struct {
	Signaling *signaling.Server
	Tokens    *signaling.Tokens
	// DevJoin enables POST /api/v1/dev/token, which mints a token for anyone.
	// For development and demos only.
	DevJoin bool
	// Stats, if set, is served as JSON at GET /debug/stats (the load
	// generator reads forwarding counters and delays from it).
	Stats  func() any
	Logger *slog.Logger
	// Registry serves the REST API of points, people and meetings; nil
	// leaves only the development endpoints.
	Registry *registry.Registry
	// Live reads the meetings in progress (roll call, quality).
	Live Live
	// Metrics, if set, is served at GET /metrics (Prometheus).
	Metrics http.Handler
	// MetricsToken, if set, is the bearer token /metrics and /debug/stats
	// require; empty serves them to loopback clients only.
	MetricsToken string
	// Agenda serves agendas and documents; nil leaves them out.
	Agenda *agenda.Service
	// EndMeeting, if set, is called when a meeting ends, to close its room.
	EndMeeting func(meeting string)
}

// Handler is Cầu's HTTP handler.
type Handler struct {
	http.Handler
	ready atomic.Bool
}

// New builds the router.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{}
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Get("/healthz", h.healthz)
	r.Handle("/ws", cfg.Signaling)
	if cfg.Stats != nil {
		r.Method(http.MethodGet, "/debug/stats", operatorsOnly(cfg.MetricsToken, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, cfg.Stats())
		})))
	}
	if cfg.Metrics != nil {
		r.Method(http.MethodGet, "/metrics", operatorsOnly(cfg.MetricsToken, cfg.Metrics))
	}
	r.Route("/api/v1", func(r chi.Router) {
		r.Post("/dev/token", devToken(cfg))
		if cfg.Registry != nil {
			a := &api{cfg: cfg, reg: cfg.Registry, tokens: cfg.Tokens}
			a.mountRegistry(r)
			if cfg.Agenda != nil {
				a.mountAgenda(r, cfg.Agenda)
			}
		}
		r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
			writeError(w, http.StatusNotFound, "not_found", "no such API endpoint")
		})
	})
	static, _ := fs.Sub(staticFS, "static")
	r.Handle("/*", http.FileServerFS(static))
	h.Handler = r
	return h
}

// SetReady makes /healthz answer 200 (true) or 503 (false).
func (h *Handler) SetReady(ok bool) { h.ready.Store(ok) }

func (h *Handler) healthz(w http.ResponseWriter, _ *http.Request) {
	if !h.ready.Load() {
		writeError(w, http.StatusServiceUnavailable, "not_ready", "the server is starting or stopping")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type devTokenRequest struct {
	Name    string `json:"name"`
	Meeting string `json:"meeting"`
}

// devToken mints a short-lived token for a display name, so two browser tabs
// can meet without any set-up.
func devToken(cfg Config) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !cfg.DevJoin {
			writeError(w, http.StatusForbidden, "dev_join_disabled",
				"development join is disabled on this server; ask IT staff for a meeting token")
			return
		}
		var req devTokenRequest
		if err := decodeJSON(w, r, &req, 4<<10); err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", err.Error())
			return
		}
		req.Name, req.Meeting = strings.TrimSpace(req.Name), strings.TrimSpace(req.Meeting)
		if strings.HasPrefix(req.Meeting, "m-") {
			// Registered meetings' ids start with "m-"; they are joined
			// through POST /api/v1/meetings/{id}/join only.
			writeError(w, http.StatusBadRequest, "bad_request", "development room names may not start with \"m-\"")
			return
		}
		if req.Name == "" || req.Meeting == "" || utf8.RuneCountInString(req.Name) > 100 ||
			utf8.RuneCountInString(req.Meeting) > 100 {
			writeError(w, http.StatusBadRequest, "bad_request", "name and meeting are required, 100 characters at most")
			return
		}
		id := "dev-" + randomID()
		tok, err := cfg.Tokens.Mint(id, req.Name, req.Meeting, "operator", 12*time.Hour)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "internal", "cannot mint a token")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"token": tok, "peer_id": id})
	}
}

// decodeJSON reads one JSON object of at most limit bytes, rejecting unknown
// fields.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errors.New("Content-Type must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New("invalid JSON body: " + err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("invalid JSON body: trailing data")
	}
	return nil
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
