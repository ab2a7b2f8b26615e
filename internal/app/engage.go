package app

import (
	"fmt"

	"github.com/kefu-gateway/kefu/handoff"
	"github.com/kefu-gateway/kefu/internal/campaign"
	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/kefu-gateway/kefu/internal/followup"
	"github.com/kefu-gateway/kefu/internal/ratelimit"
	"github.com/kefu-gateway/kefu/router"
)

// engage is the contacts, follow-ups and campaigns of one process.
type engage struct {
	contacts  *contacts.Store
	limits    *ratelimit.Channels
	scheduler *followup.Scheduler
	campaigns *campaign.Service
	effects   *followup.Effects
	handoff   *handoff.Service
}

// newEngage assembles contacts (kept in the router's first round trip),
// follow-ups, campaigns and the shared per-channel rate limits.
func (a *App) newEngage() error {
	cfg, st := a.Cfg.Engage, a.Store
	e := &engage{}
	e.contacts = contacts.NewStore(st.Client, st.Keys, cfg.Contacts, a.opts.Clock)
	e.limits = ratelimit.NewChannels(ratelimit.New(st.Client, st.Keys, nil), cfg.RateLimits)
	out := followup.NewOutreach(followup.Deps{Redis: st.Client, Keys: st.Keys, Contacts: e.contacts, Lookup: a.Adapters.Lookup,
		Recorder: a.Router, Flows: a.Router, Limits: e.limits, Clock: a.opts.Clock, Log: a.Log, Metrics: a.Metrics}, cfg.Followups)
	e.scheduler = followup.NewScheduler(out, a.Tasks, a.Inspector)
	engine := a.Engine
	flowExists := func(id string) bool { return engine.Set().Flow(id) != nil }
	e.campaigns = campaign.New(campaign.Deps{Redis: st.Client, Keys: st.Keys, Outreach: out, Tasks: a.Tasks, Clock: a.opts.Clock,
		Log: a.Log, FlowExists: flowExists}, cfg.Campaigns)
	e.effects = &followup.Effects{Scheduler: e.scheduler, Contacts: e.contacts}
	a.Router.SetContacts(&followup.Observer{Contacts: e.contacts, Log: a.Log, Metrics: a.Metrics})
	var err error
	e.handoff, err = handoff.New(a.Cfg.Engage.Handoff, handoff.Deps{
		Redis: st.Client, Keys: st.Keys, Router: a.Router, Adapters: a.Adapters, Tasks: a.Tasks,
		Clock: a.opts.Clock, Log: a.Log, Metrics: a.Metrics, Tags: handoff.ContactTags{Store: e.contacts},
		Flows: a.Router, FlowExists: flowExists,
	})
	if err != nil {
		return fmt.Errorf("configuring handoff: %w", err)
	}
	// Flow actions the follow-up effects do not know (handoff) go on to the
	// handoff service.
	e.effects.Next = e.handoff
	a.Router.SetHooks(router.Hooks{
		Interceptors: []router.Interceptor{e.handoff},
		Owned:        e.handoff,
		Effects:      e.effects,
	})
	a.admin = append(a.admin,
		contacts.NewAPI(e.contacts, router.NewTranscriptReader(st.Client, st.Keys), a.Adapters.Lookup, a.Log),
		followup.NewAPI(e.scheduler),
		campaign.NewAPI(e.campaigns),
		e.handoff)
	a.engage = e
	return nil
}

func (a *App) registerEngageTasks() {
	a.Workers.Handle(followup.TypeSend, a.engage.scheduler)
	for typ, h := range a.engage.campaigns.Handlers() {
		a.Workers.Handle(typ, h)
	}
	for typ, h := range a.engage.handoff.Tasks() {
		a.Workers.Handle(typ, h)
	}
}

// Handoff is the handoff service (for tests and tools).
func (a *App) Handoff() *handoff.Service { return a.engage.handoff }
