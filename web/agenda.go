package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/cau-bridge/cau/agenda"
	"github.com/cau-bridge/cau/registry"
)

// mountAgenda routes the paperless agenda and its documents under
// /meetings/{meeting}/agenda and /meetings/{meeting}/documents. r is the
// /api/v1 router. docs/AGENDA.md lists every route.
func (a *api) mountAgenda(r chi.Router, svc *agenda.Service) {
	h := &agendaAPI{api: a, svc: svc}
	r.Route("/meetings/{meeting}/agenda", func(r chi.Router) {
		r.Get("/", h.handle(registry.ActAgendaRead, h.latest))
		r.Get("/draft", h.handle(registry.ActAgendaDraft, h.draft))
		r.Post("/items", h.withBody(registry.ActAgendaWrite, func() any { return &agenda.ItemInput{} }, h.addItem))
		r.Put("/items/{item}", h.withBody(registry.ActAgendaWrite, func() any { return &agenda.ItemInput{} }, h.updateItem))
		r.Delete("/items/{item}", h.deleteItem)
		r.Put("/items/{item}/documents", h.withBody(registry.ActAgendaWrite, func() any { return &documentsBody{} }, h.setDocuments))
		r.Put("/order", h.withBody(registry.ActAgendaWrite, func() any { return &orderBody{} }, h.reorder))
		r.Post("/publish", h.handleStatus(registry.ActAgendaWrite, http.StatusCreated, h.publish))
		r.Get("/versions", h.handle(registry.ActAgendaRead, h.versions))
		r.Route("/versions/{version}", func(r chi.Router) {
			r.Get("/", h.handle(registry.ActAgendaRead, h.published))
			r.Get("/manifest.json", h.manifest)
			r.Get("/manifest.p7s", h.signature)
			r.Put("/signature", h.attachSignature)
			r.Post("/seal", h.handle(registry.ActAgendaSign, h.seal))
			r.Get("/bundle", h.bundle)
		})
	})
	r.Route("/meetings/{meeting}/documents", func(r chi.Router) {
		r.Post("/", h.upload)
		r.Get("/", h.handle(registry.ActAgendaRead, h.documents))
		r.Get("/{doc}", h.handle(registry.ActAgendaRead, h.document))
		r.Get("/{doc}/content", h.download)
		r.Get("/{doc}/url", h.handle(registry.ActAgendaRead, h.presign))
	})
}

// agendaAPI holds the agenda service for the handlers.
type agendaAPI struct {
	*api
	svc *agenda.Service
}

type documentsBody struct {
	Documents []string `json:"documents"`
}

type orderBody struct {
	Items []string `json:"items"`
}

func who(p *Principal) agenda.Who {
	return agenda.Who{Subject: p.Subject, Name: p.Name, Role: p.Role, Point: p.Point}
}

// authorizeAgenda is authorize for the URL's meeting.
func (h *agendaAPI) authorizeAgenda(w http.ResponseWriter, r *http.Request, act registry.Action) (agenda.Who, bool) {
	p, ok := h.authorize(w, r, act, chi.URLParam(r, "meeting"))
	if !ok {
		return agenda.Who{}, false
	}
	return who(p), true
}

// handle authorizes act, runs fn and writes its result with 200.
func (h *agendaAPI) handle(act registry.Action, fn func(context.Context, agenda.Who, *http.Request) (any, error)) http.HandlerFunc {
	return h.handleStatus(act, http.StatusOK, fn)
}

// handleStatus is handle answering status on success.
func (h *agendaAPI) handleStatus(act registry.Action, status int, fn func(context.Context, agenda.Who, *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, ok := h.authorizeAgenda(w, r, act)
		if !ok {
			return
		}
		v, err := fn(r.Context(), u, r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, status, v)
	}
}

// withBody is handle with a JSON body (unknown fields refused, at most
// 64 KiB); a POST answers 201.
func (h *agendaAPI) withBody(act registry.Action, newBody func() any, fn func(context.Context, agenda.Who, *http.Request, any) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, ok := h.authorizeAgenda(w, r, act)
		if !ok {
			return
		}
		body := newBody()
		if err := decodeJSON(w, r, body, 64<<10); err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", err.Error())
			return
		}
		v, err := fn(r.Context(), u, r, body)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		status := http.StatusOK
		if r.Method == http.MethodPost {
			status = http.StatusCreated
		}
		writeJSON(w, status, v)
	}
}

// fail writes err as a JSON error with a stable code.
func (h *agendaAPI) fail(w http.ResponseWriter, r *http.Request, err error) {
	var sigErr *agenda.SignatureError
	switch {
	case errors.As(err, &sigErr):
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": map[string]any{
			"code": "signature_invalid", "message": "chữ ký không hợp lệ / the signature was refused", "reasons": sigErr.Reasons}})
	case errors.Is(err, agenda.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, agenda.ErrBadFileName):
		writeError(w, http.StatusBadRequest, "bad_file_name", "tên tệp không hợp lệ / the file name has nothing usable left")
	case errors.Is(err, agenda.ErrInvalid):
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
	case errors.Is(err, agenda.ErrForbidden):
		writeError(w, http.StatusForbidden, "forbidden", "bạn không có quyền xem mục này / this item's access list does not include you")
	case errors.Is(err, agenda.ErrConflict):
		writeError(w, http.StatusConflict, "conflict", err.Error())
	case errors.Is(err, agenda.ErrTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("tệp vượt quá giới hạn %d MB / the file is larger than %d bytes", h.svc.MaxUpload()>>20, h.svc.MaxUpload()))
	case errors.Is(err, agenda.ErrNotPDF):
		writeError(w, http.StatusUnsupportedMediaType, "not_pdf", "tài liệu họp phải là tệp PDF / "+err.Error())
	case errors.Is(err, agenda.ErrUnsupportedType):
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_type",
			"chỉ nhận PDF, DOCX, XLSX, PPTX, JPEG, PNG / "+err.Error())
	case errors.Is(err, agenda.ErrSealNotConfigured):
		writeError(w, http.StatusServiceUnavailable, "seal_unavailable", err.Error())
	case errors.Is(err, agenda.ErrUnsupported):
		writeError(w, http.StatusNotImplemented, "not_supported", err.Error())
	case errors.Is(err, agenda.ErrDigestMismatch), errors.Is(err, agenda.ErrBadManifest):
		h.cfg.Logger.ErrorContext(r.Context(), "agenda integrity failure", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "integrity_error",
			"dữ liệu lưu trữ bị hỏng, đã từ chối gửi / the stored copy failed its SHA-256 check and was not sent")
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads the answer.
	default:
		h.cfg.Logger.ErrorContext(r.Context(), "agenda request failed", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "internal error")
	}
}

// versionParam reads {version}: a number from 1, or "latest" (0).
func versionParam(r *http.Request) (int, error) {
	s := chi.URLParam(r, "version")
	if s == "latest" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(s, "v"))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%w: version must be a number from 1 or \"latest\"", agenda.ErrInvalid)
	}
	return n, nil
}

func (h *agendaAPI) latest(ctx context.Context, u agenda.Who, r *http.Request) (any, error) {
	return h.svc.Published(ctx, u, chi.URLParam(r, "meeting"), 0)
}

func (h *agendaAPI) published(ctx context.Context, u agenda.Who, r *http.Request) (any, error) {
	n, err := versionParam(r)
	if err != nil {
		return nil, err
	}
	return h.svc.Published(ctx, u, chi.URLParam(r, "meeting"), n)
}

func (h *agendaAPI) draft(ctx context.Context, u agenda.Who, r *http.Request) (any, error) {
	if !u.CanSeeDraft() {
		return nil, fmt.Errorf("%w: the draft is for the secretary and the chair", agenda.ErrForbidden)
	}
	return h.svc.Draft(ctx, chi.URLParam(r, "meeting"))
}

func (h *agendaAPI) addItem(ctx context.Context, _ agenda.Who, r *http.Request, body any) (any, error) {
	return h.svc.AddItem(ctx, chi.URLParam(r, "meeting"), *body.(*agenda.ItemInput))
}

func (h *agendaAPI) updateItem(ctx context.Context, _ agenda.Who, r *http.Request, body any) (any, error) {
	return h.svc.UpdateItem(ctx, chi.URLParam(r, "meeting"), chi.URLParam(r, "item"), *body.(*agenda.ItemInput))
}

func (h *agendaAPI) deleteItem(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.authorizeAgenda(w, r, registry.ActAgendaWrite); !ok {
		return
	}
	if err := h.svc.DeleteItem(r.Context(), chi.URLParam(r, "meeting"), chi.URLParam(r, "item")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *agendaAPI) setDocuments(ctx context.Context, _ agenda.Who, r *http.Request, body any) (any, error) {
	return h.svc.SetItemDocuments(ctx, chi.URLParam(r, "meeting"), chi.URLParam(r, "item"), body.(*documentsBody).Documents)
}

func (h *agendaAPI) reorder(ctx context.Context, _ agenda.Who, r *http.Request, body any) (any, error) {
	return h.svc.ReorderItems(ctx, chi.URLParam(r, "meeting"), body.(*orderBody).Items)
}

func (h *agendaAPI) publish(ctx context.Context, u agenda.Who, r *http.Request) (any, error) {
	return h.svc.Publish(ctx, u, chi.URLParam(r, "meeting"))
}

func (h *agendaAPI) versions(ctx context.Context, _ agenda.Who, r *http.Request) (any, error) {
	return h.svc.Versions(ctx, chi.URLParam(r, "meeting"))
}

func (h *agendaAPI) seal(ctx context.Context, u agenda.Who, r *http.Request) (any, error) {
	n, err := versionParam(r)
	if err != nil {
		return nil, err
	}
	return h.svc.Seal(ctx, u, chi.URLParam(r, "meeting"), n)
}

// version authorizes act and resolves {version}.
func (h *agendaAPI) version(w http.ResponseWriter, r *http.Request, act registry.Action) (agenda.Who, agenda.Version, bool) {
	u, ok := h.authorizeAgenda(w, r, act)
	if !ok {
		return agenda.Who{}, agenda.Version{}, false
	}
	n, err := versionParam(r)
	if err == nil {
		var v agenda.Version
		if v, err = h.svc.Version(r.Context(), chi.URLParam(r, "meeting"), n); err == nil {
			return u, v, true
		}
	}
	h.fail(w, r, err)
	return agenda.Who{}, agenda.Version{}, false
}

// manifest serves the exact stored manifest bytes: what a signer signs.
func (h *agendaAPI) manifest(w http.ResponseWriter, r *http.Request) {
	_, v, ok := h.version(w, r, registry.ActAgendaRead)
	if !ok {
		return
	}
	b, err := h.svc.ManifestBytes(r.Context(), v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", agenda.ContentDisposition("attachment", "manifest.json"))
	w.Header().Set("ETag", `"`+v.ManifestSHA256+`"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(b)
}

func (h *agendaAPI) signature(w http.ResponseWriter, r *http.Request) {
	_, v, ok := h.version(w, r, registry.ActAgendaRead)
	if !ok {
		return
	}
	b, err := h.svc.SignatureBytes(r.Context(), v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/pkcs7-signature")
	w.Header().Set("Content-Disposition", agenda.ContentDisposition("attachment", "manifest.p7s"))
	_, _ = w.Write(b)
}

// attachSignature takes the raw .p7s (DER or PEM) as the request body.
func (h *agendaAPI) attachSignature(w http.ResponseWriter, r *http.Request) {
	u, ok := h.authorizeAgenda(w, r, registry.ActAgendaSign)
	if !ok {
		return
	}
	n, err := versionParam(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p7s, err := io.ReadAll(http.MaxBytesReader(w, r.Body, agenda.MaxSignature))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("a signature is at most %d bytes", agenda.MaxSignature))
		return
	}
	v, err := h.svc.AttachSignature(r.Context(), u, chi.URLParam(r, "meeting"), n, p7s)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// bundle streams the verification bundle; ?documents=1 includes the
// documents the caller may read.
func (h *agendaAPI) bundle(w http.ResponseWriter, r *http.Request) {
	u, v, ok := h.version(w, r, registry.ActAgendaRead)
	if !ok {
		return
	}
	withDocs := r.URL.Query().Get("documents") == "1" || r.URL.Query().Get("documents") == "true"
	b, err := h.svc.PrepareBundle(r.Context(), u, v.Meeting, v.Version, withDocs)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", agenda.ContentDisposition("attachment",
		fmt.Sprintf("chuong-trinh-hop-%s-v%d.zip", v.Meeting, v.Version)))
	if err := b.WriteZip(r.Context(), w); err != nil {
		h.cfg.Logger.ErrorContext(r.Context(), "bundle aborted", "meeting", v.Meeting, "version", v.Version, "err", err)
		// The zip is incomplete: break the connection so the client sees
		// a failed download rather than a short archive.
		panic(http.ErrAbortHandler)
	}
}

func (h *agendaAPI) documents(ctx context.Context, u agenda.Who, r *http.Request) (any, error) {
	return h.svc.Documents(ctx, u, chi.URLParam(r, "meeting"))
}

func (h *agendaAPI) document(ctx context.Context, u agenda.Who, r *http.Request) (any, error) {
	return h.svc.Document(ctx, u, chi.URLParam(r, "meeting"), chi.URLParam(r, "doc"))
}

func (h *agendaAPI) presign(ctx context.Context, u agenda.Who, r *http.Request) (any, error) {
	d, err := h.svc.Document(ctx, u, chi.URLParam(r, "meeting"), chi.URLParam(r, "doc"))
	if err != nil {
		return nil, err
	}
	url, expires, err := h.svc.PresignURL(ctx, d)
	if err != nil {
		return nil, err
	}
	return map[string]any{"url": url, "expires_at": expires.UTC()}, nil
}

// maxFieldBytes bounds one multipart text field.
const maxFieldBytes = 4 << 10

// upload takes a multipart form (text fields title, role and item, then a
// file part named "file") or a raw body named by ?name= or a
// Content-Disposition header; title, role and item may also be query
// parameters.
func (h *agendaAPI) upload(w http.ResponseWriter, r *http.Request) {
	u, ok := h.authorizeAgenda(w, r, registry.ActDocumentsUpload)
	if !ok {
		return
	}
	// A declared length over the limit (with room for multipart framing)
	// is refused before a byte is read.
	if r.ContentLength > h.svc.MaxUpload()+64<<10 {
		h.fail(w, r, agenda.ErrTooLarge)
		return
	}
	q := r.URL.Query()
	in := agenda.UploadInput{Meeting: chi.URLParam(r, "meeting"), Title: q.Get("title"),
		Role: agenda.Role(q.Get("role")), Item: q.Get("item"), FileName: q.Get("name")}
	ctype, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ctype != "multipart/form-data" {
		if in.FileName == "" {
			if _, params, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err == nil {
				in.FileName = params["filename"]
			}
		}
		in.Body = r.Body
		h.finishUpload(w, r, u, in)
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		h.fail(w, r, fmt.Errorf("%w: %v", agenda.ErrInvalid, err))
		return
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			h.fail(w, r, fmt.Errorf("%w: the form has no part named \"file\"", agenda.ErrInvalid))
			return
		}
		if err != nil {
			h.fail(w, r, fmt.Errorf("%w: %v", agenda.ErrInvalid, err))
			return
		}
		if part.FormName() == "file" {
			in.FileName, in.Body = partFileName(part), part
			h.finishUpload(w, r, u, in)
			return
		}
		v, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
		if err != nil || len(v) > maxFieldBytes {
			h.fail(w, r, fmt.Errorf("%w: form field %q is too long or unreadable", agenda.ErrInvalid, part.FormName()))
			return
		}
		switch part.FormName() {
		case "title":
			in.Title = string(v)
		case "role":
			in.Role = agenda.Role(v)
		case "item":
			in.Item = string(v)
		case "name":
			in.FileName = string(v)
		}
	}
}

// partFileName is the part's file name without the directory stripping
// multipart.Part.FileName does, so agenda.SafeName sees (and reduces) it
// whole.
func partFileName(p *multipart.Part) string {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return p.FileName()
	}
	return params["filename"]
}

func (h *agendaAPI) finishUpload(w http.ResponseWriter, r *http.Request, u agenda.Who, in agenda.UploadInput) {
	d, err := h.svc.Upload(r.Context(), u, in)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, d)
}
