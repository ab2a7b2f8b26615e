// Package metricstest reads back what code under test recorded in its
// Prometheus registry.
package metricstest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Sum is the sum of the counter and gauge samples of the metric family
// name in g that carry a label with the value labelValue (0 when there are
// none).
func Sum(tb testing.TB, g prometheus.Gatherer, name, labelValue string) float64 {
	tb.Helper()
	families, err := g.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == labelValue {
					sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
					break
				}
			}
		}
	}
	return sum
}
