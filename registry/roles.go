package registry

import "slices"

// Role is what a principal may do in Cầu. A person's role comes from their
// account (it_admin, secretary) or from a meeting's invitation (chair,
// secretary, viewer); a bridge point's device is the operator of its point,
// and the device of a meeting's chair point holds chair in that meeting.
type Role string

// The roles.
const (
	Chair     Role = "chair"
	Secretary Role = "secretary"
	Operator  Role = "operator"
	ITAdmin   Role = "it_admin"
	Viewer    Role = "viewer"
)

// Roles lists every role, in the order the docs use.
func Roles() []Role { return []Role{Chair, Secretary, Operator, ITAdmin, Viewer} }

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return slices.Contains(Roles(), r) }

// Action is one thing a REST endpoint or signaling message does. Every
// endpoint and message names exactly one action, and Allowed is the only
// place that decides which roles may do it.
type Action string

// REST actions.
const (
	ActLevelsRead        Action = "levels.read"
	ActLevelsWrite       Action = "levels.write"
	ActPointsRead        Action = "points.read"
	ActPointsWrite       Action = "points.write"
	ActPointsCredentials Action = "points.credentials"
	ActUsersRead         Action = "users.read"
	ActUsersWrite        Action = "users.write"
	ActMeetingsRead      Action = "meetings.read"
	ActMeetingsWrite     Action = "meetings.write"
	ActMeetingsState     Action = "meetings.state"
	ActMeetingJoin       Action = "meetings.join"
	ActAttendanceRead    Action = "attendance.read"
	ActAttendanceWrite   Action = "attendance.write"
	ActQualityRead       Action = "quality.read"
	ActAgendaRead        Action = "agenda.read"
	ActAgendaDraft       Action = "agenda.draft"
	ActAgendaWrite       Action = "agenda.write"
	ActAgendaSign        Action = "agenda.sign"
	ActDocumentsUpload   Action = "documents.upload"
)

// Signaling actions (messages on the meeting WebSocket).
const (
	ActPublish     Action = "media.publish"
	ActSubscribe   Action = "media.subscribe"
	ActHandRaise   Action = "floor.hand"
	ActFloorGrant  Action = "floor.grant" // grant and revoke the floor
	ActFloorMute   Action = "floor.mute"  // mute, unmute, open a microphone
	ActSpotlight   Action = "floor.spotlight"
	ActGridView    Action = "grid.view"
	ActQualityFeed Action = "quality.feed"
	ActSelfCheck   Action = "check.self"
)

// rule is one row of the role table.
type rule struct {
	Action Action
	Roles  []Role
	What   string
}

// table is the role table: the single source of truth for who may do what.
// docs/ROLES.md is generated from the same rows (see TestRolesDocMatches).
func table() []rule {
	all := []Role{Chair, Secretary, Operator, ITAdmin, Viewer}
	return []rule{
		{ActLevelsRead, all, "list the levels"},
		{ActLevelsWrite, []Role{ITAdmin}, "replace the list of levels"},
		{ActPointsRead, []Role{Chair, Secretary, ITAdmin}, "list and read bridge points, export CSV"},
		{ActPointsWrite, []Role{ITAdmin}, "create, change, enable, disable and import bridge points"},
		{ActPointsCredentials, []Role{ITAdmin}, "issue, rotate and revoke a point's credential"},
		{ActUsersRead, []Role{ITAdmin}, "list people's accounts"},
		{ActUsersWrite, []Role{ITAdmin}, "create people's accounts"},
		{ActMeetingsRead, all, "read a meeting and its invitation list (invited principals only)"},
		{ActMeetingsWrite, []Role{Secretary, ITAdmin}, "schedule a meeting and change its scope"},
		{ActMeetingsState, []Role{Chair, Secretary}, "open, start (live) and end a meeting"},
		{ActMeetingJoin, all, "get a meeting token (invited principals only, meeting open or live)"},
		{ActAttendanceRead, []Role{Chair, Secretary, ITAdmin}, "read roll call and the attendance record"},
		{ActAttendanceWrite, []Role{Secretary}, "mark a point absent with a reason"},
		{ActQualityRead, []Role{Chair, ITAdmin}, "read live quality per point"},
		{ActAgendaRead, all, "read the agenda and download its documents (per item access list)"},
		{ActAgendaDraft, []Role{Chair, Secretary}, "read the draft agenda (before it is published)"},
		{ActAgendaWrite, []Role{Secretary}, "edit the draft agenda and publish a version"},
		{ActAgendaSign, []Role{Chair, Secretary}, "sign a published version (upload a .p7s or apply the seal)"},
		{ActDocumentsUpload, []Role{Secretary}, "upload documents"},
		{ActPublish, []Role{Chair, Secretary, Operator}, "publish camera and microphone"},
		{ActSubscribe, all, "receive media"},
		{ActHandRaise, []Role{Operator, Secretary}, "raise or lower a hand (register to speak)"},
		{ActFloorGrant, []Role{Chair}, "grant or revoke the floor (put a site on or off air)"},
		{ActFloorMute, []Role{Chair}, "mute or unmute a site, open a site's microphone"},
		{ActSpotlight, []Role{Chair}, "spotlight a site"},
		{ActGridView, []Role{Chair, ITAdmin}, "watch the grid of all sites"},
		{ActQualityFeed, []Role{Chair, ITAdmin}, "receive the live quality feed and alerts"},
		{ActSelfCheck, []Role{Chair, Secretary, Operator}, "run the pre-meeting check"},
	}
}

// Allowed reports whether role r may perform action a. Unknown actions are
// refused.
func Allowed(r Role, a Action) bool {
	for _, row := range table() {
		if row.Action == a {
			return slices.Contains(row.Roles, r)
		}
	}
	return false
}

// Rule is a read-only row of the role table, for docs and tests.
type Rule struct {
	Action Action `json:"action"`
	Roles  []Role `json:"roles"`
	What   string `json:"what"`
}

// Rules returns the role table.
func Rules() []Rule {
	rows := table()
	out := make([]Rule, len(rows))
	for i, r := range rows {
		out[i] = Rule{Action: r.Action, Roles: slices.Clone(r.Roles), What: r.What}
	}
	return out
}
