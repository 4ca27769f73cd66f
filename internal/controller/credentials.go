package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// Secret keys of a credentialsRef Secret.
const (
	SecretIDKey  = "secretId"
	SecretKeyKey = "secretKey"
	TokenKey     = "token"
)

// credentialsRetry is how often a Secret is re-read while credentials are
// missing or rejected: Secrets are not watched (that would need a cluster-wide
// Secret cache), so a fixed Secret is noticed by this poll.
var credentialsRetry = 30 * time.Second

// Longest values accepted; anything larger is not an API key and is refused
// before it reaches the signer.
const (
	maxSecretIDLen  = 128
	maxSecretKeyLen = 256
	maxTokenLen     = 16 << 10
)

// credentialSource names where obj's credentials come from, for messages.
func credentialSource(obj *cvmv1alpha1.ImageShare) string {
	if ref := obj.Spec.CredentialsRef; ref != nil {
		if ref.RoleArn != "" {
			return fmt.Sprintf("Secret %s/%s (assuming role %s)", obj.Namespace, ref.Name, ref.RoleArn)
		}
		return fmt.Sprintf("Secret %s/%s", obj.Namespace, ref.Name)
	}
	return "the manager's own credentials (--credential-sources)"
}

// credentials returns the keys obj uses and the cloud identity they act as,
// or the verdict that says why there are none. The Secret is read from obj's
// own namespace only: the reference has no namespace field, so one tenant can
// never borrow another's keys. Keys the cloud rejected before are simply tried
// again (each resync, each spec change, each retry): keys propagate late and
// CAM policies get granted, and nothing here may remember a verdict for good.
func (r *ImageShareReconciler) credentials(ctx context.Context, obj *cvmv1alpha1.ImageShare) (cloud.Credentials,
	string, *verdict) {
	ref := obj.Spec.CredentialsRef
	if ref == nil {
		return r.managerCredentials(ctx, obj)
	}
	var s corev1.Secret
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: obj.Namespace, Name: ref.Name}, &s)
	switch {
	case apierrors.IsNotFound(err):
		return r.noCredentials(cvmv1alpha1.ReasonCredentialsMissing, fmt.Sprintf(
			"Secret %s/%s not found: create it with keys %s and %s%s", obj.Namespace, ref.Name, SecretIDKey, SecretKeyKey,
			orphanHint(obj)))
	case err != nil:
		v := progressing(cvmv1alpha1.ReasonProgressing, fmt.Sprintf("Reading Secret %s/%s failed: retrying",
			obj.Namespace, ref.Name))
		v.err = fmt.Errorf("get secret %s/%s: %w", obj.Namespace, ref.Name, err)
		return cloud.Credentials{}, "", &v
	}
	creds := cloud.Credentials{SecretID: string(s.Data[SecretIDKey]), SecretKey: string(s.Data[SecretKeyKey]),
		Token: string(s.Data[TokenKey])}
	var missing []string
	if len(s.Data[SecretIDKey]) == 0 {
		missing = append(missing, SecretIDKey)
	}
	if len(s.Data[SecretKeyKey]) == 0 {
		missing = append(missing, SecretKeyKey)
	}
	if len(missing) > 0 {
		return r.noCredentials(cvmv1alpha1.ReasonCredentialsMissing, fmt.Sprintf(
			"Secret %s/%s has no %s: add the missing keys", obj.Namespace, ref.Name, strings.Join(missing, " or ")))
	}
	if bad := malformedKey(creds); bad != "" {
		return r.noCredentials(cvmv1alpha1.ReasonCredentialsInvalid, fmt.Sprintf(
			"Secret %s/%s key %s does not hold a Tencent Cloud API credential: fix the Secret",
			obj.Namespace, ref.Name, bad))
	}
	if ref.RoleArn != "" {
		return r.assumeRole(ctx, obj, creds)
	}
	return creds, identityOf(creds), nil
}

// noCredentials is the Stalled verdict of an object without usable
// credentials, polled at credentialsRetry since Secrets are not watched.
func (r *ImageShareReconciler) noCredentials(reason, msg string) (cloud.Credentials, string, *verdict) {
	v := r.stalled(reason, msg)
	v.requeueAfter = jitter(credentialsRetry)
	return cloud.Credentials{}, "", &v
}

// identityOf names the cloud identity credentials act as, for grouping and
// for the read cache: a digest of SecretId, SecretKey and token, so an object
// holding someone's SecretId with a wrong key (a SecretId is not a secret)
// never joins that identity's plan or sees its reads. Temporary credentials
// are their role's (contract §2: "the same assumed role"), whatever keys
// assumed it and however often they are refreshed: only keys STS accepted
// for that role ever get them.
func identityOf(c cloud.Credentials) string {
	if c.Role != "" {
		d := sha256.Sum256([]byte(c.Role))
		return "role-" + hex.EncodeToString(d[:8])
	}
	d := digest(c)
	return hex.EncodeToString(d[:8])
}

// malformedKey names the first value that cannot be an API credential
// (too long, not printable ASCII), without ever echoing the value.
func malformedKey(c cloud.Credentials) string {
	check := func(v string, limit int) bool {
		if len(v) > limit || !utf8.ValidString(v) {
			return false
		}
		for _, r := range v {
			if r > unicode.MaxASCII || !unicode.IsPrint(r) || unicode.IsSpace(r) {
				return false
			}
		}
		return true
	}
	switch {
	case !check(c.SecretID, maxSecretIDLen):
		return SecretIDKey
	case !check(c.SecretKey, maxSecretKeyLen):
		return SecretKeyKey
	case !check(c.Token, maxTokenLen):
		return TokenKey
	}
	return ""
}

// orphanHint tells a deleting object without keys how to end its deletion
// anyway: its shares cannot be cancelled without them.
func orphanHint(obj *cvmv1alpha1.ImageShare) string {
	if obj.DeletionTimestamp.IsZero() {
		return ""
	}
	return "; or set deletionPolicy to Orphan to finish the deletion and leave its shares"
}
