package signaling

import (
	"context"
	"errors"

	"github.com/gorilla/websocket"
)

// CodeMeetingClosed refuses a join to a registered meeting that is not
// open or live (scheduled, or ended).
const CodeMeetingClosed = "meeting_closed"

// admit checks, outside any lock, that a registered meeting may be joined
// now. A development room (ErrNoMeeting, or no Meetings) always may.
func (s *Server) admit(meeting string) (string, error) {
	if s.cfg.Meetings == nil {
		return "", nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), meetingLookupTimeout)
	defer cancel()
	info, err := s.cfg.Meetings.Meeting(ctx, meeting)
	if errors.Is(err, ErrNoMeeting) {
		return "", nil
	}
	if err != nil {
		return CodeInternal, err
	}
	if info.Closed {
		return CodeMeetingClosed, errors.New("the meeting is not open: it has not been opened yet, or it has ended")
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
