package dingtalk

import "github.com/prometheus/client_golang/prometheus"

// streamMetrics report the stream connections' health.
type streamMetrics struct {
	// connected is 1 while an account's stream connection is open.
	connected *prometheus.GaugeVec
	// reconnects counts connections lost or failed and retried.
	reconnects *prometheus.CounterVec
}

func newStreamMetrics(r *prometheus.Registry) *streamMetrics {
	m := &streamMetrics{
		connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kefu_dingtalk_stream_connected",
			Help: "1 while the DingTalk stream connection of an account is open, else 0.",
		}, []string{"account"}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kefu_dingtalk_stream_reconnects_total",
			Help: "DingTalk stream connections lost or failed and retried, by account.",
		}, []string{"account"}),
	}
	m.connected = register(r, m.connected)
	m.reconnects = register(r, m.reconnects)
	return m
}

// register registers c, or returns the collector already registered under
// its name (a registry shared by several builds in tests).
func register[C prometheus.Collector](r *prometheus.Registry, c C) C {
	if err := r.Register(c); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

func (m *streamMetrics) setConnected(account string, up bool) {
	if m == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	m.connected.WithLabelValues(account).Set(v)
}

func (m *streamMetrics) reconnect(account string) {
	if m != nil {
		m.reconnects.WithLabelValues(account).Inc()
	}
}
