package controller

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
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

// credentialMemo remembers, per object, a digest of credentials the cloud
// rejected, so that unchanged bad keys are not sent again on every poll.
type credentialMemo struct {
	mu       sync.Mutex
	rejected map[types.UID][32]byte
}

func newCredentialMemo() *credentialMemo { return &credentialMemo{rejected: map[types.UID][32]byte{}} }

func digest(c cloud.Credentials) [32]byte {
	return sha256.Sum256([]byte(c.SecretID + "\x00" + c.SecretKey + "\x00" + c.Token))
}

func credentialSource(obj *cvmv1alpha1.ImageShare) string {
	if obj.Spec.CredentialsRef != nil {
		return fmt.Sprintf("Secret %s/%s", obj.Namespace, obj.Spec.CredentialsRef.Name)
	}
	return "the manager's TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY"
}

// credentials returns the keys obj uses, or the outcome that says why there
// are none. The Secret is read from obj's own namespace only: the reference
// has no namespace field, so one tenant can never borrow another's keys.
func (r *ImageShareReconciler) credentials(ctx context.Context, obj *cvmv1alpha1.ImageShare) (cloud.Credentials,
	*outcome) {
	stalled := func(reason, msg string) (cloud.Credentials, *outcome) {
		o := r.stalledOutcome(reason, msg)
		o.requeueAfter = jitter(credentialsRetry)
		return cloud.Credentials{}, &o
	}
	var creds cloud.Credentials
	if ref := obj.Spec.CredentialsRef; ref != nil {
		var s corev1.Secret
		err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: obj.Namespace, Name: ref.Name}, &s)
		switch {
		case apierrors.IsNotFound(err):
			return stalled(ReasonCredentialsMissing, fmt.Sprintf(
				"Secret %s/%s not found: create it with keys %s and %s", obj.Namespace, ref.Name, SecretIDKey, SecretKeyKey))
		case err != nil:
			o := progressing(ReasonProgressing, fmt.Sprintf("Reading Secret %s/%s failed: retrying", obj.Namespace, ref.Name))
			o.err = fmt.Errorf("get secret %s/%s: %w", obj.Namespace, ref.Name, err)
			return cloud.Credentials{}, &o
		}
		creds = cloud.Credentials{SecretID: string(s.Data[SecretIDKey]), SecretKey: string(s.Data[SecretKeyKey]),
			Token: string(s.Data[TokenKey])}
		var missing []string
		if len(s.Data[SecretIDKey]) == 0 {
			missing = append(missing, SecretIDKey)
		}
		if len(s.Data[SecretKeyKey]) == 0 {
			missing = append(missing, SecretKeyKey)
		}
		if len(missing) > 0 {
			return stalled(ReasonCredentialsMissing, fmt.Sprintf("Secret %s/%s has no %s: add the missing keys",
				obj.Namespace, ref.Name, strings.Join(missing, " or ")))
		}
		if bad := malformedKey(creds); bad != "" {
			return stalled(ReasonCredentialsInvalid, fmt.Sprintf(
				"Secret %s/%s key %s does not hold a Tencent Cloud API credential: fix the Secret",
				obj.Namespace, ref.Name, bad))
		}
	} else {
		creds = r.EnvCredentials
		if creds.SecretID == "" || creds.SecretKey == "" {
			return stalled(ReasonCredentialsMissing,
				"No credentials: set spec.credentialsRef to a Secret with keys secretId and secretKey, or give the "+
					"manager TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY")
		}
		if bad := malformedKey(creds); bad != "" {
			return stalled(ReasonCredentialsInvalid, fmt.Sprintf(
				"The manager's environment variable for %s does not hold a Tencent Cloud API credential", bad))
		}
	}
	if r.creds.isRejected(obj.UID, creds) {
		return stalled(ReasonCredentialsInvalid, fmt.Sprintf(
			"Tencent Cloud rejected the credentials: fix %s", credentialSource(obj)))
	}
	return creds, nil
}

func (m *credentialMemo) isRejected(uid types.UID, c cloud.Credentials) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.rejected[uid]
	return ok && d == digest(c)
}

func (m *credentialMemo) reject(uid types.UID, c cloud.Credentials) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rejected[uid] = digest(c)
}

func (m *credentialMemo) forget(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.rejected, uid)
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
