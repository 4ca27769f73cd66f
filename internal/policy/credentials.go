package policy

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// Secret keys of a credentialsRef Secret, as the ImageShare controller reads them.
const (
	secretIDKey  = "secretId"
	secretKeyKey = "secretKey"
	tokenKey     = "token"
)

// credentials returns the keys the policy lists images with, or a verdict
// saying why there are none. It is a deliberate small duplicate of the
// ImageShare controller's credential read (internal/controller is not
// imported): the Secret in the policy's own namespace, read with a direct
// GET (no Secret cache), else the manager's environment.
func (r *Reconciler) credentials(ctx context.Context, p *cvmv1alpha1.ImageSharePolicy) (cloud.Credentials,
	*verdict, error) {
	ref := p.Spec.CredentialsRef
	if ref == nil {
		if r.AllowEnvCredentials != nil && !r.AllowEnvCredentials(p.Namespace) {
			return cloud.Credentials{}, stalled(cvmv1alpha1.ReasonCredentialsMissing, fmt.Sprintf(
				"No credentials: the manager's own credentials are not allowed in namespace %s; set "+
					"spec.credentialsRef to a Secret with keys %s and %s", p.Namespace, secretIDKey, secretKeyKey)), nil
		}
		if r.ManagerCredentials != nil {
			src := r.ManagerCredentials.Describe()
			creds, err := r.ManagerCredentials.Credentials(ctx)
			if errors.Is(err, cloud.ErrNoCredentials) {
				return cloud.Credentials{}, stalled(cvmv1alpha1.ReasonCredentialsMissing, fmt.Sprintf(
					"No credentials: set spec.credentialsRef to a Secret with keys %s and %s, or give the manager %s",
					secretIDKey, secretKeyKey, src)), nil
			}
			if err != nil {
				return credentialsFailed("the manager's own credentials ("+src+")", "the manager's credentials", err)
			}
			return creds, nil, nil
		}
		if r.EnvCredentials.SecretID == "" || r.EnvCredentials.SecretKey == "" {
			return cloud.Credentials{}, stalled(cvmv1alpha1.ReasonCredentialsMissing,
				"No credentials: set spec.credentialsRef to a Secret with keys secretId and secretKey, or give the "+
					"manager TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY"), nil
		}
		return r.EnvCredentials, nil, nil
	}
	var s corev1.Secret
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: p.Namespace, Name: ref.Name}, &s)
	switch {
	case apierrors.IsNotFound(err):
		return cloud.Credentials{}, stalled(cvmv1alpha1.ReasonCredentialsMissing, fmt.Sprintf(
			"Secret %s/%s not found: create it with keys %s and %s", p.Namespace, ref.Name, secretIDKey,
			secretKeyKey)), nil
	case err != nil:
		return cloud.Credentials{}, nil, fmt.Errorf("get secret %s/%s: %w", p.Namespace, ref.Name, err)
	}
	creds := cloud.Credentials{SecretID: string(s.Data[secretIDKey]), SecretKey: string(s.Data[secretKeyKey]),
		Token: string(s.Data[tokenKey])}
	if creds.SecretID == "" || creds.SecretKey == "" {
		return cloud.Credentials{}, stalled(cvmv1alpha1.ReasonCredentialsMissing, fmt.Sprintf(
			"Secret %s/%s has no %s or %s: add the missing keys", p.Namespace, ref.Name, secretIDKey,
			secretKeyKey)), nil
	}
	if ref.RoleArn == "" {
		return creds, nil, nil
	}
	if r.Roles == nil {
		return cloud.Credentials{}, stalled(cvmv1alpha1.ReasonCredentialsInvalid, fmt.Sprintf(
			"This manager cannot assume role %s: remove spec.credentialsRef.roleArn", ref.RoleArn)), nil
	}
	assumed, err := r.Roles.AssumeRole(ctx, creds, ref.RoleArn)
	if err != nil {
		return credentialsFailed(fmt.Sprintf("role %s with the keys of Secret %s/%s", ref.RoleArn, p.Namespace,
			ref.Name), fmt.Sprintf("Secret %s/%s or spec.credentialsRef.roleArn", p.Namespace, ref.Name), err)
	}
	return assumed, nil, nil
}

// credentialsFailed turns a failed credential source (the manager's chain,
// an STS AssumeRole) into a verdict or an error: a refusal is Stalled, any
// other failure (a refresh that has not come through) an error, retried.
func credentialsFailed(what, fix string, err error) (cloud.Credentials, *verdict, error) {
	code, op := "unclassified error", "the credential provider"
	if ce := cloud.AsError(err); ce != nil {
		code, op = ce.Code, ce.Op
	}
	switch cloud.ReasonOf(err) {
	case cloud.ReasonCredentialsInvalid:
		return cloud.Credentials{}, stalled(cvmv1alpha1.ReasonCredentialsInvalid, fmt.Sprintf(
			"Tencent Cloud refused %s (%s %s): fix %s", what, op, code, fix)), nil
	case cloud.ReasonPermissionDenied:
		return cloud.Credentials{}, stalled(cvmv1alpha1.ReasonPermissionDenied, fmt.Sprintf(
			"Tencent Cloud refused %s (%s %s): allow the keys \"sts:%s\" on the role in CAM, and trust them in "+
				"the role's policy", what, op, code, op)), nil
	}
	return cloud.Credentials{}, nil, fmt.Errorf("credentials from %s: %w", what, err)
}
