package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/cau-bridge/cau/agenda"
	"github.com/cau-bridge/cau/registry"
)

// download serves a document's bytes to a principal its item admits. A
// single byte range (what PDF viewers ask for) is served as 206 straight
// from the store; a whole read is checked against the document's SHA-256
// first and answered 500 integrity_error if the stored copy is damaged.
// ?disposition=attachment asks the browser to save instead of showing.
func (h *agendaAPI) download(w http.ResponseWriter, r *http.Request) {
	u, ok := h.authorizeAgenda(w, r, registry.ActAgendaRead)
	if !ok {
		return
	}
	d, err := h.svc.Document(r.Context(), u, chi.URLParam(r, "meeting"), chi.URLParam(r, "doc"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	etag := `"` + d.SHA256 + `"`
	hd := w.Header()
	hd.Set("Accept-Ranges", "bytes")
	hd.Set("ETag", etag)
	hd.Set("Cache-Control", "private, no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	if inm := r.Header.Get("If-None-Match"); inm != "" && (inm == etag || inm == "*") {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Type", d.MediaType)
	hd.Set("Content-Disposition", agenda.ContentDisposition(disposition(r, d), d.FileName))

	rangeHdr := r.Header.Get("Range")
	if ir := r.Header.Get("If-Range"); ir != "" && ir != etag {
		rangeHdr = "" // the client's copy is another version: send it whole
	}
	if rangeHdr != "" {
		off, n, err := parseRange(rangeHdr, d.Size)
		switch {
		case errors.Is(err, errRangeUnsatisfiable):
			hd.Set("Content-Range", "bytes */"+strconv.FormatInt(d.Size, 10))
			writeError(w, http.StatusRequestedRangeNotSatisfiable, "range_not_satisfiable",
				fmt.Sprintf("the document has %d bytes", d.Size))
			return
		case err == nil && !(off == 0 && n == d.Size):
			// A range that is the whole document is served whole (below),
			// so its SHA-256 is checked like any full read.
			rc, err := h.svc.OpenRange(r.Context(), d, off, n)
			if err != nil {
				h.fail(w, r, err)
				return
			}
			defer rc.Close()
			hd.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, d.Size))
			hd.Set("Content-Length", strconv.FormatInt(n, 10))
			w.WriteHeader(http.StatusPartialContent)
			if _, err := io.CopyN(w, rc, n); err != nil {
				panic(http.ErrAbortHandler) // a short body must not look complete
			}
			return
		}
		// A malformed or multi-range header is ignored (RFC 9110 14.2):
		// the whole document follows.
	}
	rc, err := h.svc.OpenVerified(r.Context(), d)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer rc.Close()
	hd.Set("Content-Length", strconv.FormatInt(d.Size, 10))
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil {
		if errors.Is(err, agenda.ErrDigestMismatch) {
			h.cfg.Logger.ErrorContext(r.Context(), "document changed in the store while being served",
				"meeting", d.Meeting, "document", d.ID)
		}
		// Abort the connection: the client gets a truncated body, never a
		// complete corrupted one.
		panic(http.ErrAbortHandler)
	}
}

// disposition is inline for what a browser shows (PDF, images) unless
// ?disposition=attachment, and attachment for office files.
func disposition(r *http.Request, d agenda.Document) string {
	if r.URL.Query().Get("disposition") == "attachment" {
		return "attachment"
	}
	switch d.Kind {
	case agenda.KindPDF, agenda.KindJPEG, agenda.KindPNG:
		return "inline"
	}
	return "attachment"
}

var (
	errRangeUnsatisfiable = errors.New("range not satisfiable")
	errRangeIgnored       = errors.New("range ignored")
)

// parseRange reads a single "bytes=" range against size and returns its
// offset and length. Several ranges or a malformed header give
// errRangeIgnored (the whole document is sent); a well-formed range wholly
// past the end gives errRangeUnsatisfiable (416).
func parseRange(h string, size int64) (off, n int64, err error) {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, 0, errRangeIgnored
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, 0, errRangeIgnored
	}
	if first == "" { // suffix: the last N bytes
		k, err := strconv.ParseInt(last, 10, 64)
		if err != nil || k < 0 {
			return 0, 0, errRangeIgnored
		}
		if k == 0 || size == 0 {
			return 0, 0, errRangeUnsatisfiable
		}
		k = min(k, size)
		return size - k, k, nil
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, errRangeIgnored
	}
	end := size - 1
	if last != "" {
		e, err := strconv.ParseInt(last, 10, 64)
		if err != nil || e < start {
			return 0, 0, errRangeIgnored
		}
		end = min(e, size-1)
	}
	if start >= size {
		return 0, 0, errRangeUnsatisfiable
	}
	return start, end - start + 1, nil
}
