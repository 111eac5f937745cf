package testutil

import (
	"context"
	"testing"
	"time"

	"github.com/cau-bridge/cau/internal/app"
	"github.com/cau-bridge/cau/internal/testmedia"
	"github.com/cau-bridge/cau/signaling/client"
)

// JoinAs connects a participant to meeting with a token carrying role
// ("chair", "operator", "it_admin", ...), as a meeting's invitation would.
func JoinAs(t testing.TB, a *app.App, id, meeting, role string) *Participant {
	t.Helper()
	tok, err := a.Tokens.Mint(id, "Điểm cầu "+id, meeting, role, time.Hour)
	if err != nil {
		t.Fatalf("mint token: %v", err)
	}
	p := &Participant{ID: id, received: map[string]*Received{}, layers: map[string]*testmedia.Player{}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{URL: a.WSURL(), Token: tok, OnTrack: p.onTrack, OnLayers: p.onLayers})
	if err != nil {
		t.Fatalf("%s: join: %v", id, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	p.Client = c
	return p
}
