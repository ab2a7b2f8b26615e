package handoff_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/handoff"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
)

// Two kefu processes on one Redis, each with its own workers, take ten
// requests for a human at once. The claim is atomic: the two agents' one
// place each is filled exactly, nobody is assigned twice or to two agents,
// each assigned customer is greeted once, and the other eight wait.
func TestConcurrentRequestsNeverOverfillAgents(t *testing.T) {
	db := redistest.New(t)
	a := setup(t, options{db: db, shopID: "raceshop", wecomID: "racewecom"})
	b := setup(t, options{db: db, shopID: "raceshop", wecomID: "racewecom"})
	a.agent("alice-wx", "/online")
	a.agent("bob-wx", "/online")
	const n = 10
	var wg sync.WaitGroup
	for i := range n {
		e := []*env{a, b}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.acceptErr(e.customerMessage(fmt.Sprint("u", i), "人工")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	sent := func(id, substr string) int { return countWith(a.wecom, id, substr) + countWith(b.wecom, id, substr) }
	deadline := time.Now().Add(10 * time.Second)
	for sent("alice-wx", "【新客户】")+sent("bob-wx", "【新客户】") < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	a.settle()
	b.settle()
	if na, nb := sent("alice-wx", "【新客户】"), sent("bob-wx", "【新客户】"); na != 1 || nb != 1 {
		t.Fatalf("notices: alice %d, bob %d; want 1 each (max_concurrent)", na, nb)
	}
	agents, err := a.svc.Agents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	owners := map[string]string{}
	for _, ag := range agents {
		if ag.Load != 1 {
			t.Errorf("%s's load is %d, want 1", ag.ID, ag.Load)
		}
		for _, c := range ag.Conversations {
			if prev, dup := owners[c]; dup {
				t.Errorf("%s assigned to both %s and %s", c, prev, ag.ID)
			}
			owners[c] = ag.ID
		}
	}
	assigned, waiting := 0, 0
	for i := range n {
		user := fmt.Sprint("u", i)
		greetings := countWith(a.shop, user, "您好，客服") + countWith(b.shop, user, "您好，客服")
		switch d := a.detail(user); d.Status {
		case handoff.StatusAssigned:
			assigned++
			if greetings != 1 || owners[a.conv(user)] != d.Agent || a.owner(user) != "agent:"+d.Agent {
				t.Errorf("%s: %d greetings, agent %q, listed under %q, owner %q", user, greetings, d.Agent, owners[a.conv(user)], a.owner(user))
			}
		case handoff.StatusQueued:
			waiting++
			if greetings != 0 {
				t.Errorf("%s waits but was greeted", user)
			}
		default:
			t.Errorf("%s: status %s", user, d.Status)
		}
	}
	if assigned != 2 || waiting != 8 {
		t.Fatalf("%d assigned, %d waiting; want 2 and 8", assigned, waiting)
	}
	if w, _ := a.svc.Waiting(context.Background(), ""); len(w) != 8 {
		t.Fatalf("%d in the queue, want 8", len(w))
	}
}
