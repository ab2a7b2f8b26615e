package llm

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics receives the client's measurements. Implementations must be safe
// for concurrent use. NopMetrics discards them; PrometheusMetrics exports
// them.
type Metrics interface {
	// ObserveRequest records one call (all its attempts) of op ("chat",
	// "stream", "embed", "classify") with its outcome ("ok", "timeout",
	// "rate_limited", "unavailable", "rejected", "malformed",
	// "circuit_open", "canceled") and duration.
	ObserveRequest(op, outcome string, d time.Duration)
	// AddTokens records token usage reported by the server.
	AddTokens(op string, prompt, completion int)
	// Fallback records a grounded answer the router must replace (offer a
	// human, say it does not know): reason is "no_answer" or an outcome.
	Fallback(reason string)
	// BreakerState records the circuit breaker's new state.
	BreakerState(state BreakerState)
}

// NopMetrics discards every measurement.
type NopMetrics struct{}

func (NopMetrics) ObserveRequest(string, string, time.Duration) {}
func (NopMetrics) AddTokens(string, int, int)                   {}
func (NopMetrics) Fallback(string)                              {}
func (NopMetrics) BreakerState(BreakerState)                    {}

var _ Metrics = NopMetrics{}

// PrometheusMetrics exports the client's measurements as Prometheus
// collectors. Register it once: registry.MustRegister(m).
type PrometheusMetrics struct {
	requests  *prometheus.HistogramVec
	tokens    *prometheus.CounterVec
	fallbacks *prometheus.CounterVec
	breaker   *prometheus.GaugeVec
}

var (
	_ Metrics              = (*PrometheusMetrics)(nil)
	_ prometheus.Collector = (*PrometheusMetrics)(nil)
)

// NewPrometheusMetrics returns collectors named <namespace>_llm_*:
// request_duration_seconds{op,outcome}, tokens_total{op,kind},
// fallbacks_total{reason} and breaker_state{state} (1 for the current one).
func NewPrometheusMetrics(namespace string) *PrometheusMetrics {
	m := &PrometheusMetrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "llm", Name: "request_duration_seconds",
			Help:    "Duration of LLM calls, all attempts included, by operation and outcome.",
			Buckets: []float64{.1, .25, .5, 1, 2, 3, 4, 5, 8, 13, 20, 30},
		}, []string{"op", "outcome"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "llm", Name: "tokens_total",
			Help: "Tokens reported by the LLM server, by operation and kind (prompt, completion).",
		}, []string{"op", "kind"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "llm", Name: "fallbacks_total",
			Help: "Grounded answers replaced by a fallback, by reason.",
		}, []string{"reason"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "llm", Name: "breaker_state",
			Help: "1 for the circuit breaker's current state.",
		}, []string{"state"}),
	}
	m.BreakerState(BreakerClosed)
	return m
}

func (m *PrometheusMetrics) ObserveRequest(op, outcome string, d time.Duration) {
	m.requests.WithLabelValues(op, outcome).Observe(d.Seconds())
}

func (m *PrometheusMetrics) AddTokens(op string, prompt, completion int) {
	if prompt > 0 {
		m.tokens.WithLabelValues(op, "prompt").Add(float64(prompt))
	}
	if completion > 0 {
		m.tokens.WithLabelValues(op, "completion").Add(float64(completion))
	}
}

func (m *PrometheusMetrics) Fallback(reason string) { m.fallbacks.WithLabelValues(reason).Inc() }

func (m *PrometheusMetrics) BreakerState(state BreakerState) {
	for _, s := range []BreakerState{BreakerClosed, BreakerOpen, BreakerHalfOpen} {
		v := 0.0
		if s == state {
			v = 1
		}
		m.breaker.WithLabelValues(string(s)).Set(v)
	}
}

// Describe implements prometheus.Collector.
func (m *PrometheusMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.requests.Describe(ch)
	m.tokens.Describe(ch)
	m.fallbacks.Describe(ch)
	m.breaker.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *PrometheusMetrics) Collect(ch chan<- prometheus.Metric) {
	m.requests.Collect(ch)
	m.tokens.Collect(ch)
	m.fallbacks.Collect(ch)
	m.breaker.Collect(ch)
}
