package handoff

import (
	"errors"

	"github.com/kefu-gateway/kefu/internal/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// handoffMetrics are the handoff's collectors, on the shared registry.
type handoffMetrics struct {
	// requests counts handoff requests by queue and outcome (queued,
	// out_of_hours, no_agents, servicer, already, call_back).
	requests *prometheus.CounterVec
	// assignments counts conversations given to agents, by queue.
	assignments *prometheus.CounterVec
	// wait is how long customers waited for an agent, by queue.
	wait *prometheus.HistogramVec
	// ended counts handoffs leaving the active statuses, by new status.
	ended *prometheus.CounterVec
	// ratings counts CSAT ratings by score.
	ratings *prometheus.CounterVec
	errors  prometheus.Counter
}

func newMetrics(m *metrics.Metrics) *handoffMetrics {
	return &handoffMetrics{
		requests: register(m.Registry, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kefu_handoff_requests_total", Help: "Handoff requests, by queue and outcome.",
		}, []string{"queue", "outcome"})),
		assignments: register(m.Registry, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kefu_handoff_assignments_total", Help: "Conversations assigned to agents, by queue.",
		}, []string{"queue"})),
		wait: register(m.Registry, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kefu_handoff_wait_seconds", Help: "Time customers waited in a queue for an agent.",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800},
		}, []string{"queue"})),
		ended: register(m.Registry, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kefu_handoff_ended_total", Help: "Handoffs ended, by final status.",
		}, []string{"status"})),
		ratings: register(m.Registry, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kefu_handoff_csat_total", Help: "Customer satisfaction ratings, by score.",
		}, []string{"score"})),
		errors: m.Errors.WithLabelValues("handoff"),
	}
}

// register adds c to r, or returns the collector already registered under
// its name (a second Service on one registry shares the counters).
func register[C prometheus.Collector](r prometheus.Registerer, c C) C {
	if err := r.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic("handoff: registering metrics: " + err.Error())
	}
	return c
}
