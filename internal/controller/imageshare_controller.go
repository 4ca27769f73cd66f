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
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// Finalizer holds an ImageShare until its shares are cancelled (deletionPolicy
// Delete): Tencent refuses to delete a shared image, so leaving shares behind
// would block the image owner later.
const Finalizer = "cvm.imageshare.dev/finalizer"

// imageIDField indexes ImageShares by image, to find every object of an image.
const imageIDField = "spec.imageId"

// Options are the manager flags of contract §4 that shape reconciliation.
type Options struct {
	// ShareLimit is the most accounts one image may be shared with (--share-limit).
	ShareLimit int
	// ResyncPeriod is how often the cloud is re-read for drift (--resync-period).
	ResyncPeriod time.Duration
	// Regions are searched when the image is not in spec.region (--regions).
	Regions []string
	// EnvCredentials are the manager's own TENCENTCLOUD_* credentials, used by
	// objects without a credentialsRef.
	EnvCredentials cloud.Credentials
	// MaxConcurrentReconciles is the number of workers (--max-concurrent-reconciles).
	MaxConcurrentReconciles int
}

// ImageShareReconciler reconciles ImageShare objects against the CVM API.
type ImageShareReconciler struct {
	client.Client
	// APIReader reads Secrets with a direct GET: no cluster-wide Secret cache
	// or watch, so the manager needs only `get` on Secrets.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  events.EventRecorder
	Cloud     cloud.Factory
	Options

	locks    *imageLocks
	cache    *imageCache
	bad      *badAccounts
	locating *locateProgress
	creds    *credentialMemo
	copies   *copyIndex
	siblings chan event.TypedGenericEvent[*cvmv1alpha1.ImageShare]
	now      func() time.Time
	// skipNameValidation lets tests start one manager per spec in one process.
	skipNameValidation bool
}

// +kubebuilder:rbac:groups=cvm.imageshare.dev,resources=imageshares,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=cvm.imageshare.dev,resources=imageshares/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=cvm.imageshare.dev,resources=imageshares/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one ImageShare's image in line with every ImageShare of
// that image, then writes this object's status, once, in a deferred patch.
func (r *ImageShareReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	log := logf.FromContext(ctx)
	obj := &cvmv1alpha1.ImageShare{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	deleting := !obj.DeletionTimestamp.IsZero()
	if deleting && !controllerutil.ContainsFinalizer(obj, Finalizer) {
		return ctrl.Result{}, nil
	}
	if !deleting && !controllerutil.ContainsFinalizer(obj, Finalizer) {
		base := obj.DeepCopy()
		controllerutil.AddFinalizer(obj, Finalizer)
		if err := r.Patch(ctx, obj, client.MergeFrom(base)); err != nil {
			return ctrl.Result{}, fmt.Errorf("add finalizer to %s: %w", req, err)
		}
	}

	unlock, ok := r.locks.tryLock(imageKey(obj))
	if !ok {
		// Another worker is on this image; its result may well serve us too.
		return ctrl.Result{RequeueAfter: jitter(250 * time.Millisecond)}, nil
	}
	defer unlock()

	base := obj.DeepCopy()
	var out outcome
	defer func() {
		if out.release {
			return
		}
		if out.reason == ReasonThrottled && settled(base) {
			// Waiting for a rate-limit slot to re-check a settled object says
			// nothing new about it: keep its status (Ready stays Ready across a
			// manager restart instead of flickering for every GitOps tool).
			return
		}
		r.writeStatus(obj, base, out)
		if !equality.Semantic.DeepEqual(base.Status, obj.Status) {
			if err := r.Status().Patch(ctx, obj, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
				retErr = errors.Join(retErr, fmt.Errorf("patch status of %s: %w", req, err))
				return
			}
		}
		if out.settledIntent {
			retErr = errors.Join(retErr, client.IgnoreNotFound(r.clearIntent(ctx, obj)))
		}
	}()

	out = r.sync(ctx, obj)
	if out.release {
		base := obj.DeepCopy()
		controllerutil.RemoveFinalizer(obj, Finalizer)
		if err := r.Patch(ctx, obj, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("remove finalizer from %s: %w", req, err)
		}
		forgetMetrics(obj)
		log.Info("Released ImageShare", "image", obj.Spec.ImageID, "policy", obj.Spec.DeletionPolicy)
		return ctrl.Result{}, nil
	}
	if out.err != nil {
		log.Info("Reconcile did not finish, will retry", "reason", out.reason, "error", out.err.Error())
		return ctrl.Result{}, out.err
	}
	log.V(1).Info("Reconciled ImageShare", "reason", out.reason, "requeueAfter", out.requeueAfter)
	return ctrl.Result{RequeueAfter: out.requeueAfter}, nil
}

// SetupWithManager sets up the controller with the Manager.
func (r *ImageShareReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.locks = newImageLocks()
	r.cache = newImageCache()
	r.bad = newBadAccounts()
	r.locating = newLocateProgress()
	r.creds = newCredentialMemo()
	r.copies = newCopyIndex()
	r.siblings = make(chan event.TypedGenericEvent[*cvmv1alpha1.ImageShare], 4096)
	if r.now == nil {
		r.now = time.Now
	}
	if r.ShareLimit <= 0 {
		r.ShareLimit = 50
	}
	if r.ResyncPeriod <= 0 {
		r.ResyncPeriod = 10 * time.Minute
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &cvmv1alpha1.ImageShare{}, imageIDField,
		func(o client.Object) []string { return []string{o.(*cvmv1alpha1.ImageShare).Spec.ImageID} }); err != nil {
		return fmt.Errorf("index ImageShares by image: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		// Status-only updates are our own writes; reacting to them would loop.
		For(&cvmv1alpha1.ImageShare{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{},
			predicate.LabelChangedPredicate{}, deletionPredicate{}))).
		WatchesRawSource(source.Channel(r.siblings, &handler.TypedEnqueueRequestForObject[*cvmv1alpha1.ImageShare]{})).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: max(r.MaxConcurrentReconciles, 1),
			SkipNameValidation:      &r.skipNameValidation,
			// Retryable cloud errors back off from 1s to 5m, so an outage costs
			// a bounded trickle of calls rather than a hot loop.
			RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](
				time.Second, 5*time.Minute),
		}).
		Named("imageshare").
		Complete(r)
}

// deletionPredicate lets through the update that sets a deletion timestamp
// (it changes no generation when finalizers are present).
type deletionPredicate struct{ predicate.Funcs }

func (deletionPredicate) Update(e event.UpdateEvent) bool {
	return e.ObjectOld.GetDeletionTimestamp().IsZero() && !e.ObjectNew.GetDeletionTimestamp().IsZero()
}

// notify requeues the other ImageShares of an image after this manager
// changed the image, so their status follows without a cloud call of their own.
func (r *ImageShareReconciler) notify(objs []*cvmv1alpha1.ImageShare, self *cvmv1alpha1.ImageShare) {
	for _, o := range objs {
		if o.UID == self.UID {
			continue
		}
		select {
		case r.siblings <- event.TypedGenericEvent[*cvmv1alpha1.ImageShare]{Object: o}:
		default:
			// The queue is full of work already; the resync period catches up.
		}
	}
}

func imageKey(o *cvmv1alpha1.ImageShare) string { return o.Spec.Region + "/" + o.Spec.ImageID }

// jitter spreads requeues by up to +20%, so objects created together do not
// resync together forever.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}
