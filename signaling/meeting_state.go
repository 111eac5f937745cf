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
func (s *Server) EndMeeting(meeting string) {
	s.mu.Lock()
	r := s.rooms[meeting]
	s.mu.Unlock()
	if r == nil {
		return
	}
	r.mu.Lock()
	sessions := make([]*session, 0, len(r.peers))
	for _, p := range r.peers {
		sessions = append(sessions, p)
	}
	r.mu.Unlock()
	for _, p := range sessions {
		p.closeWith(websocket.CloseNormalClosure, "meeting ended")
	}
}
