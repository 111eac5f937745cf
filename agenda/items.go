package agenda

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Item is one item of the draft agenda.
type Item struct {
	ID string `json:"id"`
	// Number is the item's position, from 1.
	Number      int        `json:"number"`
	Title       string     `json:"title"`
	Presenter   string     `json:"presenter"`
	DurationMin int        `json:"duration_min"`
	Access      Access     `json:"access"`
	Documents   []Document `json:"documents"`
}

// ItemInput is what a secretary writes for an item. A nil Access means
// everyone.
type ItemInput struct {
	Title       string  `json:"title"`
	Presenter   string  `json:"presenter"`
	DurationMin int     `json:"duration_min"`
	Access      *Access `json:"access"`
}

func (in *ItemInput) validate() (Access, error) {
	in.Title, in.Presenter = strings.TrimSpace(in.Title), strings.TrimSpace(in.Presenter)
	switch {
	case in.Title == "" || utf8.RuneCountInString(in.Title) > 300:
		return Access{}, fmt.Errorf("%w: title is required, 300 characters at most", ErrInvalid)
	case utf8.RuneCountInString(in.Presenter) > 200:
		return Access{}, fmt.Errorf("%w: presenter is 200 characters at most", ErrInvalid)
	case in.DurationMin < 0 || in.DurationMin > 24*60:
		return Access{}, fmt.Errorf("%w: duration_min must be 0-1440", ErrInvalid)
	}
	a := Access{Everyone: true}
	if in.Access != nil {
		a = *in.Access
	}
	if err := a.validate(); err != nil {
		return Access{}, err
	}
	return a, nil
}

// Draft returns the meeting's draft agenda: its items in order, each with
// its documents (meeting documents first).
func (s *Service) Draft(ctx context.Context, meeting string) ([]Item, error) {
	if _, err := meetingTitle(ctx, s.cfg.DB, meeting); err != nil {
		return nil, err
	}
	return s.draftItems(ctx, s.cfg.DB, meeting)
}

type querier interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

func (s *Service) draftItems(ctx context.Context, q querier, meeting string) ([]Item, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, position, title, presenter, duration_min, access
		FROM agenda_items WHERE meeting_id = ? ORDER BY position`, meeting)
	if err != nil {
		return nil, fmt.Errorf("read agenda items: %w", err)
	}
	items := []Item{}
	byID := map[string]int{}
	for rows.Next() {
		var it Item
		var access string
		if err := rows.Scan(&it.ID, &it.Number, &it.Title, &it.Presenter, &it.DurationMin, &access); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read agenda items: %w", err)
		}
		if err := json.Unmarshal([]byte(access), &it.Access); err != nil {
			rows.Close()
			return nil, fmt.Errorf("item %s access list: %w", it.ID, err)
		}
		it.Documents = []Document{}
		byID[it.ID] = len(items)
		items = append(items, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read agenda items: %w", err)
	}
	docs, err := s.queryDocuments(ctx, q, `WHERE meeting_id = ? AND item_id IS NOT NULL
		ORDER BY CASE role WHEN 'document' THEN 0 ELSE 1 END, position`, meeting)
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		if i, ok := byID[d.Item]; ok {
			items[i].Documents = append(items[i].Documents, d)
		}
	}
	return items, nil
}

// AddItem appends an item to the draft.
func (s *Service) AddItem(ctx context.Context, meeting string, in ItemInput) (Item, error) {
	access, err := in.validate()
	if err != nil {
		return Item{}, err
	}
	accessJSON, _ := json.Marshal(access)
	id := newID("it-")
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := meetingTitle(ctx, tx, meeting); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO agenda_items(id, meeting_id, position, title, presenter, duration_min, access)
			VALUES (?, ?, (SELECT coalesce(max(position), 0) + 1 FROM agenda_items WHERE meeting_id = ?), ?, ?, ?, ?)`,
			id, meeting, meeting, in.Title, in.Presenter, in.DurationMin, string(accessJSON))
		return err
	})
	if err != nil {
		return Item{}, fmt.Errorf("add agenda item: %w", err)
	}
	return s.item(ctx, meeting, id)
}

// UpdateItem rewrites an item's title, presenter, duration and access list.
func (s *Service) UpdateItem(ctx context.Context, meeting, id string, in ItemInput) (Item, error) {
	access, err := in.validate()
	if err != nil {
		return Item{}, err
	}
	accessJSON, _ := json.Marshal(access)
	res, err := s.cfg.DB.ExecContext(ctx, `UPDATE agenda_items SET title = ?, presenter = ?, duration_min = ?, access = ?,
		updated_at = ? WHERE meeting_id = ? AND id = ?`,
		in.Title, in.Presenter, in.DurationMin, string(accessJSON), s.nowString(), meeting, id)
	if err != nil {
		return Item{}, fmt.Errorf("update agenda item: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Item{}, fmt.Errorf("%w: item %q in meeting %q", ErrNotFound, id, meeting)
	}
	return s.item(ctx, meeting, id)
}

// DeleteItem removes an item from the draft; its documents stay uploaded,
// unattached, and the items after it move up.
func (s *Service) DeleteItem(ctx context.Context, meeting, id string) error {
	return s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		var pos int
		err := tx.QueryRowContext(ctx, `SELECT position FROM agenda_items WHERE meeting_id = ? AND id = ?`, meeting, id).Scan(&pos)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: item %q in meeting %q", ErrNotFound, id, meeting)
		}
		if err != nil {
			return fmt.Errorf("delete agenda item: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE agenda_documents SET item_id = NULL WHERE item_id = ?`, id); err != nil {
			return fmt.Errorf("delete agenda item: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM agenda_items WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete agenda item: %w", err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE agenda_items SET position = position - 1 WHERE meeting_id = ? AND position > ?`, meeting, pos)
		return err
	})
}

// ReorderItems puts the draft's items in the order of ids, which must name
// every item exactly once.
func (s *Service) ReorderItems(ctx context.Context, meeting string, ids []string) ([]Item, error) {
	err := s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		items, err := s.draftItems(ctx, tx, meeting)
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for _, it := range items {
			have[it.ID] = true
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if !have[id] || seen[id] {
				return fmt.Errorf("%w: order must list every item of the meeting exactly once (%q)", ErrInvalid, id)
			}
			seen[id] = true
		}
		if len(ids) != len(items) {
			return fmt.Errorf("%w: order lists %d items, the agenda has %d", ErrInvalid, len(ids), len(items))
		}
		for i, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE agenda_items SET position = ? WHERE id = ?`, i+1, id); err != nil {
				return fmt.Errorf("reorder agenda: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.Draft(ctx, meeting)
}

// SetItemDocuments makes ids, in that order, the item's documents. A listed
// document attached to another item moves here; one no longer listed is
// detached (it stays uploaded).
func (s *Service) SetItemDocuments(ctx context.Context, meeting, item string, ids []string) (Item, error) {
	err := s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM agenda_items WHERE meeting_id = ? AND id = ?`, meeting, item).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: item %q in meeting %q", ErrNotFound, item, meeting)
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				return fmt.Errorf("%w: document %q listed twice", ErrInvalid, id)
			}
			seen[id] = true
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM agenda_documents WHERE meeting_id = ? AND id = ?`, meeting, id).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("%w: document %q in meeting %q", ErrNotFound, id, meeting)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE agenda_documents SET item_id = NULL WHERE item_id = ?`, item); err != nil {
			return err
		}
		for i, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE agenda_documents SET item_id = ?, position = ? WHERE id = ?`, item, i+1, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Item{}, fmt.Errorf("attach documents: %w", err)
	}
	return s.item(ctx, meeting, item)
}

func (s *Service) item(ctx context.Context, meeting, id string) (Item, error) {
	items, err := s.Draft(ctx, meeting)
	if err != nil {
		return Item{}, err
	}
	for _, it := range items {
		if it.ID == id {
			return it, nil
		}
	}
	return Item{}, fmt.Errorf("%w: item %q in meeting %q", ErrNotFound, id, meeting)
}
