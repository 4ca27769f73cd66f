// Package policy is the ImageSharePolicy controller: it lists the images a
// policy's selector matches, keeps one child ImageShare per selected image
// (the ImageShare controller does the sharing), retires the children of
// images that leave the selection, publishes the newest image per region,
// and aggregates the children's status into the policy's.
package policy

import (
	"math/rand/v2"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
	"github.com/imageshare/imageshare-operator/internal/credentials"
)

// Finalizer holds a policy until its children are deleted (and so their
// shares cancelled), also where no garbage collector follows owner references.
const Finalizer = "cvm.imageshare.dev/policy"

// credentialsRetry is how often a policy without working credentials is retried.
const credentialsRetry = 30 * time.Second

// Options shape the policy controller.
type Options struct {
	// ResyncPeriod is how often each policy lists its images again (--resync-period).
	ResyncPeriod time.Duration
	// Credentials are the manager's own credential sources and which
	// namespaces may use them, shared with the ImageShare controller.
	Credentials credentials.Sources
	// MaxConcurrentReconciles is the number of workers.
	MaxConcurrentReconciles int
}

// Reconciler reconciles ImageSharePolicies.
type Reconciler struct {
	client.Client
	// APIReader reads Secrets and the published ConfigMap with direct GETs, so
	// the manager caches neither kind.
	APIReader client.Reader
	// Scheme is the manager's scheme, for owner references.
	Scheme *runtime.Scheme
	// Recorder emits an event when a child is created or retired.
	Recorder events.EventRecorder
	// Cloud makes a CVM client per set of credentials.
	Cloud cloud.Factory
	Options

	listings listings
}

// +kubebuilder:rbac:groups=cvm.imageshare.dev,resources=imagesharepolicies,verbs=get;list;watch;update
// +kubebuilder:rbac:groups=cvm.imageshare.dev,resources=imagesharepolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=cvm.imageshare.dev,resources=imagesharepolicies/finalizers,verbs=update
// +kubebuilder:rbac:groups=cvm.imageshare.dev,resources=imageshares,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;create;update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the controller: policies, and their children
// (Owns) so that a child's status change re-aggregates its policy.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.ResyncPeriod <= 0 {
		r.ResyncPeriod = 10 * time.Minute
	}
	return ctrl.NewControllerManagedBy(mgr).
		// Not on the policy's own status writes: each reconcile lists images in the cloud.
		For(&cvmv1alpha1.ImageSharePolicy{}, builder.WithPredicates(predicate.Or[client.Object](
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deleting))).
		Owns(&cvmv1alpha1.ImageShare{}).
		Named("imagesharepolicy").
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.MaxConcurrentReconciles, 1)}).
		Complete(r)
}

// deleting lets through the update that marks a policy for deletion.
var deleting = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	return e.ObjectNew.GetDeletionTimestamp() != nil
}}

// jitter spreads resyncs by up to a fifth of d so policies do not list together.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}
