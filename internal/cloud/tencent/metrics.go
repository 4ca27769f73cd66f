package tencent

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	apiCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "imageshare_cloud_api_calls_total",
		Help: "CVM API calls by action and result code (Success, or the error code).",
	}, []string{"action", "code"})
	apiLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "imageshare_cloud_api_call_duration_seconds",
		Help:    "Latency of CVM API calls that reached the network, by action.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
	}, []string{"action"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(apiCalls, apiLatency)
}

func observeCall(action, code string, d time.Duration) {
	apiCalls.WithLabelValues(action, code).Inc()
	if d > 0 {
		apiLatency.WithLabelValues(action).Observe(d.Seconds())
	}
}
