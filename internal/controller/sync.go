package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
	"github.com/imageshare/imageshare-operator/internal/planner"
)

const (
	// freshWindow is how old a cached read may be for a reconcile that must
	// re-read the cloud (a spec change, a deletion): younger than this, the
	// read was made for a sibling a moment ago under the same image lock.
	freshWindow = 2 * time.Second
	// busyImageRetry is how soon a busy image (SYNCING, CREATING) is looked at again.
	busyImageRetry = 10 * time.Second
	// maxIDsPerCall is the most accounts one ModifyImageSharePermission takes.
	maxIDsPerCall = 100
	// maxShareCalls bounds the calls one reconcile may spend splitting a SHARE
	// around bad accounts; the rest waits for the next reconcile.
	maxShareCalls = 12
)

// outcome is everything a reconcile decided; writeStatus turns it into status.
type outcome struct {
	ready        metav1.ConditionStatus
	reason       string
	message      string
	stalled      bool
	requeueAfter time.Duration
	err          error // retryable: returned to the workqueue for backoff

	release bool // the finalizer may go: the object is done with the cloud

	image    *imageInfo
	syncedAt time.Time
	view     *planner.View
	failed   []cvmv1alpha1.FailedAccount

	regions    []cvmv1alpha1.RegionStatus
	regionsSet bool

	// settledIntent: the status now records every pending share's outcome.
	settledIntent bool
}

func progressing(reason, msg string) outcome {
	return outcome{ready: metav1.ConditionFalse, reason: reason, message: msg}
}

func (r *ImageShareReconciler) stalledOutcome(reason, msg string) outcome {
	return outcome{ready: metav1.ConditionFalse, reason: reason, message: msg, stalled: true,
		requeueAfter: jitter(r.ResyncPeriod)}
}

// cloudFailure turns a failed call into an outcome: terminal errors stall,
// retryable ones requeue (throttling at the moment the budget allows).
func (r *ImageShareReconciler) cloudFailure(obj *cvmv1alpha1.ImageShare, err error) outcome {
	ce := cloud.AsError(err)
	reason := cloud.ReasonOf(err)
	code := "network error"
	if ce != nil {
		code = ce.Code
	}
	switch reason {
	case cloud.ReasonThrottled:
		o := progressing(ReasonThrottled, fmt.Sprintf("Rate limited (%s): retrying", code))
		o.ready = metav1.ConditionUnknown
		o.requeueAfter = jitter(time.Second)
		if ce != nil && ce.RetryAfter > 0 {
			o.requeueAfter = jitter(ce.RetryAfter)
		}
		return o
	case cloud.ReasonImageNotReady:
		o := progressing(ReasonImageNotReady, fmt.Sprintf("Image %s is not ready for sharing (%s): waiting",
			obj.Spec.ImageID, code))
		o.requeueAfter = jitter(busyImageRetry)
		return o
	case cloud.ReasonCredentialsInvalid:
		o := r.stalledOutcome(ReasonCredentialsInvalid, fmt.Sprintf(
			"Tencent Cloud rejected the credentials (%s): fix %s", code, credentialSource(obj)))
		o.requeueAfter = jitter(credentialsRetry)
		return o
	case cloud.ReasonRegionMismatch:
		return r.stalledOutcome(ReasonRegionMismatch, fmt.Sprintf(
			"Region %s is not valid for this account (%s): set spec.region to the image's region",
			obj.Spec.Region, code))
	case cloud.ReasonImageNotFound:
		return r.stalledOutcome(ReasonImageNotFound, fmt.Sprintf(
			"Image %s was not found in %s (%s): check spec.imageId", obj.Spec.ImageID, obj.Spec.Region, code))
	case cloud.ReasonImageNotShareable:
		return r.stalledOutcome(ReasonImageNotShareable, fmt.Sprintf(
			"Image %s cannot be shared by this account (%s): only custom images you own can be shared",
			obj.Spec.ImageID, code))
	default:
		// CloudError, and anything unexpected: retried with backoff.
		o := progressing(ReasonCloudError, fmt.Sprintf("CVM API call failed (%s): retrying", code))
		o.ready = metav1.ConditionUnknown
		o.err = err
		return o
	}
}

// sync does the cloud work for obj's image and returns what obj should report.
func (r *ImageShareReconciler) sync(ctx context.Context, obj *cvmv1alpha1.ImageShare) outcome {
	now := r.now()
	key := imageKey(obj)
	deleting := !obj.DeletionTimestamp.IsZero()
	if deleting && (obj.Spec.Mode == cvmv1alpha1.ModeObserve || obj.Spec.DeletionPolicy == cvmv1alpha1.DeletionPolicyOrphan) {
		return outcome{release: true}
	}

	creds, stalled := r.credentials(ctx, obj)
	if stalled != nil {
		return *stalled
	}
	cl, err := r.Cloud.ClientFor(creds)
	if err != nil {
		return r.stalledOutcome(ReasonCredentialsInvalid, fmt.Sprintf("Credentials are unusable: fix %s",
			credentialSource(obj)))
	}
	ctx, metaAge, sharesAge := r.freshness(ctx, obj)
	resyncAge := r.ResyncPeriod * 9 / 10
	info, metaCached, stop := r.checkImage(ctx, cl, obj, creds, metaAge, now)
	if stop != nil {
		return *stop
	}
	entry, cached := r.cache.getShares(key, obj.UID, obj.Generation, sharesAge, resyncAge, now)
	if !cached {
		list, err := cl.ListShares(ctx, obj.Spec.Region, obj.Spec.ImageID)
		if err != nil {
			return r.readFailure(obj, creds, err, metaCached)
		}
		entry = shareEntry{shares: list, fetched: now}
		r.cache.putShares(key, entry)
	}
	cached = cached || metaCached
	out := outcome{image: &info, syncedAt: entry.fetched}

	objs, members, err := r.members(ctx, obj, now)
	if err != nil {
		o := progressing(ReasonProgressing, "Listing the other ImageShares of the image failed: retrying")
		o.err = err
		return o
	}
	plan := planner.Compute(planner.Input{Shared: entry.shares, Members: members, Limit: r.ShareLimit})
	res, stop := r.apply(ctx, cl, obj, objs, plan, entry.shares)
	if stop != nil {
		return *stop
	}
	covers := make(map[types.UID]int64, len(objs))
	for _, o := range objs {
		covers[o.UID] = o.Generation
	}
	r.cache.planned(key, res.sharedAfter, covers)
	if res.changed() {
		r.recordEvents(objs, res)
		r.notify(objs, obj)
	}
	if res.err != nil && cloud.IsTerminal(res.err) {
		r.cache.forget(key)
		if deleting && cloud.ReasonOf(res.err) == cloud.ReasonImageNotFound {
			// The image is gone, and its shares with it.
			return outcome{release: true}
		}
		if cached {
			// The verdict rests on a cached read: look again before stalling.
			o := progressing(ReasonProgressing, "The image changed since it was last read: reading it again")
			o.requeueAfter = jitter(time.Second)
			return o
		}
	}

	self := memberFor(members, obj)
	if deleting {
		return r.finishDeletion(ctx, cl, obj, objs, plan, res, now)
	}

	view, failed := r.project(self, key, plan, res, now)
	out.view, out.failed = &view, failed
	decided := r.decide(obj, self, plan, view, out.failed, res, entry.shares)
	decided.image, decided.syncedAt, decided.view, decided.failed = out.image, out.syncedAt, out.view, out.failed
	if res.changed() {
		decided.syncedAt = now
	}
	if res.err != nil {
		failure := r.cloudFailure(obj, res.err)
		decided.ready, decided.reason, decided.message = failure.ready, failure.reason, failure.message
		decided.stalled, decided.requeueAfter, decided.err = failure.stalled, failure.requeueAfter, failure.err
		return decided
	}
	decided.settledIntent = true
	if len(obj.Spec.ReplicaRegions) > 0 || len(obj.Status.Regions) > 0 {
		decided = r.mergeReplicas(decided, r.syncReplicas(ctx, cl, obj, objs, now))
	}
	return decided
}

// freshness says how old a cached read may be for this reconcile, and marks
// the re-check of a settled object as background work. A resync accepts what
// was read this period; a spec change needs a share list read for it (or a
// plan that already covered it); a deletion reads fresh.
func (r *ImageShareReconciler) freshness(ctx context.Context, obj *cvmv1alpha1.ImageShare) (context.Context,
	time.Duration, time.Duration) {
	deleting := !obj.DeletionTimestamp.IsZero()
	specChanged := obj.Status.ObservedGeneration != obj.Generation
	if specChanged {
		// A new spec is a new chance for accounts that failed before.
		r.bad.forget(imageKey(obj), obj.Spec.AccountIDs)
	}
	resyncAge := r.ResyncPeriod * 9 / 10
	switch {
	case deleting:
		return ctx, freshWindow, freshWindow
	case specChanged:
		return ctx, resyncAge, freshWindow
	case settled(obj):
		// Re-checking a settled object yields the rate budget to work pending.
		return cloud.WithLowPriority(ctx), resyncAge, resyncAge
	}
	return ctx, resyncAge, resyncAge
}

// apply records on each ImageShare what it is about to be shared, then runs
// the plan.
func (r *ImageShareReconciler) apply(ctx context.Context, cl cloud.Client, obj *cvmv1alpha1.ImageShare,
	objs []*cvmv1alpha1.ImageShare, plan planner.Plan, shares []string) (execResult, *outcome) {
	if len(plan.Share) > 0 {
		if err := r.recordIntent(ctx, objs, plan.Share); err != nil {
			o := progressing(ReasonProgressing, "Recording the accounts about to be shared failed: retrying")
			o.err = err
			return execResult{}, &o
		}
	}
	return r.execute(ctx, cl, obj.Spec.Region, obj.Spec.ImageID, plan, shares), nil
}

// finishDeletion releases the object once its shares, and its copies'
// shares, are cancelled.
func (r *ImageShareReconciler) finishDeletion(ctx context.Context, cl cloud.Client, obj *cvmv1alpha1.ImageShare,
	objs []*cvmv1alpha1.ImageShare, plan planner.Plan, res execResult, now time.Time) outcome {
	if res.err == nil && !slices.ContainsFunc(plan.Cancel, func(a string) bool {
		return slices.Contains(res.sharedAfter, a)
	}) {
		if len(obj.Status.Regions) == 0 {
			return outcome{release: true}
		}
		// Copies first: their shares go before the object does.
		rr := r.syncReplicas(ctx, cl, obj, objs, now)
		if rr.done && rr.err == nil {
			return outcome{release: true}
		}
		o := progressing(ReasonProgressing, fmt.Sprintf("Cancelling shares of copies before deletion: %s",
			regionMessages(rr, rr.pending)))
		o.regions, o.regionsSet, o.err, o.requeueAfter = rr.regions, true, rr.err, jitter(time.Second)
		return o
	}
	if res.err != nil {
		return r.cloudFailure(obj, res.err)
	}
	return progressing(ReasonProgressing, "Cancelling shares before deletion")
}

// checkImage reads (or recalls) the image and says whether it can be shared now.
func (r *ImageShareReconciler) checkImage(ctx context.Context, cl cloud.Client, obj *cvmv1alpha1.ImageShare,
	creds cloud.Credentials, metaAge time.Duration, now time.Time) (imageInfo, bool, *outcome) {
	key := imageKey(obj)
	deleting := !obj.DeletionTimestamp.IsZero()
	stop := func(o outcome) (imageInfo, bool, *outcome) { return imageInfo{}, false, &o }
	if !deleting && r.locating.active(obj) {
		// A search for a misplaced image is under way: the home region was just
		// found empty, so go on searching instead of spending a call on it again.
		return stop(r.locate(ctx, cl, obj))
	}
	cached, metaCached := r.cache.getMeta(key, metaAge, now)
	if !metaCached {
		var o *outcome
		cached, o = r.readMeta(ctx, cl, obj, now)
		if o != nil {
			if o.reason == ReasonCredentialsInvalid {
				r.creds.reject(obj.UID, creds)
			}
			return imageInfo{}, false, o
		}
		r.creds.forget(obj.UID)
	}
	img := cached.image
	info := imageInfo{Name: img.Name, State: img.State}
	if why := notShareable(img); why != "" {
		if deleting {
			return stop(outcome{release: true})
		}
		o := r.stalledOutcome(ReasonImageNotShareable, fmt.Sprintf("Image %s %s and cannot be shared: %s",
			img.ID, why, remedyNotShareable(img)))
		o.image, o.syncedAt = &info, cached.fetched
		return stop(o)
	}
	if img.State != cloud.ImageStateNormal {
		o := progressing(ReasonImageNotReady, fmt.Sprintf("Image %s is %s: waiting for NORMAL",
			obj.Spec.ImageID, img.State))
		o.image, o.syncedAt, o.requeueAfter = &info, cached.fetched, jitter(busyImageRetry)
		r.cache.forget(key)
		return stop(o)
	}
	return info, metaCached, nil
}

// readMeta describes obj's image, and with it up to 99 other images that
// ImageShares with the same credentials need in the same region: DescribeImages
// takes 100 IDs a call, so a thousand objects cost ten calls, not a thousand.
func (r *ImageShareReconciler) readMeta(ctx context.Context, cl cloud.Client, obj *cvmv1alpha1.ImageShare,
	now time.Time) (metaEntry, *outcome) {
	deleting := !obj.DeletionTimestamp.IsZero()
	ids := append([]string{obj.Spec.ImageID}, r.peers(ctx, obj, now)...)
	images, err := cl.DescribeImages(ctx, obj.Spec.Region, ids)
	if err != nil {
		o := r.cloudFailure(obj, err)
		if deleting && cloud.ReasonOf(err) == cloud.ReasonRegionMismatch {
			o = outcome{release: true}
		}
		return metaEntry{}, &o
	}
	for id, img := range images {
		r.cache.putMeta(obj.Spec.Region+"/"+id, metaEntry{image: img, fetched: now})
	}
	img, found := images[obj.Spec.ImageID]
	if !found {
		r.cache.forget(imageKey(obj))
		if deleting {
			// An image that no longer exists has no shares to cancel.
			return metaEntry{}, &outcome{release: true}
		}
		o := r.locate(ctx, cl, obj)
		return metaEntry{}, &o
	}
	r.locating.done(obj)
	return metaEntry{image: img, fetched: now}, nil
}

// peers lists the other images, in obj's region and under obj's credentials,
// whose metadata is not cached: candidates to describe in the same call.
func (r *ImageShareReconciler) peers(ctx context.Context, obj *cvmv1alpha1.ImageShare, now time.Time) []string {
	var list cvmv1alpha1.ImageShareList
	if err := r.List(ctx, &list); err != nil {
		return nil
	}
	seen := map[string]bool{obj.Spec.ImageID: true}
	var ids []string
	for i := range list.Items {
		o := &list.Items[i]
		if len(ids) == maxIDsPerCall-1 {
			break
		}
		if seen[o.Spec.ImageID] || o.Spec.Region != obj.Spec.Region || credentialKey(o) != credentialKey(obj) {
			continue
		}
		seen[o.Spec.ImageID] = true
		if _, fresh := r.cache.getMeta(imageKey(o), r.ResyncPeriod/2, now); !fresh {
			ids = append(ids, o.Spec.ImageID)
		}
	}
	return ids
}

// credentialKey groups objects that certainly use the same credentials.
func credentialKey(o *cvmv1alpha1.ImageShare) string {
	if o.Spec.CredentialsRef == nil {
		return "env"
	}
	return o.Namespace + "/" + o.Spec.CredentialsRef.Name
}

// readFailure handles a failed share-list read.
func (r *ImageShareReconciler) readFailure(obj *cvmv1alpha1.ImageShare, creds cloud.Credentials, err error,
	metaCached bool) outcome {
	reason := cloud.ReasonOf(err)
	switch {
	case reason == cloud.ReasonCredentialsInvalid:
		r.creds.reject(obj.UID, creds)
	case reason == cloud.ReasonImageNotFound && !obj.DeletionTimestamp.IsZero():
		return outcome{release: true}
	case cloud.IsTerminal(err) && metaCached:
		// The image may have changed since it was described: look again first.
		r.cache.forget(imageKey(obj))
		o := progressing(ReasonProgressing, "The image changed since it was last read: reading it again")
		o.requeueAfter = jitter(time.Second)
		return o
	}
	return r.cloudFailure(obj, err)
}

// notShareable says why Tencent would refuse to share img, or "".
func notShareable(img cloud.Image) string {
	switch {
	case img.Type == cloud.ImageTypeShared:
		return "is shared to this account by its owner (SHARED_IMAGE)"
	case img.Type != "" && img.Type != cloud.ImageTypePrivate:
		return fmt.Sprintf("is not a custom image (%s)", img.Type)
	case img.LicenseType == cloud.LicenseTypeBYOL:
		return "is a bring-your-own-license (BYOL) image"
	case img.Encrypted:
		return "is encrypted"
	}
	return ""
}

func remedyNotShareable(img cloud.Image) string {
	if img.Type == cloud.ImageTypeShared {
		return "ask its owner to share it with the accounts instead"
	}
	return "share a custom image built without it instead"
}

// members lists every ImageShare of obj's image (any namespace: the limit is
// the image's, not the namespace's) as planner members.
func (r *ImageShareReconciler) members(ctx context.Context, obj *cvmv1alpha1.ImageShare,
	now time.Time) ([]*cvmv1alpha1.ImageShare, []planner.Member, error) {
	var list cvmv1alpha1.ImageShareList
	if err := r.List(ctx, &list, client.MatchingFields{imageIDField: obj.Spec.ImageID}); err != nil {
		return nil, nil, fmt.Errorf("list ImageShares of image %s: %w", obj.Spec.ImageID, err)
	}
	key := imageKey(obj)
	var objs []*cvmv1alpha1.ImageShare
	var members []planner.Member
	for i := range list.Items {
		o := &list.Items[i]
		if o.Spec.Region != obj.Spec.Region {
			continue
		}
		if o.UID == obj.UID {
			o = obj // the freshest copy, with any spec change this reconcile is about
		}
		if !o.DeletionTimestamp.IsZero() && !slices.Contains(o.Finalizers, Finalizer) {
			continue
		}
		objs = append(objs, o)
		members = append(members, r.member(o, key, now))
	}
	if !slices.ContainsFunc(objs, func(o *cvmv1alpha1.ImageShare) bool { return o.UID == obj.UID }) {
		objs = append(objs, obj)
		members = append(members, r.member(obj, key, now))
	}
	return objs, members, nil
}

func (r *ImageShareReconciler) member(o *cvmv1alpha1.ImageShare, key string, now time.Time) planner.Member {
	m := planner.Member{
		Key:            o.Namespace + "/" + o.Name,
		CreatedAt:      o.CreationTimestamp.Time,
		Mode:           planner.Mode(o.Spec.Mode),
		Accounts:       o.Spec.AccountIDs,
		Managed:        managed(o),
		Deleting:       !o.DeletionTimestamp.IsZero(),
		CancelOnDelete: o.Spec.DeletionPolicy != cvmv1alpha1.DeletionPolicyOrphan,
		KnownBad:       map[string]planner.Reason{},
	}
	if m.Mode == "" {
		m.Mode = planner.Merge
	}
	for _, a := range o.Spec.AccountIDs {
		if b, ok := r.bad.get(key, a, r.ResyncPeriod, now); ok {
			m.KnownBad[a] = planner.Reason(b.reason)
		}
	}
	return m
}

func memberFor(members []planner.Member, obj *cvmv1alpha1.ImageShare) planner.Member {
	key := obj.Namespace + "/" + obj.Name
	for _, m := range members {
		if m.Key == key {
			return m
		}
	}
	return planner.Member{Key: key}
}

// execResult is what executing a plan did.
type execResult struct {
	sharedAfter []string
	shared      []string
	cancelled   []string
	overQuota   map[string]bool
	newlyBad    map[string]badAccount
	err         error
}

func (e execResult) changed() bool { return len(e.shared) > 0 || len(e.cancelled) > 0 }

// execute runs the plan: cancels first, so a swap at the limit never
// overshoots, then shares in priority order. A SHARE that Tencent refuses
// because of one bad account is retried without it, so the good accounts are
// still shared; AccountAlreadyExists (a crash between a call and the status
// write) counts as success.
func (r *ImageShareReconciler) execute(ctx context.Context, cl cloud.Client, region, id string,
	plan planner.Plan, shares []string) (res execResult) {
	res = execResult{overQuota: map[string]bool{}, newlyBad: map[string]badAccount{}}
	after := map[string]bool{}
	for _, a := range shares {
		after[a] = true
	}
	defer func() {
		for a := range after {
			res.sharedAfter = append(res.sharedAfter, a)
		}
		slices.Sort(res.sharedAfter)
	}()
	key := region + "/" + id

	for chunk := range slices.Chunk(plan.Cancel, maxIDsPerCall) {
		if err := cl.Cancel(ctx, region, id, chunk); err != nil {
			res.err = fmt.Errorf("cancel shares of image %s: %w", id, err)
			return res
		}
		for _, a := range chunk {
			delete(after, a)
		}
		res.cancelled = append(res.cancelled, chunk...)
	}

	pending := slices.Clone(plan.Share)
	batchSize := maxIDsPerCall
	for calls := 0; len(pending) > 0; calls++ {
		if calls == maxShareCalls {
			res.err = &cloud.Error{Op: "ModifyImageSharePermission", Code: "ClientError.TooManySplits",
				Reason: cloud.ReasonThrottled, Message: "more bad accounts than one reconcile splits around",
				RetryAfter: time.Second}
			return res
		}
		batch := pending[:min(len(pending), batchSize)]
		err := cl.Share(ctx, region, id, batch)
		if err == nil {
			for _, a := range batch {
				after[a] = true
			}
			res.shared = append(res.shared, batch...)
			pending = pending[len(batch):]
			continue
		}
		ce := cloud.AsError(err)
		switch {
		case ce != nil && ce.Reason == cloud.ReasonAlreadyShared && ce.Account != "":
			after[ce.Account] = true
			pending = slices.DeleteFunc(pending, func(a string) bool { return a == ce.Account })
		case ce != nil && ce.AccountScoped() && ce.Account != "":
			b := badAccount{reason: string(ce.Reason), message: accountMessage(ce), at: r.now()}
			r.bad.set(key, ce.Account, b)
			res.newlyBad[ce.Account] = b
			pending = slices.DeleteFunc(pending, func(a string) bool { return a == ce.Account })
		case ce != nil && ce.AccountScoped() && batchSize > 1:
			// The cloud did not say which account: go on one account at a time.
			batchSize = 1
		case ce != nil && ce.AccountScoped():
			b := badAccount{reason: string(ce.Reason), message: accountMessage(ce), at: r.now()}
			r.bad.set(key, batch[0], b)
			res.newlyBad[batch[0]] = b
			pending = pending[1:]
		case ce != nil && ce.Reason == cloud.ReasonShareLimitExceeded:
			// The cloud's own quota is smaller than --share-limit.
			for _, a := range pending {
				res.overQuota[a] = true
			}
			pending = nil
		default:
			res.err = fmt.Errorf("share image %s: %w", id, err)
			return res
		}
	}
	return res
}

func accountMessage(ce *cloud.Error) string {
	switch ce.Reason {
	case cloud.ReasonAccountNotFound:
		return "No Tencent Cloud account has this ID: check the ID"
	case cloud.ReasonAccountIsOwner:
		return "This is the image owner's own account: remove it from spec.accountIds"
	case cloud.ReasonNotRootAccount:
		return "This is a collaborator (sub) account: list its root account instead"
	}
	return ce.Message
}

// project is self's view of the share list after the plan ran on the image
// imgKey (region/ID), and its failed accounts sorted by account ID (nil if none).
func (r *ImageShareReconciler) project(self planner.Member, imgKey string, plan planner.Plan, res execResult,
	now time.Time) (planner.View, []cvmv1alpha1.FailedAccount) {
	failed := r.failedFor(self, imgKey, plan, res, now)
	reasons := make(map[string]planner.Reason, len(failed))
	for a, f := range failed {
		reasons[a] = planner.Reason(f.Reason)
	}
	view := planner.Project(self, res.sharedAfter, reasons, plan)
	if len(failed) == 0 {
		return view, nil
	}
	return view, failedList(failed)
}

// failedFor collects the accounts of self that are not shared and why.
func (r *ImageShareReconciler) failedFor(self planner.Member, imgKey string, plan planner.Plan, res execResult,
	now time.Time) map[string]cvmv1alpha1.FailedAccount {
	out := map[string]cvmv1alpha1.FailedAccount{}
	if self.Mode == planner.Observe || self.Deleting {
		return out
	}
	for _, a := range self.Accounts {
		if slices.Contains(res.sharedAfter, a) {
			continue
		}
		if b, ok := res.newlyBad[a]; ok {
			out[a] = cvmv1alpha1.FailedAccount{AccountID: a, Reason: b.reason, Message: b.message}
			continue
		}
		if b, ok := r.bad.get(imgKey, a, r.ResyncPeriod, now); ok {
			out[a] = cvmv1alpha1.FailedAccount{AccountID: a, Reason: b.reason, Message: b.message}
			continue
		}
		if plan.OverLimit[a] || res.overQuota[a] {
			out[a] = cvmv1alpha1.FailedAccount{AccountID: a, Reason: string(planner.ShareLimitExceeded),
				Message: fmt.Sprintf("The image is shared with as many accounts as allowed (%d): "+
					"remove accounts or cancel other shares", r.ShareLimit)}
		}
	}
	return out
}

func failedList(m map[string]cvmv1alpha1.FailedAccount) []cvmv1alpha1.FailedAccount {
	out := make([]cvmv1alpha1.FailedAccount, 0, len(m))
	for _, f := range m {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b cvmv1alpha1.FailedAccount) int { return strings.Compare(a.AccountID, b.AccountID) })
	return out
}

// locateProgress remembers, per object, which regions a search for a
// misplaced image has covered, so a search cut short by the rate limit
// resumes where it stopped instead of starting over.
type locateProgress struct {
	mu      sync.Mutex
	checked map[string][]string
}

func newLocateProgress() *locateProgress { return &locateProgress{checked: map[string][]string{}} }

// active reports whether a search for obj's image has started and not finished.
func (l *locateProgress) active(obj *cvmv1alpha1.ImageShare) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.checked[string(obj.UID)]
	return ok
}

func (l *locateProgress) done(obj *cvmv1alpha1.ImageShare) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.checked, string(obj.UID))
}

// locate looks for the image in the other regions: RegionMismatch names where
// it is, ImageNotFound says it is nowhere.
func (r *ImageShareReconciler) locate(ctx context.Context, cl cloud.Client, obj *cvmv1alpha1.ImageShare) outcome {
	uid := string(obj.UID)
	r.locating.mu.Lock()
	if _, ok := r.locating.checked[uid]; !ok {
		r.locating.checked[uid] = []string{}
	}
	r.locating.mu.Unlock()
	for _, region := range r.Regions {
		if region == obj.Spec.Region {
			continue
		}
		r.locating.mu.Lock()
		seen := slices.Contains(r.locating.checked[uid], region)
		r.locating.mu.Unlock()
		if seen {
			continue
		}
		images, err := cl.DescribeImages(ctx, region, []string{obj.Spec.ImageID})
		if err != nil {
			switch cloud.ReasonOf(err) {
			case cloud.ReasonRegionMismatch, cloud.ReasonImageNotFound:
				// Not available to this account there: keep looking.
			default:
				o := r.cloudFailure(obj, err)
				if o.stalled {
					return o
				}
				o.message = fmt.Sprintf("Looking for image %s outside %s: %s", obj.Spec.ImageID, obj.Spec.Region,
					o.message)
				return o
			}
		} else if _, ok := images[obj.Spec.ImageID]; ok {
			r.locating.done(obj)
			logf.FromContext(ctx).Info("Found image in another region", "image", obj.Spec.ImageID, "region", region)
			return r.stalledOutcome(ReasonRegionMismatch, fmt.Sprintf(
				"Image %s is in %s, not %s: images are shared only inside their own region; "+
					"create an ImageShare with region %s (add %s to its replicaRegions to share a copy there)",
				obj.Spec.ImageID, region, obj.Spec.Region, region, obj.Spec.Region))
		}
		r.locating.mu.Lock()
		r.locating.checked[uid] = append(r.locating.checked[uid], region)
		r.locating.mu.Unlock()
	}
	r.locating.done(obj)
	return r.stalledOutcome(ReasonImageNotFound, fmt.Sprintf(
		"Image %s was not found in %s or any other region: check spec.imageId and that the credentials belong "+
			"to the image owner", obj.Spec.ImageID, obj.Spec.Region))
}

// settled reports whether obj's last status was final for its generation:
// Ready, or Stalled on something only a person can fix.
func settled(obj *cvmv1alpha1.ImageShare) bool {
	for _, t := range []string{ConditionReady, ConditionStalled} {
		c := meta.FindStatusCondition(obj.Status.Conditions, t)
		if c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == obj.Generation {
			return true
		}
	}
	return false
}

// managed is what an object may cancel: what its status says it shared, and
// what it was about to share when a manager last stopped.
func managed(o *cvmv1alpha1.ImageShare) []string {
	out := slices.Clone(o.Status.SharedAccountIDs)
	for _, a := range pendingShares(o) {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}
