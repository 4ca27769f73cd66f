// Package credentials resolves the Tencent Cloud keys an object acts with:
// its credentialsRef Secret (optionally assuming a CAM role), or the
// manager's own credentials where its namespace may use them. Both the
// ImageShare and the ImageSharePolicy controllers resolve through it, so a
// rule about keys (which namespace, which Secret key, which value is refused)
// is written once.
package credentials

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// Secret keys of a credentialsRef Secret (contract §2).
const (
	SecretIDKey  = "secretId"
	SecretKeyKey = "secretKey"
	TokenKey     = "token"
)

// AllNamespaces in --env-credentials-namespaces lets every namespace use the
// manager's own credentials.
const AllNamespaces = "*"

// Longest values accepted; anything larger is not an API key and is refused
// before it reaches the signer.
const (
	maxSecretIDLen  = 128
	maxSecretKeyLen = 256
	maxTokenLen     = 16 << 10
)

// Sources are where credentials may come from besides an object's own
// Secret: the manager's flags. The zero value refuses everything but a
// Secret's keys.
type Sources struct {
	// Env are the manager's own TENCENTCLOUD_* credentials, used when
	// Manager is nil.
	Env cloud.Credentials
	// Manager, when set, are the manager's own credentials
	// (--credential-sources), used instead of Env.
	Manager cloud.CredentialSource
	// EnvNamespaces may go without a credentialsRef and use the manager's
	// own credentials (--env-credentials-namespaces): none when empty, "*"
	// for all.
	EnvNamespaces []string
	// Roles assumes credentialsRef.roleArn; nil refuses roleArn.
	Roles cloud.RoleAssumer
}

// Failure says why an object has no usable credentials. With Err nil it is
// terminal until someone fixes the Secret, the role or the manager (Stalled);
// with Err set it is a failure worth retrying (a Secret read, a refresh).
type Failure struct {
	// Reason is a Ready reason of api/v1alpha1.
	Reason string
	// Message tells the user what to fix, never echoing a key.
	Message string
	// Err is the retryable cause; nil for a terminal failure.
	Err error
}

// Resolve returns the keys an object in namespace with ref acts with. The
// Secret is read from that namespace only: the reference has no namespace
// field, so one tenant can never borrow another's keys. Nothing is
// remembered: keys the cloud rejected before are simply tried again, since
// keys propagate late and CAM policies get granted.
// reader should read Secrets with a direct GET: no cluster-wide Secret cache
// or watch, so the manager needs only `get` on Secrets.
func (r *Sources) Resolve(ctx context.Context, reader client.Reader, namespace string,
	ref *cvmv1alpha1.SecretReference) (cloud.Credentials, *Failure) {
	if ref == nil {
		return r.manager(ctx, namespace)
	}
	var s corev1.Secret
	err := reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, &s)
	switch {
	case apierrors.IsNotFound(err):
		return refused(cvmv1alpha1.ReasonCredentialsMissing, "Secret %s/%s not found: create it with keys %s and %s",
			namespace, ref.Name, SecretIDKey, SecretKeyKey)
	case err != nil:
		return cloud.Credentials{}, &Failure{Reason: cvmv1alpha1.ReasonProgressing,
			Message: fmt.Sprintf("Reading Secret %s/%s failed: retrying", namespace, ref.Name),
			Err:     fmt.Errorf("get secret %s/%s: %w", namespace, ref.Name, err)}
	}
	creds := cloud.Credentials{SecretID: string(s.Data[SecretIDKey]), SecretKey: string(s.Data[SecretKeyKey]),
		Token: string(s.Data[TokenKey])}
	var missing []string
	for _, k := range []string{SecretIDKey, SecretKeyKey} {
		if len(s.Data[k]) == 0 {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return refused(cvmv1alpha1.ReasonCredentialsMissing, "Secret %s/%s has no %s: add the missing keys",
			namespace, ref.Name, strings.Join(missing, " or "))
	}
	if bad := malformedKey(creds); bad != "" {
		return refused(cvmv1alpha1.ReasonCredentialsInvalid,
			"Secret %s/%s key %s does not hold a Tencent Cloud API credential: fix the Secret", namespace, ref.Name, bad)
	}
	if ref.RoleArn == "" {
		return creds, nil
	}
	if r.Roles == nil {
		return refused(cvmv1alpha1.ReasonCredentialsInvalid,
			"This manager cannot assume role %s: remove spec.credentialsRef.roleArn", ref.RoleArn)
	}
	assumed, err := r.Roles.AssumeRole(ctx, creds, ref.RoleArn)
	if err != nil {
		return sourceFailed(fmt.Sprintf("role %s with the keys of Secret %s/%s", ref.RoleArn, namespace, ref.Name),
			fmt.Sprintf("Secret %s/%s or spec.credentialsRef.roleArn", namespace, ref.Name), err)
	}
	if bad := malformedKey(assumed); bad != "" {
		return refused(cvmv1alpha1.ReasonCredentialsInvalid, "Role %s gave no Tencent Cloud API credential in %s",
			ref.RoleArn, bad)
	}
	return assumed, nil
}

// EnvAllowed reports whether objects in ns may go without a credentialsRef
// and use the manager's own credentials: only the namespaces
// --env-credentials-namespaces names (or "*"), so that a namespace editor
// cannot share the owner's images by leaving credentialsRef out.
func (r *Sources) EnvAllowed(ns string) bool {
	for _, n := range r.EnvNamespaces {
		if n == AllNamespaces || n == ns {
			return true
		}
	}
	return false
}

// manager returns the manager's own credentials for an object in namespace.
func (r *Sources) manager(ctx context.Context, namespace string) (cloud.Credentials, *Failure) {
	if !r.EnvAllowed(namespace) {
		return refused(cvmv1alpha1.ReasonCredentialsMissing,
			"Namespace %s may not use the manager's own credentials (not in --env-credentials-namespaces): set "+
				"spec.credentialsRef to a Secret in this namespace with keys %s and %s, or have the operator's "+
				"administrator add the namespace to --env-credentials-namespaces", namespace, SecretIDKey, SecretKeyKey)
	}
	src := "TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY"
	creds, err := r.Env, error(nil)
	if r.Manager != nil {
		src = r.Manager.Describe()
		creds, err = r.Manager.Credentials(ctx)
	} else if creds.SecretID == "" || creds.SecretKey == "" {
		err = cloud.ErrNoCredentials
	}
	if errors.Is(err, cloud.ErrNoCredentials) {
		return refused(cvmv1alpha1.ReasonCredentialsMissing,
			"No credentials: set spec.credentialsRef to a Secret with keys %s and %s, or give the manager %s",
			SecretIDKey, SecretKeyKey, src)
	}
	if err != nil {
		return sourceFailed("the manager's own credentials ("+src+")", "the manager's credentials", err)
	}
	if bad := malformedKey(creds); bad != "" {
		return refused(cvmv1alpha1.ReasonCredentialsInvalid,
			"The manager's own credentials (%s) hold no Tencent Cloud API credential in %s: fix them", src, bad)
	}
	return creds, nil
}

func refused(reason, format string, args ...any) (cloud.Credentials, *Failure) {
	return cloud.Credentials{}, &Failure{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// sourceFailed is the failure of a credential source (an STS call, the
// instance metadata): a refusal is terminal, anything else, an expiry with a
// refresh that has not come through included, is retried.
func sourceFailed(what, fix string, err error) (cloud.Credentials, *Failure) {
	code, op := "unclassified error", "the credential provider"
	if ce := cloud.AsError(err); ce != nil {
		code, op = ce.Code, ce.Op
	}
	switch cloud.ReasonOf(err) {
	case cloud.ReasonCredentialsInvalid:
		return refused(cvmv1alpha1.ReasonCredentialsInvalid, "Tencent Cloud refused %s (%s %s): fix %s", what, op,
			code, fix)
	case cloud.ReasonPermissionDenied:
		return refused(cvmv1alpha1.ReasonPermissionDenied,
			"Tencent Cloud refused %s (%s %s): allow the keys \"sts:%s\" on the role in CAM, and trust them in the "+
				"role's policy", what, op, code, op)
	}
	return cloud.Credentials{}, &Failure{Reason: cvmv1alpha1.ReasonCloudError,
		Message: fmt.Sprintf("Getting %s failed (%s %s): retrying", what, op, code),
		Err:     fmt.Errorf("credentials from %s: %w", what, err)}
}

// Identity names the cloud identity credentials act as, for grouping and
// for read caches: a digest of SecretId, SecretKey and token, so an object
// holding someone's SecretId with a wrong key (a SecretId is not a secret)
// never joins that identity's plan or sees its reads. Temporary credentials
// are their role's (contract §2: "the same assumed role"), whatever keys
// assumed it and however often they are refreshed: only keys STS accepted
// for that role ever get them.
func Identity(c cloud.Credentials) string {
	if c.Role != "" {
		d := sha256.Sum256([]byte(c.Role))
		return "role-" + hex.EncodeToString(d[:8])
	}
	d := Digest(c)
	return hex.EncodeToString(d[:8])
}

// Digest is a one-way digest of the key material, to compare credentials
// without keeping them.
func Digest(c cloud.Credentials) [32]byte {
	return sha256.Sum256([]byte(c.SecretID + "\x00" + c.SecretKey + "\x00" + c.Token))
}

// Source names where an object's credentials come from, for messages.
func Source(namespace string, ref *cvmv1alpha1.SecretReference) string {
	if ref == nil {
		return "the manager's own credentials (--credential-sources)"
	}
	if ref.RoleArn != "" {
		return fmt.Sprintf("Secret %s/%s (assuming role %s)", namespace, ref.Name, ref.RoleArn)
	}
	return fmt.Sprintf("Secret %s/%s", namespace, ref.Name)
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
