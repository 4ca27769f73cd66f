package controller

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
	"github.com/imageshare/imageshare-operator/internal/credentials"
)

// credentialsRetry is how often a Secret is re-read while credentials are
// missing or rejected: Secrets are not watched (that would need a cluster-wide
// Secret cache), so a fixed Secret is noticed by this poll.
var credentialsRetry = 30 * time.Second

// credentialSource names where obj's credentials come from, for messages.
func credentialSource(obj *cvmv1alpha1.ImageShare) string {
	return credentials.Source(obj.Namespace, obj.Spec.CredentialsRef)
}

// credentialsVerdict turns what internal/credentials resolved for obj into
// its keys and identity, or its verdict. Keys the cloud rejected before are
// simply tried again (each resync, each spec change, each retry): nothing
// here may remember a verdict for good.
func (r *ImageShareReconciler) credentialsVerdict(obj *cvmv1alpha1.ImageShare, creds cloud.Credentials,
	f *credentials.Failure) (cloud.Credentials, string, *verdict) {
	if f == nil {
		return creds, credentials.Identity(creds), nil
	}
	if f.Err != nil {
		v := progressing(f.Reason, f.Message)
		if f.Reason == cvmv1alpha1.ReasonCloudError {
			v.ready = metav1.ConditionUnknown
		}
		v.err = f.Err
		return cloud.Credentials{}, "", &v
	}
	msg := f.Message
	if f.Reason == cvmv1alpha1.ReasonCredentialsMissing {
		msg += orphanHint(obj)
	}
	v := r.stalled(f.Reason, msg)
	v.requeueAfter = jitter(credentialsRetry)
	return cloud.Credentials{}, "", &v
}

// orphanHint tells a deleting object without keys how to end its deletion
// anyway: its shares cannot be cancelled without them.
func orphanHint(obj *cvmv1alpha1.ImageShare) string {
	if obj.DeletionTimestamp.IsZero() {
		return ""
	}
	return "; or set deletionPolicy to Orphan to finish the deletion and leave its shares"
}
