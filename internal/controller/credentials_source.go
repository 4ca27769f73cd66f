package controller

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// AllNamespaces in --env-credentials-namespaces lets every namespace use the
// manager's own credentials.
const AllNamespaces = "*"

// envCredentialsAllowed reports whether objects in ns may go without a
// credentialsRef and use the manager's own credentials: only the namespaces
// --env-credentials-namespaces names (or "*"), so that a namespace editor
// cannot share the owner's images by leaving credentialsRef out.
func (r *ImageShareReconciler) envCredentialsAllowed(ns string) bool {
	for _, n := range r.EnvCredentialsNamespaces {
		if n == AllNamespaces || n == ns {
			return true
		}
	}
	return false
}

// managerCredentials are the manager's own credentials for obj, which has no
// credentialsRef, where its namespace may use them.
func (r *ImageShareReconciler) managerCredentials(ctx context.Context, obj *cvmv1alpha1.ImageShare) (
	cloud.Credentials, string, *verdict) {
	if !r.envCredentialsAllowed(obj.Namespace) {
		return r.noCredentials(cvmv1alpha1.ReasonCredentialsMissing, fmt.Sprintf(
			"Namespace %s may not use the manager's own credentials (not in --env-credentials-namespaces): set "+
				"spec.credentialsRef to a Secret in this namespace with keys %s and %s, or have the operator's "+
				"administrator add the namespace to --env-credentials-namespaces", obj.Namespace, SecretIDKey, SecretKeyKey))
	}
	src := "TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY"
	creds, err := r.EnvCredentials, error(nil)
	if r.ManagerCredentials != nil {
		src = r.ManagerCredentials.Describe()
		creds, err = r.ManagerCredentials.Credentials(ctx)
	} else if creds.SecretID == "" || creds.SecretKey == "" {
		err = cloud.ErrNoCredentials
	}
	if errors.Is(err, cloud.ErrNoCredentials) {
		return r.noCredentials(cvmv1alpha1.ReasonCredentialsMissing, fmt.Sprintf(
			"No credentials: set spec.credentialsRef to a Secret with keys %s and %s, or give the manager %s",
			SecretIDKey, SecretKeyKey, src))
	}
	if err != nil {
		return r.credentialsFailed("the manager's own credentials ("+src+")", "the manager's credentials", err)
	}
	if bad := malformedKey(creds); bad != "" {
		return r.noCredentials(cvmv1alpha1.ReasonCredentialsInvalid, fmt.Sprintf(
			"The manager's own credentials (%s) hold no Tencent Cloud API credential in %s: fix them", src, bad))
	}
	return creds, identityOf(creds), nil
}

// assumeRole trades base, the keys of obj's Secret, for the temporary
// credentials of spec.credentialsRef.roleArn.
func (r *ImageShareReconciler) assumeRole(ctx context.Context, obj *cvmv1alpha1.ImageShare, base cloud.Credentials) (
	cloud.Credentials, string, *verdict) {
	ref := obj.Spec.CredentialsRef
	if r.Roles == nil {
		return r.noCredentials(cvmv1alpha1.ReasonCredentialsInvalid, fmt.Sprintf(
			"This manager cannot assume role %s: remove spec.credentialsRef.roleArn", ref.RoleArn))
	}
	creds, err := r.Roles.AssumeRole(ctx, base, ref.RoleArn)
	if err != nil {
		return r.credentialsFailed(fmt.Sprintf("role %s with the keys of Secret %s/%s", ref.RoleArn, obj.Namespace,
			ref.Name), fmt.Sprintf("Secret %s/%s or spec.credentialsRef.roleArn", obj.Namespace, ref.Name), err)
	}
	if bad := malformedKey(creds); bad != "" {
		return r.noCredentials(cvmv1alpha1.ReasonCredentialsInvalid, fmt.Sprintf(
			"Role %s gave no Tencent Cloud API credential in %s", ref.RoleArn, bad))
	}
	return creds, identityOf(creds), nil
}

// credentialsFailed is the verdict of a credential source that failed (an
// STS call, the instance metadata): refused is Stalled, anything else, an
// expiry with a refresh that has not come through included, is retried.
func (r *ImageShareReconciler) credentialsFailed(what, fix string, err error) (cloud.Credentials, string, *verdict) {
	ce := cloud.AsError(err)
	code, op := "unclassified error", "the credential provider"
	if ce != nil {
		code, op = ce.Code, ce.Op
	}
	switch cloud.ReasonOf(err) {
	case cloud.ReasonCredentialsInvalid:
		return r.noCredentials(cvmv1alpha1.ReasonCredentialsInvalid, fmt.Sprintf(
			"Tencent Cloud refused %s (%s %s): fix %s", what, op, code, fix))
	case cloud.ReasonPermissionDenied:
		return r.noCredentials(cvmv1alpha1.ReasonPermissionDenied, fmt.Sprintf(
			"Tencent Cloud refused %s (%s %s): allow the keys \"sts:%s\" on the role in CAM, and trust them in the "+
				"role's policy", what, op, code, op))
	}
	v := progressing(cvmv1alpha1.ReasonCloudError, fmt.Sprintf("Getting %s failed (%s %s): retrying", what, op, code))
	v.ready = metav1.ConditionUnknown
	v.err = fmt.Errorf("credentials from %s: %w", what, err)
	return cloud.Credentials{}, "", &v
}
