// Package metrics holds kefu's Prometheus collectors.
package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
)

// Metrics is the set of collectors every component reports to.
type Metrics struct {
	Registry *prometheus.Registry

	// MessagesIn counts inbound messages by channel and kind.
	MessagesIn *prometheus.CounterVec
	// MessagesOut counts outbound messages by channel, kind and result
	// (passive, sent, deferred, failed, dropped).
	MessagesOut *prometheus.CounterVec
	// HandleSeconds is the time from accepting an inbound message to its
	// replies being committed, by channel.
	HandleSeconds *prometheus.HistogramVec
	// Errors counts errors by component.
	Errors *prometheus.CounterVec
	// Duplicates counts inbound messages dropped as already seen, by channel.
	Duplicates *prometheus.CounterVec
	// RedisRoundTrips counts network round trips to Redis (a pipeline is one).
	RedisRoundTrips prometheus.Counter
	// ContactObservations counts the router's observations of customers'
	// contacts by how they ran (contacts.ObservedTimesOnly ...).
	ContactObservations *prometheus.CounterVec
}

// New registers kefu's collectors, plus Go runtime and process collectors, on
// a fresh registry.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		MessagesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kefu_messages_in_total", Help: "Inbound messages accepted, by channel and kind.",
		}, []string{"channel", "kind"}),
		MessagesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kefu_messages_out_total", Help: "Outbound messages, by channel, kind and result.",
		}, []string{"channel", "kind", "result"}),
		HandleSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kefu_handle_seconds",
			Help:    "Time from accepting an inbound message to its replies being committed.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"channel"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kefu_errors_total", Help: "Errors, by component.",
		}, []string{"component"}),
		Duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kefu_duplicates_total", Help: "Inbound messages dropped as retries of one already seen.",
		}, []string{"channel"}),
		RedisRoundTrips: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kefu_redis_roundtrips_total", Help: "Network round trips to Redis (a pipeline counts once).",
		}),
		ContactObservations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kefu_contact_observations_total",
			Help: "Contact observations of inbound messages: times_only (a remembered contact), full, or changed (a remembered contact had changed, so a second round trip).",
		}, []string{"path"}),
	}
	r.MustRegister(m.MessagesIn, m.MessagesOut, m.HandleSeconds, m.Errors, m.Duplicates, m.RedisRoundTrips, m.ContactObservations,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// RedisHook returns a go-redis hook counting round trips.
func (m *Metrics) RedisHook() redis.Hook { return roundTripHook{m.RedisRoundTrips} }

type roundTripHook struct{ c prometheus.Counter }

func (h roundTripHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h roundTripHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.c.Inc()
		return next(ctx, cmd)
	}
}

func (h roundTripHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.c.Inc()
		return next(ctx, cmds)
	}
}
