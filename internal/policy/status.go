package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// verdict is the policy's kstatus triad in one value: the Ready condition's
// status, reason and message, and whether Reconciling or Stalled is True.
type verdict struct {
	ready        metav1.ConditionStatus
	reason       string
	message      string
	reconciling  bool
	stalled      bool
	requeueAfter time.Duration
}

func stalled(reason, message string) *verdict {
	return &verdict{ready: metav1.ConditionFalse, reason: reason, message: message, stalled: true}
}

func progressing(reason, message string) *verdict {
	return &verdict{ready: metav1.ConditionFalse, reason: reason, message: message, reconciling: true}
}

func ready(reason, message string) *verdict {
	return &verdict{ready: metav1.ConditionTrue, reason: reason, message: message}
}

// currentCondition returns a child's condition of type t only when it
// describes the child's current generation: an older one says nothing.
func currentCondition(child *cvmv1alpha1.ImageShare, t string) *metav1.Condition {
	c := meta.FindStatusCondition(child.Status.Conditions, t)
	if c == nil || child.Status.ObservedGeneration != child.Generation || c.ObservedGeneration != child.Generation {
		return nil
	}
	return c
}

func childReady(child *cvmv1alpha1.ImageShare) bool {
	c := currentCondition(child, cvmv1alpha1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && child.DeletionTimestamp == nil
}

// aggregate builds status.images (newest first) and the policy's verdict
// from the selected images and the children that exist (selected or being
// retired). held names the children kept past keepLatest until the selected
// ones are Ready. It is pure: the reconcile passes what it read.
func aggregate(policy string, selected []cloud.ListedImage, children []cvmv1alpha1.ImageShare, held []string) (
	[]cvmv1alpha1.PolicyImage, *verdict) {
	byName := map[string]*cvmv1alpha1.ImageShare{}
	for i := range children {
		byName[children[i].Name] = &children[i]
	}
	images := make([]cvmv1alpha1.PolicyImage, 0, len(selected))
	wanted := map[string]bool{}
	var waiting []string
	allExpired := len(selected) > 0
	for _, img := range selected {
		name := childName(policy, img.ID)
		wanted[name] = true
		entry := cvmv1alpha1.PolicyImage{ImageID: img.ID, Child: name}
		if !img.CreatedTime.IsZero() {
			t := metav1.NewTime(img.CreatedTime)
			entry.CreatedTime = &t
		}
		child := byName[name]
		if child != nil && childReady(child) {
			entry.Ready = true
			if currentCondition(child, cvmv1alpha1.ConditionReady).Reason != cvmv1alpha1.ReasonExpired {
				allExpired = false
			}
		} else {
			waiting = append(waiting, name)
			allExpired = false
		}
		images = append(images, entry)
	}
	var retiring []string
	for name := range byName {
		if !wanted[name] && !slices.Contains(held, name) {
			retiring = append(retiring, name)
		}
	}
	slices.Sort(retiring)

	if v := stalledChild(children); v != nil {
		return images, v
	}
	switch {
	case len(waiting) > 0:
		msg := fmt.Sprintf("Waiting for %d of %d ImageShares to be Ready: %s", len(waiting), len(selected),
			list(waiting))
		if len(held) > 0 {
			msg += fmt.Sprintf("; keeping %d ImageShares of older images past keepLatest until then: %s",
				len(held), list(held))
		}
		return images, progressing(cvmv1alpha1.ReasonProgressing, msg)
	case len(held) > 0:
		return images, progressing(cvmv1alpha1.ReasonProgressing, fmt.Sprintf(
			"Keeping %d ImageShares of older images past keepLatest until the selected ones are Ready: %s",
			len(held), list(held)))
	case len(retiring) > 0:
		return images, progressing(cvmv1alpha1.ReasonProgressing, fmt.Sprintf(
			"Retiring %d ImageShares of images that left the selection (their shares are being cancelled): %s",
			len(retiring), list(retiring)))
	case len(selected) == 0:
		return images, ready(cvmv1alpha1.ReasonNoImagesSelected,
			"No NORMAL image matches the selector: nothing to share")
	case allExpired:
		return images, ready(cvmv1alpha1.ReasonExpired, fmt.Sprintf(
			"All %d selected images are past spec.expiresAt: their shares are cancelled", len(selected)))
	}
	return images, ready(cvmv1alpha1.ReasonShared, fmt.Sprintf(
		"All %d selected images are shared: %s", len(selected), list(imageIDs(selected))))
}

// stalledChild names the first child (by name) that is Stalled, with its reason.
func stalledChild(children []cvmv1alpha1.ImageShare) *verdict {
	var names []string
	var first *cvmv1alpha1.ImageShare
	for i := range children {
		c := &children[i]
		if s := currentCondition(c, cvmv1alpha1.ConditionStalled); s != nil && s.Status == metav1.ConditionTrue {
			names = append(names, c.Name)
			if first == nil || c.Name < first.Name {
				first = c
			}
		}
	}
	if first == nil {
		return nil
	}
	s := currentCondition(first, cvmv1alpha1.ConditionStalled)
	msg := fmt.Sprintf("ImageShare %s (image %s) is Stalled: %s", first.Name, first.Spec.ImageID, s.Message)
	if len(names) > 1 {
		msg += fmt.Sprintf(" (and %d more Stalled ImageShares)", len(names)-1)
	}
	return stalled(s.Reason, msg)
}

func imageIDs(images []cloud.ListedImage) []string {
	out := make([]string, len(images))
	for i, img := range images {
		out[i] = img.ID
	}
	return out
}

// list joins names for a message, at most five of them.
func list(names []string) string {
	const most = 5
	if len(names) <= most {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:most], ", ") + fmt.Sprintf(" and %d more", len(names)-most)
}

// setConditions writes v as the kstatus triad of the policy's generation.
func setConditions(p *cvmv1alpha1.ImageSharePolicy, v *verdict) {
	set := func(t string, status metav1.ConditionStatus) {
		meta.SetStatusCondition(&p.Status.Conditions, metav1.Condition{Type: t, Status: status, Reason: v.reason,
			Message: v.message, ObservedGeneration: p.Generation})
	}
	set(cvmv1alpha1.ConditionReady, v.ready)
	if v.reconciling {
		set(cvmv1alpha1.ConditionReconciling, metav1.ConditionTrue)
	} else {
		meta.RemoveStatusCondition(&p.Status.Conditions, cvmv1alpha1.ConditionReconciling)
	}
	if v.stalled {
		set(cvmv1alpha1.ConditionStalled, metav1.ConditionTrue)
	} else {
		meta.RemoveStatusCondition(&p.Status.Conditions, cvmv1alpha1.ConditionStalled)
	}
	p.Status.ObservedGeneration = p.Generation
}

// cloudVerdict turns a failed listing into a verdict: terminal reasons
// stall the policy, others are retried.
func cloudVerdict(err error, region string) *verdict {
	reason := cloud.ReasonOf(err)
	detail := err.Error()
	if ce := cloud.AsError(err); ce != nil {
		detail = ce.Code // the message may carry a RequestId; status messages stay deterministic
	}
	msg := fmt.Sprintf("Listing the images of %s failed (%s)", region, detail)
	v := progressing(string(reason), msg+": retrying")
	if cloud.IsTerminal(err) {
		v = stalled(string(reason), msg)
		switch reason {
		case cloud.ReasonCredentialsInvalid:
			v.message += ": fix the credentials Secret"
		case cloud.ReasonPermissionDenied:
			v.message += ": allow cvm:DescribeImages to the credentials"
		case cloud.ReasonRegionMismatch:
			v.message += ": check spec.region"
		}
	}
	if ce := cloud.AsError(err); ce != nil && ce.RetryAfter > 0 {
		v.requeueAfter = ce.RetryAfter
	}
	return v
}
