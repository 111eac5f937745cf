package registry

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Attendance statuses in a roll call.
const (
	AttendPresent   = "present"   // connected, media flowing
	AttendConnected = "connected" // connected, no media yet
	AttendLeft      = "left"      // was connected, is not now
	AttendAbsent    = "absent"    // marked absent with a reason
	AttendMissing   = "missing"   // never connected, no reason given
)

// RollEntry is one invited point in a roll call.
type RollEntry struct {
	PointID      string     `json:"point_id"`
	Name         string     `json:"name"`
	Level        string     `json:"level"`
	Status       string     `json:"status"`
	Connected    bool       `json:"connected"`
	MediaFlowing bool       `json:"media_flowing"`
	FirstJoined  *time.Time `json:"first_joined,omitempty"`
	LastLeft     *time.Time `json:"last_left,omitempty"`
	AbsentReason string     `json:"absent_reason,omitempty"`
}

// Record is the attendance record kept when a meeting ends.
type Record struct {
	MeetingID  string      `json:"meeting_id"`
	RecordedAt time.Time   `json:"recorded_at"`
	Entries    []RollEntry `json:"entries"`
	Present    int         `json:"present"`
	Absent     int         `json:"absent"`
	Missing    int         `json:"missing"`
}

const tsFormat = "2006-01-02T15:04:05.000Z"

// Presence notes that a point's device connected (online) or left a
// meeting. Points that are not registered are ignored (development rooms).
func (r *Registry) Presence(ctx context.Context, meetingID, pointID string, online bool) error {
	now := r.now().UTC().Format(tsFormat)
	var q string
	if online {
		q = `INSERT INTO attendance(meeting_id, point_id, first_joined) SELECT ?1, ?2, ?3
			WHERE EXISTS (SELECT 1 FROM meetings WHERE id = ?1) AND EXISTS (SELECT 1 FROM points WHERE id = ?2)
			ON CONFLICT(meeting_id, point_id) DO UPDATE SET first_joined = COALESCE(first_joined, excluded.first_joined)`
	} else {
		q = `UPDATE attendance SET last_left = ?3 WHERE meeting_id = ?1 AND point_id = ?2`
	}
	if _, err := r.db.ExecContext(ctx, q, meetingID, pointID, now); err != nil {
		return fmt.Errorf("presence of %s in %s: %w", pointID, meetingID, err)
	}
	return nil
}

// MarkAbsent records why an invited point is absent ("" clears it).
func (r *Registry) MarkAbsent(ctx context.Context, meetingID, pointID, reason string) error {
	if err := checkText("reason", reason, false, 500); err != nil {
		return err
	}
	ok, err := r.IsInvited(ctx, meetingID, pointID)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: point %s is not invited to %s", ErrInvalid, pointID, meetingID)
	}
	_, err = r.db.ExecContext(ctx, `INSERT INTO attendance(meeting_id, point_id, absent_reason) VALUES (?, ?, ?)
		ON CONFLICT(meeting_id, point_id) DO UPDATE SET absent_reason = excluded.absent_reason`, meetingID, pointID, reason)
	return err
}

// RollCall returns the roll call of every invited point. connected and
// flowing say which points are connected now and which send media now.
func (r *Registry) RollCall(ctx context.Context, meetingID string, connected, flowing map[string]bool) ([]RollEntry, error) {
	inv, err := r.Invited(ctx, meetingID)
	if err != nil {
		return nil, err
	}
	rows, err := r.db.QueryContext(ctx, `SELECT point_id, first_joined, last_left, absent_reason FROM attendance WHERE meeting_id = ?`, meetingID)
	if err != nil {
		return nil, err
	}
	type att struct {
		first, left sql.NullString
		reason      string
	}
	seen := map[string]att{}
	for rows.Next() {
		var id string
		var a att
		if err := rows.Scan(&id, &a.first, &a.left, &a.reason); err != nil {
			rows.Close()
			return nil, err
		}
		seen[id] = a
	}
	rows.Close()
	out := make([]RollEntry, 0, len(inv))
	for _, p := range inv {
		a := seen[p.ID]
		e := RollEntry{PointID: p.ID, Name: p.Name, Level: p.Level, Connected: connected[p.ID],
			MediaFlowing: flowing[p.ID], AbsentReason: a.reason}
		e.FirstJoined, e.LastLeft = parseTS(a.first), parseTS(a.left)
		switch {
		case e.Connected && e.MediaFlowing:
			e.Status = AttendPresent
		case e.Connected:
			e.Status = AttendConnected
		case e.FirstJoined != nil:
			e.Status = AttendLeft
		case a.reason != "":
			e.Status = AttendAbsent
		default:
			e.Status = AttendMissing
		}
		out = append(out, e)
	}
	return out, nil
}

func parseTS(s sql.NullString) *time.Time {
	if !s.Valid {
		return nil
	}
	t, err := time.Parse(tsFormat, s.String)
	if err != nil {
		return nil
	}
	return &t
}

// AttendanceRecord returns the record kept when the meeting ended.
func (r *Registry) AttendanceRecord(ctx context.Context, meetingID string) (Record, error) {
	var body string
	err := r.db.QueryRowContext(ctx, `SELECT body FROM attendance_records WHERE meeting_id = ?`, meetingID).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, fmt.Errorf("attendance record of %s: %w", meetingID, ErrNotFound)
	}
	if err != nil {
		return Record{}, err
	}
	var rec Record
	return rec, json.Unmarshal([]byte(body), &rec)
}

// EndMeeting ends a meeting and keeps its attendance record from entries,
// in one transaction: a meeting is never ended without its record.
func (r *Registry) EndMeeting(ctx context.Context, meetingID string, entries []RollEntry) (Meeting, error) {
	m, err := r.Meeting(ctx, meetingID)
	if err != nil {
		return Meeting{}, err
	}
	if m.State == StateEnded {
		return Meeting{}, fmt.Errorf("%w: meeting %s has already ended", ErrConflict, m.ID)
	}
	rec := Record{MeetingID: meetingID, RecordedAt: r.now().UTC(), Entries: entries}
	for _, e := range entries {
		switch {
		case e.FirstJoined != nil:
			rec.Present++
		case e.AbsentReason != "":
			rec.Absent++
		default:
			rec.Missing++
		}
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return Meeting{}, err
	}
	err = r.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE meetings SET state = ?, ended_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
			WHERE id = ? AND state = ?`, StateEnded, m.ID, m.State)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: meeting %s changed state meanwhile", ErrConflict, m.ID)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO attendance_records(meeting_id, body) VALUES (?, ?)
			ON CONFLICT(meeting_id) DO UPDATE SET body = excluded.body, recorded_at = excluded.recorded_at`, m.ID, string(body))
		return err
	})
	if err != nil {
		return Meeting{}, err
	}
	m.State = StateEnded
	return m, nil
}
