package campaign_test

import (
	"github.com/gofiber/fiber/v2"
	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/flows"
	"github.com/kefu-gateway/kefu/internal/campaign"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/kefu-gateway/kefu/internal/followup"
	"github.com/kefu-gateway/kefu/internal/metrics"
	"github.com/kefu-gateway/kefu/internal/ratelimit"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/router"
	"github.com/kefu-gateway/kefu/workers"
	"go.uber.org/zap"
	"gopkg.in/yaml.v3"
)

// Example_wiring is how kefu's app assembles contacts, follow-ups and
// campaigns (compiled with the tests, so the recipe stays true).
func Example_wiring() {
	var (
		st      *store.Store     // app.Store
		r       *router.Router   // app.Router (FlowStarter still to be implemented on it)
		set     *adapters.Set    // app.Adapters
		engine  *flows.Engine    // app.Engine
		tasks   *asynq.Client    // app.Tasks
		srv     *workers.Server  // app.Workers (nil in a process without workers)
		admin   fiber.Router     // the /admin/api group
		log     *zap.Logger      // app.Log
		m       *metrics.Metrics // app.Metrics
		clk     clock.Clock      // app options' clock
		file    string           // configuration file, for errors
		ctNode  *yaml.Node       // the `contacts:` block (nil = defaults)
		fuNode  *yaml.Node       // the `followups:` block
		cmNode  *yaml.Node       // the `campaigns:` block
		rlNode  *yaml.Node       // the `rate_limits:` block
		flowsOf followup.FlowStarter
	)
	// Configuration: each block is decoded strictly, with defaults.
	ctCfg, _ := contacts.DecodeConfig(ctNode, file)
	fuCfg, _ := followup.DecodeConfig(fuNode, file)
	cmCfg, _ := campaign.DecodeConfig(cmNode, file)
	rlCfg, _ := ratelimit.DecodeConfig(rlNode, file)

	cs := contacts.NewStore(st.Client, st.Keys, ctCfg, clk)
	limits := ratelimit.NewChannels(ratelimit.New(st.Client, st.Keys, nil), rlCfg) // agents: limits.Wait(ctx, channel, account)
	out := followup.NewOutreach(followup.Deps{Redis: st.Client, Keys: st.Keys, Contacts: cs, Lookup: set.Lookup,
		Recorder: r, Flows: flowsOf, Limits: limits, Clock: clk, Log: log, Metrics: m}, fuCfg)
	sched := followup.NewScheduler(out, tasks, asynq.NewInspectorFromRedisClient(st.Client))
	camps := campaign.New(campaign.Deps{Redis: st.Client, Keys: st.Keys, Outreach: out, Tasks: tasks, Clock: clk, Log: log,
		FlowExists: func(id string) bool { return engine.Set().Flow(id) != nil }}, cmCfg)

	// Router hooks: every customer message goes through the interceptor
	// (one Lua call: contact, last inbound — which cancels cancel-on-reply
	// follow-ups — and 退订/订阅); flow actions go to Effects.
	r.SetHooks(router.Hooks{
		Interceptors: []router.Interceptor{ /* handoff's first, */ followup.NewInbound(cs, r, st.Client, st.Keys, log, m)},
		Effects:      &followup.Effects{Scheduler: sched, Contacts: cs /* , Next: handoff's EffectRunner */},
	})

	// Workers.
	if srv != nil {
		srv.Handle(followup.TypeSend, sched)
		for typ, h := range camps.Handlers() {
			srv.Handle(typ, h)
		}
	}

	// Operator API.
	contacts.NewAPI(cs, router.NewTranscriptReader(st.Client, st.Keys), set.Lookup, log).MountAdmin(admin)
	followup.NewAPI(sched).MountAdmin(admin)
	campaign.NewAPI(camps).MountAdmin(admin)
}
