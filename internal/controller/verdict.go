package controller

import (
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// busyImageRetry is how soon a busy image (SYNCING, CREATING) is looked at again.
const busyImageRetry = 10 * time.Second

// slotPriority is the workqueue priority of a retry at a booked slot.
const slotPriority = 10

// slotMargin is how long after its booked rate-limit slot a throttled
// request comes back: enough that it never arrives a moment early.
const slotMargin = 5 * time.Millisecond

// msgCleaningCopies says why a deleting object with copies is not released yet.
const msgCleaningCopies = "Cleaning up copies before deletion"

// verdict is everything a reconcile decided about one ImageShare; writeStatus
// turns it into status, the only place that does.
type verdict struct {
	ready        metav1.ConditionStatus
	reason       string
	message      string
	stalled      bool
	requeueAfter time.Duration
	// slot: requeueAfter is a rate-limit slot booked for this request.
	slot bool
	err  error // retryable: returned to the workqueue for backoff

	release bool // the finalizer may go: the object is done with the cloud
	gone    bool // deleting without our finalizer: nothing to write

	image    *cloud.Image
	syncedAt time.Time
	accounts *accountView

	regions    []cvmv1alpha1.RegionStatus
	regionsSet bool
	// keepPending: a call failed whose outcome the status may not record, so
	// the write-ahead record stays.
	keepPending bool
	// secretInUse is the Secret holding the in-use finalizer for the object.
	secretInUse string
	// list is the effective account list, when it was read (listSet).
	list    []string
	listSet bool
}

// decided reports whether the member needs no cloud work in this reconcile.
func (v verdict) decided() bool { return v.release || v.gone || v.reason != "" }

// accountView is one member's accounts after the plan ran on one image.
type accountView struct {
	shared, managed, unmanaged, missing []string
	failed                              []cvmv1alpha1.FailedAccount
	// pendingWork: managed accounts it no longer wants are still shared.
	cancelOwed []string
}

// statusView is the account view an object's status holds now.
func statusView(o *cvmv1alpha1.ImageShare) accountView {
	st := o.Status
	return accountView{shared: st.SharedAccountIDs, managed: st.ManagedAccountIDs, unmanaged: st.UnmanagedAccountIDs,
		missing: st.MissingAccountIDs, failed: st.FailedAccounts}
}

func progressing(reason, msg string) verdict {
	return verdict{ready: metav1.ConditionFalse, reason: reason, message: msg}
}

func (r *ImageShareReconciler) stalled(reason, msg string) verdict {
	return verdict{ready: metav1.ConditionFalse, reason: reason, message: msg, stalled: true,
		requeueAfter: jitter(r.ResyncPeriod)}
}

// failure turns a failed call into a verdict: terminal errors stall,
// retryable ones requeue (throttling at the moment the budget allows).
func (r *ImageShareReconciler) failure(m *member, img imageKey, err error) verdict {
	ce := cloud.AsError(err)
	code, op := "network error", "the CVM API"
	if ce != nil {
		code, op = ce.Code, ce.Op
	}
	switch reason := cloud.ReasonOf(err); {
	case code == cloud.CodeTooManySplits:
		// Progress, not a wait: the accounts set aside so far are in the
		// status, and the next pass skips them and goes on with the rest.
		v := progressing(cvmv1alpha1.ReasonProgressing, fmt.Sprintf(
			"The cloud refused more accounts than one pass splits around on image %s: going on with the rest",
			img.ImageID))
		v.requeueAfter = jitter(time.Second)
		return v
	case reason == cloud.ReasonThrottled:
		v := progressing(cvmv1alpha1.ReasonThrottled, fmt.Sprintf("Rate limited (%s): retrying", code))
		v.ready = metav1.ConditionUnknown
		v.requeueAfter = jitter(time.Second)
		if ce != nil && ce.RetryAfter > 0 {
			// Come back when the booked slot comes, not later: no jitter.
			// A retry 20% late (a minute, for a slot booked 300 s ahead)
			// misses its turn, the calls go out of order and together, the
			// cloud answers RequestLimitExceeded, and a slot left a minute
			// unused is forgotten and booked again at the end of the queue.
			// The limiter already spreads the background retries it books
			// nothing for.
			v.requeueAfter, v.slot = ce.RetryAfter+slotMargin, ce.Booked
		}
		return v
	case reason == cloud.ReasonImageNotReady:
		v := progressing(cvmv1alpha1.ReasonImageNotReady, fmt.Sprintf(
			"Image %s is not ready for sharing (%s): waiting", img.ImageID, code))
		v.requeueAfter = jitter(busyImageRetry)
		return v
	case reason == cloud.ReasonCredentialsInvalid:
		v := r.stalled(cvmv1alpha1.ReasonCredentialsInvalid, fmt.Sprintf(
			"Tencent Cloud rejected the credentials (%s): fix %s", code, credentialSource(m.obj)))
		v.requeueAfter = jitter(credentialsRetry)
		return v
	case reason == cloud.ReasonPermissionDenied:
		v := r.stalled(cvmv1alpha1.ReasonPermissionDenied, fmt.Sprintf(
			"The credentials of %s may not call %s (%s): grant them a CAM policy statement allowing "+
				"\"cvm:%s\" on resource \"*\"", credentialSource(m.obj), op, code, op))
		v.requeueAfter = jitter(credentialsRetry)
		return v
	case reason == cloud.ReasonRegionMismatch:
		return r.stalled(cvmv1alpha1.ReasonRegionMismatch, fmt.Sprintf(
			"Region %s is not valid for this account (%s): set spec.region to the image's region", img.Region, code))
	case reason == cloud.ReasonImageNotFound:
		return r.stalled(cvmv1alpha1.ReasonImageNotFound, fmt.Sprintf(
			"Image %s was not found in %s (%s): check spec.imageId", img.ImageID, img.Region, code))
	case reason == cloud.ReasonImageNotShareable:
		return r.stalled(cvmv1alpha1.ReasonImageNotShareable, fmt.Sprintf(
			"Image %s cannot be shared by this account (%s): only custom images you own can be shared",
			img.ImageID, code))
	default:
		// CloudError, and anything unexpected: retried with backoff.
		v := progressing(cvmv1alpha1.ReasonCloudError, fmt.Sprintf("CVM API call failed (%s): retrying", code))
		v.ready = metav1.ConditionUnknown
		v.err = err
		return v
	}
}

// judgeInput is what the Ready verdict of one member on its image depends on.
type judgeInput struct {
	imageID  string
	mode     cvmv1alpha1.Mode
	listed   []string
	conflict string // the Exclusive owner this member conflicts with, if any
	view     accountView
	limit    int
	// othersHold is how many shares on the image this member does not list.
	othersHold int
}

// judge is the pure verdict of one member whose plan ran without a call
// error: the most actionable problem first.
func (r *ImageShareReconciler) judge(in judgeInput) verdict {
	id, view := in.imageID, in.view
	if in.conflict != "" {
		return r.stalled(cvmv1alpha1.ReasonConflict, fmt.Sprintf(
			"ImageShare %s already targets image %s and one of them is Exclusive: an Exclusive ImageShare must be "+
				"the only one of its image; delete one or switch it to Merge", in.conflict, id))
	}
	if in.mode == cvmv1alpha1.ModeObserve {
		if len(view.missing) == 0 && len(view.unmanaged) == 0 {
			return verdict{ready: metav1.ConditionTrue, reason: cvmv1alpha1.ReasonInSync,
				requeueAfter: jitter(r.ResyncPeriod),
				message: fmt.Sprintf("Image %s is shared with exactly the %s", id,
					listedAccounts(len(view.shared)))}
		}
		var parts []string
		if len(view.missing) > 0 {
			parts = append(parts, "not shared: "+listIDs(view.missing))
		}
		if len(view.unmanaged) > 0 {
			parts = append(parts, "shared but not listed: "+listIDs(view.unmanaged))
		}
		return r.stalled(cvmv1alpha1.ReasonDriftDetected, fmt.Sprintf(
			"Image %s differs from the spec (%s): Observe mode never changes the cloud; switch to Merge or "+
				"Exclusive to correct it", id, strings.Join(parts, "; ")))
	}
	var overLimit, invalid, uncancelled []string
	for _, f := range view.failed {
		switch {
		case f.Reason == cvmv1alpha1.AccountReasonShareLimitExceeded:
			overLimit = append(overLimit, f.AccountID)
		case retryableReason(f.Reason):
		case slices.Contains(in.listed, f.AccountID) || f.Reason == cvmv1alpha1.AccountReasonInvalidID:
			invalid = append(invalid, fmt.Sprintf("%s (%s)", f.AccountID, f.Reason))
		default:
			uncancelled = append(uncancelled, fmt.Sprintf("%s (%s)", f.AccountID, f.Reason))
		}
	}
	if len(overLimit) > 0 {
		return r.stalled(cvmv1alpha1.ReasonShareLimitExceeded, fmt.Sprintf(
			"%d of %d listed accounts do not fit the image's share limit of %d (other accounts hold %d of "+
				"it): %s; remove accounts from spec.accountIds, cancel other shares, or raise --share-limit",
			len(overLimit), len(in.listed), in.limit, in.othersHold, listIDs(overLimit)))
	}
	if len(invalid)+len(uncancelled) > 0 {
		var parts []string
		if len(invalid) > 0 {
			parts = append(parts, fmt.Sprintf("%d listed accounts cannot receive shares: %s; remove them from "+
				"spec.accountIds or list root accounts", len(invalid), strings.Join(invalid, ", ")))
		}
		if len(uncancelled) > 0 {
			parts = append(parts, fmt.Sprintf("the cloud refused to cancel the shares of %s; the cancel is "+
				"retried at each resync", strings.Join(uncancelled, ", ")))
		}
		msg := strings.Join(parts, "; ")
		return r.stalled(cvmv1alpha1.ReasonInvalidAccounts, strings.ToUpper(msg[:1])+msg[1:])
	}
	if len(view.missing) > 0 {
		v := progressing(cvmv1alpha1.ReasonProgressing, fmt.Sprintf("Sharing image %s with %d more accounts", id,
			len(view.missing)))
		v.requeueAfter = jitter(time.Second)
		return v
	}
	if in.mode == cvmv1alpha1.ModeExclusive && len(view.unmanaged) > 0 {
		v := progressing(cvmv1alpha1.ReasonProgressing, fmt.Sprintf("Cancelling %d shares not listed: %s",
			len(view.unmanaged), listIDs(view.unmanaged)))
		v.requeueAfter = jitter(time.Second)
		return v
	}
	if len(view.cancelOwed) > 0 {
		v := progressing(cvmv1alpha1.ReasonProgressing, fmt.Sprintf("Cancelling shares no longer listed: %s",
			listIDs(view.cancelOwed)))
		v.requeueAfter = jitter(time.Second)
		return v
	}
	return verdict{ready: metav1.ConditionTrue, reason: cvmv1alpha1.ReasonShared, requeueAfter: jitter(r.ResyncPeriod),
		message: fmt.Sprintf("Image %s is shared with all %s", id, listedAccounts(len(in.listed)))}
}

// retryableReason reports whether a failed account's reason is retried with
// backoff (the call failed) rather than at the next resync (the account is bad).
func retryableReason(reason string) bool {
	switch cloud.Reason(reason) {
	case cloud.ReasonCloudError, cloud.ReasonThrottled, cloud.ReasonImageNotReady, cloud.ReasonImageInUse:
		return true
	}
	return false
}

// listedAccounts says "3 listed accounts", or "1 listed account".
func listedAccounts(n int) string {
	if n == 1 {
		return "1 listed account"
	}
	return fmt.Sprintf("%d listed accounts", n)
}

// listIDs prints sorted IDs, at most ten, so messages stay readable and stable.
func listIDs(ids []string) string {
	s := slices.Sorted(slices.Values(ids))
	if len(s) > 10 {
		return strings.Join(s[:10], ", ") + fmt.Sprintf(" and %d more", len(s)-10)
	}
	return strings.Join(s, ", ")
}
