package registry

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// csvColumns are the roster columns; the first four are required, the rest
// optional (../shared/testdata/bridgepoints-langson.csv has the first four).
var csvRequired = []string{"id", "name", "level", "parent"}

func csvColumns() []string {
	return append(append([]string{}, csvRequired...), "contact_name", "contact_phone", "contact_email", "enabled")
}

// RowError is one bad row of an imported CSV file; Row counts the header as
// row 1, as spreadsheet programs do.
type RowError struct {
	Row int    `json:"row"`
	ID  string `json:"id,omitempty"`
	Msg string `json:"message"`
}

// ImportError lists every bad row of a refused import.
type ImportError struct {
	Rows []RowError
}

func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "import refused, nothing changed: %d bad row(s)", len(e.Rows))
	for i, r := range e.Rows {
		if i == 10 {
			fmt.Fprintf(&b, "; …")
			break
		}
		fmt.Fprintf(&b, "; row %d: %s", r.Row, r.Msg)
	}
	return b.String()
}

// Unwrap lets errors.Is(err, ErrInvalid) hold.
func (e *ImportError) Unwrap() error { return ErrInvalid }

// MaxImportRows bounds one import, and maxRowErrors the bad rows reported.
const (
	MaxImportRows = 20000
	maxRowErrors  = 100
)

// ImportCSV creates or updates every point in the file, in one transaction:
// either the whole file applies or nothing does. Points not in the file are
// kept. It returns how many points it wrote.
func (r *Registry) ImportCSV(ctx context.Context, in io.Reader) (int, error) {
	cr := csv.NewReader(in)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	var pe *csv.ParseError
	if err != nil && !errors.Is(err, io.EOF) && !errors.As(err, &pe) {
		return 0, fmt.Errorf("read CSV: %w", err)
	}
	if err != nil {
		return 0, &ImportError{Rows: []RowError{{Row: 1, Msg: "cannot read the header: " + err.Error()}}}
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		col[h] = i
	}
	for _, c := range csvRequired {
		if _, ok := col[c]; !ok {
			return 0, &ImportError{Rows: []RowError{{Row: 1, Msg: fmt.Sprintf("missing column %q (need %s)", c, strings.Join(csvRequired, ","))}}}
		}
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var bad []RowError
	type rowPoint struct {
		row int
		p   Point
	}
	var rows []rowPoint
	rowOf := map[string]int{}
	for n := 2; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				bad = append(bad, RowError{Row: pe.Line, Msg: pe.Err.Error()})
				if errors.Is(pe.Err, csv.ErrFieldCount) {
					continue
				}
				break
			}
			return 0, fmt.Errorf("read CSV: %w", err) // the body failed (too large, cut off)
		}
		if len(rows) >= MaxImportRows {
			bad = append(bad, RowError{Row: n, Msg: fmt.Sprintf("more than %d rows", MaxImportRows)})
			break
		}
		p := Point{ID: get(rec, "id"), Name: get(rec, "name"), Level: get(rec, "level"), Parent: get(rec, "parent"),
			ContactName: get(rec, "contact_name"), ContactPhone: get(rec, "contact_phone"),
			ContactEmail: get(rec, "contact_email"), Enabled: true}
		if v := get(rec, "enabled"); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				bad = append(bad, RowError{Row: n, ID: p.ID, Msg: fmt.Sprintf("enabled %q is not true/false", v)})
				continue
			}
			p.Enabled = b
		}
		if err := p.validate(); err != nil {
			bad = append(bad, RowError{Row: n, ID: p.ID, Msg: strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": ")})
			continue
		}
		if first, dup := rowOf[p.ID]; dup {
			bad = append(bad, RowError{Row: n, ID: p.ID, Msg: fmt.Sprintf("duplicate id %q (first on row %d)", p.ID, first)})
			continue
		}
		rowOf[p.ID] = n
		rows = append(rows, rowPoint{n, p})
	}
	written := 0
	err = r.db.Tx(ctx, func(tx *sql.Tx) error {
		all, levels, err := loadTree(ctx, tx)
		if err != nil {
			return err
		}
		for _, rp := range rows {
			all[rp.p.ID] = rp.p
		}
		for _, rp := range rows {
			if err := checkTree(all, levels, rp.p.ID); err != nil {
				bad = append(bad, RowError{Row: rp.row, ID: rp.p.ID, Msg: strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": ")})
			}
		}
		// Points already registered and not in the file must still fit
		// under their (possibly changed) parents.
		for id := range all {
			if _, inFile := rowOf[id]; inFile {
				continue
			}
			if err := checkTree(all, levels, id); err != nil {
				bad = append(bad, RowError{Row: 0, ID: id, Msg: "registered point " + id + " would no longer fit: " +
					strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": ")})
			}
		}
		if len(bad) > 0 {
			sortRowErrors(bad)
			if len(bad) > maxRowErrors {
				more := len(bad) - maxRowErrors
				bad = append(bad[:maxRowErrors], RowError{Msg: fmt.Sprintf("and %d more bad rows", more)})
			}
			return &ImportError{Rows: bad}
		}
		// Parents first, so the foreign key holds row by row.
		done := map[string]bool{}
		var write func(id string) error
		write = func(id string) error {
			if done[id] {
				return nil
			}
			done[id] = true
			p := all[id]
			if _, inFile := rowOf[id]; !inFile {
				return nil
			}
			if p.Parent != "" {
				if err := write(p.Parent); err != nil {
					return err
				}
			}
			written++
			return upsertPoint(ctx, tx, p)
		}
		for _, rp := range rows {
			if err := write(rp.p.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		sortRowErrors(bad)
		return 0, err
	}
	return written, nil
}

func sortRowErrors(rows []RowError) {
	slices.SortStableFunc(rows, func(a, b RowError) int { return a.Row - b.Row })
}

// ExportCSV writes every point in the import format, parents before their
// children.
func (r *Registry) ExportCSV(ctx context.Context, w io.Writer) error {
	points, err := r.Points(ctx)
	if err != nil {
		return err
	}
	byID := map[string]Point{}
	children := map[string][]string{}
	for _, p := range points {
		byID[p.ID] = p
		children[p.Parent] = append(children[p.Parent], p.ID)
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(csvColumns()); err != nil {
		return err
	}
	var walk func(parent string) error
	walk = func(parent string) error {
		for _, id := range children[parent] {
			p := byID[id]
			if err := cw.Write([]string{p.ID, p.Name, p.Level, p.Parent, p.ContactName, p.ContactPhone,
				p.ContactEmail, strconv.FormatBool(p.Enabled)}); err != nil {
				return err
			}
			if err := walk(id); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}
