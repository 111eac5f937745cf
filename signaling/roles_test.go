package signaling_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cau-bridge/cau/internal/testutil"
	"github.com/cau-bridge/cau/registry"
	"github.com/cau-bridge/cau/signaling"
)

// message is one signaling message behind the role table. Bodies are
// harmless: allowed, they change little or nothing.
type message struct {
	typ  string
	body any
	act  registry.Action
}

func signalingMessages() []message {
	f := false
	return []message{
		{signaling.TypeOffer, signaling.SDPData{Target: signaling.TargetPub, SDP: "v=0 not really"}, registry.ActPublish},
		{signaling.TypeHand, map[string]any{"raised": &f}, registry.ActHandRaise},
		{signaling.TypeFloorGrant, map[string]any{"peer": "target"}, registry.ActFloorGrant},
		{signaling.TypeFloorRevoke, map[string]any{"peer": "target"}, registry.ActFloorGrant},
		{signaling.TypeFloorMute, map[string]any{"peer": "target", "muted": &f}, registry.ActFloorMute},
		{signaling.TypeFloorMic, map[string]any{"peer": "target", "open": &f}, registry.ActFloorMute},
		{signaling.TypeSpotlight, map[string]any{"peer": ""}, registry.ActSpotlight},
		{signaling.TypeGrid, map[string]any{"page": 0, "size": 4}, registry.ActGridView},
		{signaling.TypeGridClose, struct{}{}, registry.ActGridView},
		{signaling.TypeQualitySubscribe, struct{}{}, registry.ActQualityFeed},
		{signaling.TypeQualityUnsubscribe, struct{}{}, registry.ActQualityFeed},
		{signaling.TypeCheck, struct{}{}, registry.ActSelfCheck},
	}
}

// TestRoleTableSignaling sends every signaling message with every role in
// a floor-controlled meeting: exactly the roles the table refuses get a
// "forbidden" error frame.
func TestRoleTableSignaling(t *testing.T) {
	a := startFloorServer(t, meetingTable{"m-roles": {OnAirMax: 1, ChairPoint: "p-chair"}})
	testutil.JoinAs(t, a, "target", "m-roles", "operator")
	for _, role := range registry.Roles() {
		p := testutil.JoinAs(t, a, "p-"+string(role), "m-roles", string(role))
		for i, m := range signalingMessages() {
			body, _ := json.Marshal(m.body)
			raw, _ := json.Marshal(signaling.Envelope{V: signaling.ProtocolVersion, Type: m.typ, ID: fmt.Sprint("m", i), Data: body})
			if err := p.SendRaw(raw); err != nil {
				t.Fatal(err)
			}
		}
		// Replies come in order: once the ping's pong arrives, every
		// message above has been answered.
		raw, _ := json.Marshal(signaling.Envelope{V: signaling.ProtocolVersion, Type: signaling.TypePing, ID: "barrier"})
		if err := p.SendRaw(raw); err != nil {
			t.Fatal(err)
		}
		forbidden := map[string]bool{}
		timeout := time.After(10 * time.Second)
	wait:
		for {
			select {
			case env := <-p.Events():
				switch env.Type {
				case signaling.TypePong:
					break wait
				case signaling.TypeError:
					var e signaling.ErrorData
					_ = json.Unmarshal(env.Data, &e)
					if e.Code == signaling.CodeForbidden {
						forbidden[e.Ref] = true
					}
				}
			case <-timeout:
				t.Fatalf("%s: no pong within 10 s", role)
			}
		}
		for i, m := range signalingMessages() {
			allowed := registry.Allowed(role, m.act)
			if got := forbidden[fmt.Sprint("m", i)]; got == allowed {
				t.Errorf("%q as %s: forbidden=%v, but the table says allowed=%v (%s)", m.typ, role, got, allowed, m.act)
			}
		}
	}
	for _, rule := range registry.Rules() {
		a := string(rule.Action)
		if !strings.HasPrefix(a, "floor.") && !strings.HasPrefix(a, "grid.") && !strings.HasPrefix(a, "media.publish") &&
			rule.Action != registry.ActQualityFeed && rule.Action != registry.ActSelfCheck {
			continue
		}
		if !slices.ContainsFunc(signalingMessages(), func(m message) bool { return m.act == rule.Action }) {
			t.Errorf("no message tried for action %s", rule.Action)
		}
	}
}
