package version

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// MetricName is the name of the build information gauge.
const MetricName = "imageshare_build_info"

// NewCollector returns the gauge imageshare_build_info{version,revision,goversion},
// always 1, the Prometheus convention for exporting a build's identity so that
// dashboards and alerts can join on it or spot a mixed rollout.
func NewCollector(info Info) prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: MetricName,
		Help: "Build information of the manager: release version, source revision and Go version; always 1.",
	}, []string{"version", "revision", "goversion"})
	g.WithLabelValues(info.Version, info.Revision, info.GoVersion).Set(1)
	return g
}

// Register adds imageshare_build_info for the running binary to reg, which for
// the manager is controller-runtime's metrics registry (served on /metrics).
func Register(reg prometheus.Registerer) error {
	if err := reg.Register(NewCollector(Get())); err != nil {
		return fmt.Errorf("register %s: %w", MetricName, err)
	}
	return nil
}
