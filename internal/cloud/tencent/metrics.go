package tencent

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// labelAction names the CVM API action, in metrics and in audit lines.
const labelAction = "action"

// The actions the adapter sends; each starts with a zero throttle count, so
// rate() and the alert on it work before the first throttle.
var knownActions = []string{"DescribeImages", "DescribeImageSharePermission", "DescribeRegions",
	actionModifyShare, actionSyncImages, actionDeleteImages}

var (
	apiCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "imageshare_cloud_api_calls_total",
		Help: "CVM API calls by action and result code (Success, or the error code; ClientError.RateLimited " +
			"and ClientError.EndpointDown are calls the client held back and never sent).",
	}, []string{labelAction, "code"})
	apiLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "imageshare_cloud_api_call_duration_seconds",
		Help:    "Latency of CVM API calls that reached the network, by action.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
	}, []string{labelAction})
	throttled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "imageshare_cloud_throttled_total",
		Help: "CVM API calls Tencent Cloud answered with RequestLimitExceeded, by action.",
	}, []string{labelAction})
	circuitOpen = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "imageshare_circuit_open",
		Help: "1 while the circuit breaker of a CVM endpoint is open (its last call got no answer), else 0.",
	}, []string{"endpoint"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(apiCalls, apiLatency, throttled, circuitOpen)
	for _, a := range knownActions {
		throttled.WithLabelValues(a)
	}
}

func observeCall(action, code string, d time.Duration) {
	apiCalls.WithLabelValues(action, code).Inc()
	if d > 0 {
		apiLatency.WithLabelValues(action).Observe(d.Seconds())
	}
}
