package controller

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
)

// Metric names, for docs/observability.md, the dashboard and the alerts.
const (
	metricObjects         = "imageshare_objects"
	metricSharedAccounts  = "imageshare_shared_accounts_total"
	metricMissingAccounts = "imageshare_missing_accounts"
)

var reconcileDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
	Name:    "imageshare_reconcile_duration_seconds",
	Help:    "Time one reconcile of an image (all its ImageShares, cloud calls included) took.",
	Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
})

func init() { ctrlmetrics.Registry.MustRegister(reconcileDuration) }

// observeReconcile records a reconcile that started at start; deferred at
// the top of Reconcile.
func observeReconcile(start time.Time) { reconcileDuration.Observe(time.Since(start).Seconds()) }

// readyReasons are the Ready reasons exported even when no object has them,
// so that a dashboard shows 0 rather than no data.
var readyReasons = cvmv1alpha1.ReadyReasons

// objectsCollector counts ImageShares at scrape time from the manager's
// cache: one series per Ready reason and two totals, never one per object,
// and nothing to keep in step when objects come and go. Only the leader
// exports them, so that summing over replicas counts each object once.
type objectsCollector struct {
	reader  client.Reader
	elected <-chan struct{}
	timeout time.Duration

	objects, shared, missing *prometheus.Desc
}

// NewObjectsCollector returns the collector of imageshare_objects{reason},
// imageshare_shared_accounts_total and imageshare_missing_accounts
// over the ImageShares reader lists (the manager's cache). elected is closed
// once this replica leads (ctrl.Manager.Elected); until then it exports nothing.
func NewObjectsCollector(reader client.Reader, elected <-chan struct{}) prometheus.Collector {
	return &objectsCollector{reader: reader, elected: elected, timeout: 10 * time.Second,
		objects: prometheus.NewDesc(metricObjects,
			"ImageShares by the reason of their Ready condition (Progressing when they have none yet).",
			[]string{"reason"}, nil),
		shared: prometheus.NewDesc(metricSharedAccounts,
			"Listed accounts the cloud confirms shared (status.sharedAccountIds), summed over ImageShares.", nil, nil),
		missing: prometheus.NewDesc(metricMissingAccounts,
			"Listed accounts not shared yet (status.missingAccountIds), summed over ImageShares: 0 when converged.",
			nil, nil),
	}
}

// RegisterMetrics registers the ImageShare object metrics of mgr's cache
// with controller-runtime's registry, served on the manager's /metrics.
func RegisterMetrics(mgr ctrl.Manager) error {
	if err := ctrlmetrics.Registry.Register(NewObjectsCollector(mgr.GetCache(), mgr.Elected())); err != nil {
		return fmt.Errorf("register the ImageShare object metrics: %w", err)
	}
	return nil
}

// Describe implements prometheus.Collector.
func (c *objectsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.objects
	ch <- c.shared
	ch <- c.missing
}

// Collect implements prometheus.Collector.
func (c *objectsCollector) Collect(ch chan<- prometheus.Metric) {
	select {
	case <-c.elected:
	default:
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	var list cvmv1alpha1.ImageShareList
	// Read-only: the cache's own objects, without a deep copy of each.
	if err := c.reader.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		// A failed scrape of these would fail every metric: leave them out.
		logf.Log.WithName("metrics").Error(err, "Could not list ImageShares for the object metrics")
		return
	}
	byReason := make(map[string]int, len(readyReasons))
	for _, r := range readyReasons {
		byReason[r] = 0
	}
	var shared, missing int
	for i := range list.Items {
		st := &list.Items[i].Status
		reason := cvmv1alpha1.ReasonProgressing
		if ready := meta.FindStatusCondition(st.Conditions, cvmv1alpha1.ConditionReady); ready != nil &&
			ready.Reason != "" {
			reason = ready.Reason
		}
		byReason[reason]++
		shared += len(st.SharedAccountIDs)
		missing += len(st.MissingAccountIDs)
	}
	for r, n := range byReason {
		ch <- prometheus.MustNewConstMetric(c.objects, prometheus.GaugeValue, float64(n), r)
	}
	ch <- prometheus.MustNewConstMetric(c.shared, prometheus.GaugeValue, float64(shared))
	ch <- prometheus.MustNewConstMetric(c.missing, prometheus.GaugeValue, float64(missing))
}

// withImageShares names, in ctx's logger, the ImageShares a cloud call is
// for: the Tencent adapter's audit line of every SHARE, CANCEL, copy and
// delete carries them.
func withImageShares(ctx context.Context, members ...*member) context.Context {
	names := make([]string, 0, len(members))
	for _, m := range members {
		names = append(names, m.name())
	}
	slices.Sort(names)
	return logf.IntoContext(ctx, logf.FromContext(ctx).WithValues("imageShares", slices.Compact(names)))
}

// seatMembers are the ImageShares of seats.
func seatMembers(seats []*seat) []*member {
	out := make([]*member, 0, len(seats))
	for _, s := range seats {
		out = append(out, s.m)
	}
	return out
}

// wantingMembers are the ImageShares that want a copy in any of regions.
func wantingMembers(regions []*copyRegion) []*member {
	var out []*member
	for _, c := range regions {
		out = append(out, c.wanting...)
	}
	return out
}
