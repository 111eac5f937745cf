package signaling

import (
	"context"
	"errors"
	"fmt"

	"github.com/gorilla/websocket"
)

// CodeMeetingClosed refuses a join to a registered meeting that is not
// open or live (scheduled, or ended).
const CodeMeetingClosed = "meeting_closed"

// Credentials, if a Meetings also implements it, says whether the device
// credential a token names is still valid (not revoked, point enabled).
type Credentials interface {
	CheckCredential(ctx context.Context, id, point string) error
}

// admit checks, outside any lock, that a registered meeting may be joined
// now, and that a device's credential still stands. A development room
// (ErrNoMeeting, or no Meetings) always may be joined.
func (s *Server) admit(meeting string, c *Claims) (string, error) {
	if s.cfg.Meetings == nil {
		return "", nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), meetingLookupTimeout)
	defer cancel()
	info, err := s.cfg.Meetings.Meeting(ctx, meeting)
	switch {
	case errors.Is(err, ErrNoMeeting):
	case err != nil:
		return CodeInternal, err
	case info.Closed:
		return CodeMeetingClosed, errors.New("the meeting is not open: it has not been opened yet, or it has ended")
	}
	if creds, ok := s.cfg.Meetings.(Credentials); ok && c != nil && c.Point != "" && c.ID != "" {
		if err := creds.CheckCredential(ctx, c.ID, c.Point); err != nil {
			return CodeUnauthorized, fmt.Errorf("the device's credential no longer stands: %w", err)
		}
	}
	return "", nil
}

// EndMeeting closes every session of a meeting in progress (the meeting
// ended): each client gets close code 1000 "meeting ended".
// The room is forgotten and marked closed first, so a join racing with the
// end cannot take a seat in it (and then finds the meeting closed).
func (s *Server) EndMeeting(meeting string) {
	s.mu.Lock()
	r := s.rooms[meeting]
	if r != nil {
		delete(s.rooms, meeting)
	}
	s.mu.Unlock()
	if r == nil {
		return
	}
	r.mu.Lock()
	r.closed = true
	sessions := make([]*session, 0, len(r.peers))
	for _, p := range r.peers {
		sessions = append(sessions, p)
	}
	r.mu.Unlock()
	r.close()
	// closeWith may wait for a stuck writer; don't hold the caller (an
	// HTTP request) for each in turn.
	for _, p := range sessions {
		go p.closeWith(websocket.CloseNormalClosure, "meeting ended")
	}
}
