/*
Copyright 2026.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package controller

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
	"github.com/imageshare/imageshare-operator/internal/credentials"
)

// Finalizer holds an ImageShare until its shares are cancelled (deletionPolicy
// Delete): Tencent refuses to delete a shared image, so leaving shares behind
// would block the image owner later.
const Finalizer = "cvm.imageshare.dev/finalizer"

// Index fields of the ImageShare cache.
const (
	// imageKeyField indexes ImageShares by region/imageId: the unit of work.
	imageKeyField = "spec.imageKey"
	// copyKeyField indexes ImageShares by region/imageId of every copy their
	// status records, so an ImageShare of a copy is planned with the copy's maintainer.
	copyKeyField = "status.copyKeys"
	// credentialField indexes ImageShares by credentialKey: namespace/name of
	// their credentials Secret, or "env" for the manager's own.
	credentialField = "credentialKey"
	// holdingField indexes the ImageShares that hold their credentials
	// Secret (namespace/name): not released, and managing something in the
	// cloud its keys must be able to undo.
	holdingField = "holdsSecret"
)

// Options are the manager flags of contract §4 that shape reconciliation.
type Options struct {
	// ShareLimit is the most accounts one image may be shared with (--share-limit).
	ShareLimit int
	// ResyncPeriod is how often the cloud is re-read for drift (--resync-period).
	ResyncPeriod time.Duration
	// Regions are searched when the image is not in spec.region (--regions).
	Regions []string
	// Credentials are the manager's own credential sources and which
	// namespaces may use them, besides each object's credentialsRef.
	Credentials credentials.Sources
	// MaxConcurrentReconciles is the number of workers (--max-concurrent-reconciles).
	MaxConcurrentReconciles int
}

// ImageShareReconciler reconciles images: one workqueue key per region/imageId,
// so all ImageShares of an image are planned together and the workqueue (which
// never runs one key on two workers) serializes every change to the image.
type ImageShareReconciler struct {
	client.Client
	// APIReader reads Secrets with a direct GET: no cluster-wide Secret cache
	// or watch, so the manager needs only `get` (and `update` for the in-use
	// finalizer) on Secrets.
	APIReader client.Reader
	// Scheme is the manager's scheme.
	Scheme *runtime.Scheme
	// Recorder emits the events of contract §3 (something happened, never a no-op).
	Recorder events.EventRecorder
	// Cloud makes a CVM client per set of credentials.
	Cloud cloud.Factory
	Options

	reads    *readCache
	rejected *rejectedKeys
	bursts   *bursts
	now      func() time.Time
	// skipNameValidation lets tests start one manager per spec in one process.
	skipNameValidation bool
}

// +kubebuilder:rbac:groups=cvm.imageshare.dev,resources=imageshares,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=cvm.imageshare.dev,resources=imageshares/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=cvm.imageshare.dev,resources=imageshares/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;update
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one image (req is region/imageId) in line with every
// ImageShare of it: observe, plan and act once per cloud identity, then judge
// each member and write its status in one patch.
func (r *ImageShareReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	defer observeReconcile(time.Now())
	if ns, ok := strings.CutPrefix(req.Namespace, secretKeyPrefix); ok {
		return ctrl.Result{}, r.reconcileSecret(ctx, types.NamespacedName{Namespace: ns, Name: req.Name})
	}
	if wait := r.bursts.wait(req); wait > 0 {
		return ctrl.Result{RequeueAfter: wait, Priority: new(0)}, nil // its ImageShares are still changing: plan them once
	}
	key := imageKey{Region: req.Namespace, ImageID: req.Name}
	ctx = logf.IntoContext(ctx, logf.FromContext(ctx).WithValues("image", key.ImageID, "region", key.Region))
	w, err := r.load(ctx, key)
	if err != nil {
		return ctrl.Result{}, err
	}
	if w.redirect != nil {
		// The image is a copy another ImageShare maintains: its reconcile plans it.
		return ctrl.Result{}, nil
	}
	if len(w.members) == 0 {
		r.reads.forgetImage(key)
		return ctrl.Result{}, nil
	}
	for _, g := range w.groups() {
		r.reconcileGroup(ctx, key, g)
	}
	return r.finish(ctx, w)
}

// SetupWithManager sets up the controller with the Manager.
func (r *ImageShareReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.reads = newReadCache(maxCachedImages)
	r.rejected = newRejectedKeys()
	if r.now == nil {
		r.now = time.Now
	}
	r.bursts = newBursts(r.now)
	if r.ShareLimit <= 0 {
		r.ShareLimit = 50
	}
	if r.ResyncPeriod <= 0 {
		r.ResyncPeriod = 10 * time.Minute
	}
	idx := mgr.GetFieldIndexer()
	ctx := context.Background()
	if err := idx.IndexField(ctx, &cvmv1alpha1.ImageShare{}, imageKeyField, func(o client.Object) []string {
		return []string{keyOf(o.(*cvmv1alpha1.ImageShare)).String()}
	}); err != nil {
		return fmt.Errorf("index ImageShares by image: %w", err)
	}
	if err := idx.IndexField(ctx, &cvmv1alpha1.ImageShare{}, copyKeyField, func(o client.Object) []string {
		return copyKeys(o.(*cvmv1alpha1.ImageShare))
	}); err != nil {
		return fmt.Errorf("index ImageShares by copy: %w", err)
	}
	if err := idx.IndexField(ctx, &cvmv1alpha1.ImageShare{}, credentialField, func(o client.Object) []string {
		return []string{credentialKey(o.(*cvmv1alpha1.ImageShare))}
	}); err != nil {
		return fmt.Errorf("index ImageShares by Secret: %w", err)
	}
	if err := idx.IndexField(ctx, &cvmv1alpha1.ImageShare{}, holdingField, func(o client.Object) []string {
		return holdsSecret(o.(*cvmv1alpha1.ImageShare))
	}); err != nil {
		return fmt.Errorf("index ImageShares by the Secret they hold: %w", err)
	}
	if err := idx.IndexField(ctx, &cvmv1alpha1.ImageShare{}, configMapField, func(o client.Object) []string {
		return configMapsOf(o.(*cvmv1alpha1.ImageShare))
	}); err != nil {
		return fmt.Errorf("index ImageShares by ConfigMap: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("imageshare").
		Watches(&cvmv1alpha1.ImageShare{}, coalescing(r.imagesOf, r.bursts),
			builder.WithPredicates(changePredicate{})).
		// Only the metadata of ConfigMaps is cached (no cluster-wide cache of
		// their data): an edit of one that spec.accountsFrom names re-plans its
		// ImageShares, which read it with a direct GET.
		WatchesMetadata(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.imagesOfConfigMap)).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: max(r.MaxConcurrentReconciles, 1),
			SkipNameValidation:      &r.skipNameValidation,
			// Retryable cloud errors back off from 1s to 5m, so an outage costs
			// a bounded trickle of calls rather than a hot loop.
			RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](
				time.Second, 5*time.Minute),
		}).
		Complete(r)
}

// jitter spreads requeues by up to +20%, so objects created together do not
// resync together forever.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}
