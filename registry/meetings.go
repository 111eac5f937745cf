package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Meeting states.
const (
	StateScheduled = "scheduled"
	StateOpen      = "open" // points may connect for checks
	StateLive      = "live"
	StateEnded     = "ended"
)

// Meeting is a scheduled meeting and its scope. The invited points are the
// root and its descendants down to Depth levels below the root's level
// (a province root with depth 1 is a 2-level meeting, depth 2 a 3-level
// one), plus Include, minus Exclude. Disabled points are never invited.
type Meeting struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	StartsAt    time.Time `json:"starts_at"`
	DurationMin int       `json:"duration_min"`
	ChairPoint  string    `json:"chair_point"`
	RootPoint   string    `json:"root_point"`
	Depth       int       `json:"depth"`
	OnAirMax    int       `json:"on_air_max"`
	Include     []string  `json:"include,omitempty"`
	Exclude     []string  `json:"exclude,omitempty"`
	State       string    `json:"state"`
	CreatedBy   string    `json:"created_by,omitempty"`
}

// Invitee is a person invited to a meeting.
type Invitee struct {
	UserID string `json:"user_id"`
	Role   Role   `json:"role"`
}

func (m *Meeting) validate() error {
	if err := checkText("title", m.Title, true, 300); err != nil {
		return err
	}
	if m.StartsAt.IsZero() {
		return fmt.Errorf("%w: starts_at is required", ErrInvalid)
	}
	if m.DurationMin <= 0 {
		m.DurationMin = 120
	}
	if m.DurationMin > 24*60 {
		return fmt.Errorf("%w: duration_min must be at most 1440", ErrInvalid)
	}
	if m.Depth < 0 || m.Depth > 10 {
		return fmt.Errorf("%w: depth must be 0-10", ErrInvalid)
	}
	if m.OnAirMax == 0 {
		m.OnAirMax = 1
	}
	if m.OnAirMax < 0 || m.OnAirMax > 8 {
		return fmt.Errorf("%w: on_air_max must be 1-8", ErrInvalid)
	}
	if m.ChairPoint == "" || m.RootPoint == "" {
		return fmt.Errorf("%w: chair_point and root_point are required", ErrInvalid)
	}
	for _, id := range m.Include {
		if slices.Contains(m.Exclude, id) {
			return fmt.Errorf("%w: point %q is both included and excluded", ErrInvalid, id)
		}
	}
	return nil
}

// CreateMeeting schedules a meeting.
func (r *Registry) CreateMeeting(ctx context.Context, m Meeting) (Meeting, error) {
	m.ID = "m-" + newSecret(6)
	m.State = StateScheduled
	return m, r.saveMeeting(ctx, m, true)
}

// UpdateMeeting changes a meeting's title, time and scope; an ended meeting
// cannot change.
func (r *Registry) UpdateMeeting(ctx context.Context, m Meeting) (Meeting, error) {
	old, err := r.Meeting(ctx, m.ID)
	if err != nil {
		return Meeting{}, err
	}
	if old.State == StateEnded {
		return Meeting{}, fmt.Errorf("%w: meeting %s has ended", ErrConflict, m.ID)
	}
	m.State, m.CreatedBy = old.State, old.CreatedBy
	return m, r.saveMeeting(ctx, m, false)
}

func (r *Registry) saveMeeting(ctx context.Context, m Meeting, create bool) error {
	if err := m.validate(); err != nil {
		return err
	}
	return r.db.Tx(ctx, func(tx *sql.Tx) error {
		for _, id := range append(append([]string{m.ChairPoint, m.RootPoint}, m.Include...), m.Exclude...) {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM points WHERE id = ?`, id).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("%w: unknown point %q", ErrInvalid, id)
			}
		}
		starts := m.StartsAt.UTC().Format(time.RFC3339)
		var err error
		if create {
			_, err = tx.ExecContext(ctx, `INSERT INTO meetings(id, title, starts_at, duration_min, chair_point, root_point, depth, on_air_max, state, created_by)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, m.ID, m.Title, starts, m.DurationMin, m.ChairPoint, m.RootPoint, m.Depth, m.OnAirMax, m.State, m.CreatedBy)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE meetings SET title = ?, starts_at = ?, duration_min = ?, chair_point = ?, root_point = ?, depth = ?, on_air_max = ?
				WHERE id = ?`, m.Title, starts, m.DurationMin, m.ChairPoint, m.RootPoint, m.Depth, m.OnAirMax, m.ID)
		}
		if err != nil {
			return fmt.Errorf("save meeting: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM meeting_points WHERE meeting_id = ?`, m.ID); err != nil {
			return err
		}
		for mode, ids := range map[string][]string{"include": m.Include, "exclude": m.Exclude} {
			for _, id := range ids {
				if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO meeting_points(meeting_id, point_id, mode) VALUES (?, ?, ?)`, m.ID, id, mode); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Meeting returns one meeting.
func (r *Registry) Meeting(ctx context.Context, id string) (Meeting, error) {
	ms, err := r.meetings(ctx, `WHERE id = ?`, id)
	if err != nil {
		return Meeting{}, err
	}
	if len(ms) == 0 {
		return Meeting{}, fmt.Errorf("meeting %q: %w", id, ErrNotFound)
	}
	return ms[0], nil
}

// Meetings lists meetings, newest first.
func (r *Registry) Meetings(ctx context.Context) ([]Meeting, error) {
	return r.meetings(ctx, `ORDER BY starts_at DESC`)
}

func (r *Registry) meetings(ctx context.Context, where string, args ...any) ([]Meeting, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT id, title, starts_at, duration_min, chair_point, root_point, depth, on_air_max, state, created_by FROM meetings `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("list meetings: %w", err)
	}
	out := []Meeting{}
	for rows.Next() {
		var m Meeting
		var starts string
		if err := rows.Scan(&m.ID, &m.Title, &starts, &m.DurationMin, &m.ChairPoint, &m.RootPoint, &m.Depth, &m.OnAirMax, &m.State, &m.CreatedBy); err != nil {
			rows.Close()
			return nil, err
		}
		m.StartsAt, _ = time.Parse(time.RFC3339, starts)
		out = append(out, m)
	}
	rows.Close()
	for i := range out {
		prows, err := r.db.QueryContext(ctx, `SELECT point_id, mode FROM meeting_points WHERE meeting_id = ? ORDER BY point_id`, out[i].ID)
		if err != nil {
			return nil, err
		}
		for prows.Next() {
			var id, mode string
			if err := prows.Scan(&id, &mode); err != nil {
				prows.Close()
				return nil, err
			}
			if mode == "include" {
				out[i].Include = append(out[i].Include, id)
			} else {
				out[i].Exclude = append(out[i].Exclude, id)
			}
		}
		prows.Close()
	}
	return out, nil
}

// Invited derives a meeting's invitation list from its scope, in the
// hierarchy's order (parents before children).
func (r *Registry) Invited(ctx context.Context, meetingID string) ([]Point, error) {
	m, err := r.Meeting(ctx, meetingID)
	if err != nil {
		return nil, err
	}
	points, err := r.Points(ctx)
	if err != nil {
		return nil, err
	}
	levels, err := r.Levels(ctx)
	if err != nil {
		return nil, err
	}
	rank := map[string]int{}
	for _, l := range levels {
		rank[l.ID] = l.Rank
	}
	byID := map[string]Point{}
	children := map[string][]string{}
	for _, p := range points {
		byID[p.ID] = p
		children[p.Parent] = append(children[p.Parent], p.ID)
	}
	root, ok := byID[m.RootPoint]
	if !ok {
		return nil, fmt.Errorf("meeting %s: root point %q: %w", m.ID, m.RootPoint, ErrNotFound)
	}
	// Depth counts levels in the deployment's own list, so a two-tier
	// (province, commune) deployment's 2-level meeting reaches communes.
	maxRank := rank[root.Level] + m.Depth
	inScope := map[string]bool{}
	var walk func(id string, seen int)
	walk = func(id string, seen int) {
		if seen > len(points) { // guard against a corrupted cycle
			return
		}
		p := byID[id]
		if rank[p.Level] > maxRank {
			return
		}
		inScope[id] = true
		for _, c := range children[id] {
			walk(c, seen+1)
		}
	}
	walk(root.ID, 0)
	for _, id := range m.Include {
		inScope[id] = true
	}
	inScope[m.ChairPoint] = true
	for _, id := range m.Exclude {
		if id != m.ChairPoint {
			delete(inScope, id)
		}
	}
	out := []Point{}
	var emit func(parent string)
	emitted := map[string]bool{}
	emit = func(parent string) {
		for _, id := range children[parent] {
			if inScope[id] && byID[id].Enabled && !emitted[id] {
				emitted[id] = true
				out = append(out, byID[id])
			}
			emit(id)
		}
	}
	emit("")
	return out, nil
}

// IsInvited reports whether a point is on a meeting's invitation list.
func (r *Registry) IsInvited(ctx context.Context, meetingID, pointID string) (bool, error) {
	inv, err := r.Invited(ctx, meetingID)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(inv, func(p Point) bool { return p.ID == pointID }), nil
}

// SetState moves a meeting along scheduled → open → live → ended (a
// scheduled meeting may also go live or end directly, an open one end).
func (r *Registry) SetState(ctx context.Context, meetingID, state string) (Meeting, error) {
	m, err := r.Meeting(ctx, meetingID)
	if err != nil {
		return Meeting{}, err
	}
	allowed := map[string][]string{
		StateScheduled: {StateOpen, StateLive, StateEnded},
		StateOpen:      {StateLive, StateEnded},
		StateLive:      {StateEnded},
	}
	if state != StateOpen && state != StateLive && state != StateEnded {
		return Meeting{}, fmt.Errorf("%w: state must be open, live or ended", ErrInvalid)
	}
	if !slices.Contains(allowed[m.State], state) {
		return Meeting{}, fmt.Errorf("%w: meeting %s cannot go from %s to %s", ErrConflict, m.ID, m.State, state)
	}
	col := map[string]string{StateOpen: "opened_at", StateLive: "live_at", StateEnded: "ended_at"}[state]
	res, err := r.db.ExecContext(ctx, `UPDATE meetings SET state = ?, `+col+` = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ? AND state = ?`,
		state, m.ID, m.State)
	if err != nil {
		return Meeting{}, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Meeting{}, fmt.Errorf("%w: meeting %s changed state meanwhile", ErrConflict, m.ID)
	}
	m.State = state
	return m, nil
}

// InvitePerson invites an account to a meeting as chair, secretary or
// viewer.
func (r *Registry) InvitePerson(ctx context.Context, meetingID, userID string, role Role) error {
	if role != Chair && role != Secretary && role != Viewer {
		return fmt.Errorf("%w: a person is invited as chair, secretary or viewer", ErrInvalid)
	}
	if _, err := r.Meeting(ctx, meetingID); err != nil {
		return err
	}
	if _, err := r.User(ctx, userID); err != nil {
		return err
	}
	_, err := r.db.ExecContext(ctx, `INSERT INTO meeting_people(meeting_id, user_id, role) VALUES (?, ?, ?)
		ON CONFLICT(meeting_id, user_id) DO UPDATE SET role = excluded.role`, meetingID, userID, string(role))
	return err
}

// People lists the people invited to a meeting.
func (r *Registry) People(ctx context.Context, meetingID string) ([]Invitee, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT user_id, role FROM meeting_people WHERE meeting_id = ? ORDER BY user_id`, meetingID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Invitee{}
	for rows.Next() {
		var i Invitee
		if err := rows.Scan(&i.UserID, &i.Role); err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// Subject identifies who asks: a point's device (Point set) or a person
// (UserID set, with their account role).
type Subject struct {
	UserID      string
	AccountRole Role
	Point       string
}

// MeetingRole returns the role a subject holds in a meeting, or
// ErrNotInvited. The device of the chair point holds chair; other invited
// points are operators. IT admins may watch every meeting; a secretary
// holds secretary in the meetings they scheduled; other people need an
// invitation.
func (r *Registry) MeetingRole(ctx context.Context, meetingID string, s Subject) (Role, error) {
	m, err := r.Meeting(ctx, meetingID)
	if err != nil {
		return "", err
	}
	if s.Point != "" {
		ok, err := r.IsInvited(ctx, meetingID, s.Point)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", ErrNotInvited
		}
		if s.Point == m.ChairPoint {
			return Chair, nil
		}
		return Operator, nil
	}
	if s.UserID == "" {
		return "", ErrNotInvited
	}
	var role string
	err = r.db.QueryRowContext(ctx, `SELECT role FROM meeting_people WHERE meeting_id = ? AND user_id = ?`, meetingID, s.UserID).Scan(&role)
	switch {
	case err == nil:
		return Role(role), nil
	case !errors.Is(err, sql.ErrNoRows):
		return "", err
	case s.AccountRole == ITAdmin:
		return ITAdmin, nil
	case s.AccountRole == Secretary && strings.EqualFold(m.CreatedBy, s.UserID):
		return Secretary, nil
	}
	return "", ErrNotInvited
}
