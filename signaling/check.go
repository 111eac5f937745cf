package signaling

import (
	"fmt"

	"github.com/cau-bridge/cau/registry"
)

// The pre-meeting check: a bridge point asks how the server sees its links
// (its own camera preview is the self-view, shown locally by the client).
const (
	TypeCheck       = "check"        // client → server, empty body
	TypeCheckResult = "check_result" // server → client
)

// Thresholds of the pre-meeting check.
const (
	checkMaxLoss  = 0.03
	checkMaxRTTMS = 400.0
)

// CheckResultData is the body of "check_result": this point's latest
// quality sample, and whether its links are fit for the meeting.
type CheckResultData struct {
	Point *PointQuality `json:"point"`
	// Ready is true when the server receives the point's media and both
	// directions are within the thresholds.
	Ready bool `json:"ready"`
	// Problems says, in English, what is not ready; the page translates
	// them by code.
	Problems []CheckProblem `json:"problems"`
}

// CheckProblem is one reason a point is not ready.
type CheckProblem struct {
	Code    string `json:"code"` // no_sample, not_publishing, silent, uplink_loss, downlink_loss, high_rtt
	Message string `json:"message"`
}

func (s *session) handleCheck(env Envelope) error {
	if err := decodeData(env, &struct{}{}); err != nil {
		return err
	}
	if !registry.Allowed(registry.Role(s.claims.Role), registry.ActSelfCheck) {
		return errf(CodeForbidden, "role %s may not run the pre-meeting check", quote(s.claims.Role))
	}
	var res CheckResultData
	for _, q := range s.srv.Quality(s.claims.Meeting) {
		if q.Point == s.peerID {
			res.Point = &q
			break
		}
	}
	res.Problems = checkProblems(res.Point)
	res.Ready = len(res.Problems) == 0
	s.send(TypeCheckResult, res)
	return nil
}

func checkProblems(q *PointQuality) []CheckProblem {
	if q == nil {
		return []CheckProblem{{"no_sample", "the server has no quality sample of this point yet; wait a second and check again"}}
	}
	var out []CheckProblem
	if !q.Publishing {
		out = append(out, CheckProblem{"not_publishing", "the server receives no camera or microphone from this point"})
	} else if q.SilentMS > 0 {
		out = append(out, CheckProblem{"silent", fmt.Sprintf("no media from this point for %d ms", q.SilentMS)})
	}
	if q.Up.Loss != nil && *q.Up.Loss > checkMaxLoss {
		out = append(out, CheckProblem{"uplink_loss", fmt.Sprintf("uplink loss %.1f%% (at most %.0f%%)", *q.Up.Loss*100, checkMaxLoss*100)})
	}
	if q.Down.Loss != nil && *q.Down.Loss > checkMaxLoss {
		out = append(out, CheckProblem{"downlink_loss", fmt.Sprintf("downlink loss %.1f%% (at most %.0f%%)", *q.Down.Loss*100, checkMaxLoss*100)})
	}
	if q.RTTMS != nil && *q.RTTMS > checkMaxRTTMS {
		out = append(out, CheckProblem{"high_rtt", fmt.Sprintf("round trip %.0f ms (at most %.0f ms)", *q.RTTMS, checkMaxRTTMS)})
	}
	return out
}
