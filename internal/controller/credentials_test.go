package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
	"github.com/imageshare/imageshare-operator/internal/cloud/tencent"
	"github.com/imageshare/imageshare-operator/internal/credentials"
)

// sdkProvider is an SDK common.Provider standing in for env, TKE OIDC, the
// CVM role or STS AssumeRole: no network, numbered temporary keys.
type sdkProvider struct {
	calls int
	err   error
}

func (p *sdkProvider) GetCredential() (common.CredentialIface, error) {
	p.calls++
	if p.err != nil {
		return nil, p.err
	}
	return common.NewTokenCredential(fmt.Sprintf("AKIDtmp%04d", p.calls), "tmp-key", "tmp-token"), nil
}

// credObj is an ImageShare in ns, with a credentialsRef to ref unless ref is "".
func credObj(ns, ref, roleArn string) *cvmv1alpha1.ImageShare {
	o := &cvmv1alpha1.ImageShare{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "o"},
		Spec: cvmv1alpha1.ImageShareSpec{ImageID: unitImgA, Region: unitRegion}}
	if ref != "" {
		o.Spec.CredentialsRef = &cvmv1alpha1.SecretReference{Name: ref, RoleArn: roleArn}
	}
	return o
}

func wantVerdict(t *testing.T, v *verdict, reason string, stalled bool, inMessage ...string) {
	t.Helper()
	if v == nil {
		t.Fatalf("no verdict, want %s", reason)
	}
	if v.reason != reason || v.stalled != stalled {
		t.Fatalf("verdict %s (stalled %v): %s; want %s (stalled %v)", v.reason, v.stalled, v.message, reason, stalled)
	}
	for _, s := range inMessage {
		if !strings.Contains(v.message, s) {
			t.Errorf("message %q does not say %q", v.message, s)
		}
	}
}

// TestCredTenancy: without credentialsRef, only the namespaces
// --env-credentials-namespaces names may use the manager's credentials.
func TestCredTenancy(t *testing.T) {
	e := newUnitEnv(t)
	ctx := context.Background()
	e.r.Credentials.Env = cloud.Credentials{SecretID: unitOwnerID, SecretKey: unitOwnerKey}
	_, _, v := e.r.credentials(ctx, credObj("team-a", "", ""))
	wantVerdict(t, v, cvmv1alpha1.ReasonCredentialsMissing, true, "team-a", "--env-credentials-namespaces",
		"spec.credentialsRef")
	for _, allowed := range [][]string{{"platform", "team-a"}, {"*"}} {
		e.r.Credentials.EnvNamespaces = allowed
		creds, id, v := e.r.credentials(ctx, credObj("team-a", "", ""))
		if v != nil || creds.SecretID != unitOwnerID || id != credentials.Identity(creds) {
			t.Errorf("allowed by %v: %v %q %+v", allowed, creds, id, v)
		}
	}
	e.r.Credentials.EnvNamespaces = []string{"platform"}
	_, _, v = e.r.credentials(ctx, credObj("team-a", "", ""))
	wantVerdict(t, v, cvmv1alpha1.ReasonCredentialsMissing, true, "--env-credentials-namespaces")
	// A credentialsRef is always allowed: the Secret is the namespace's own.
	e.secret("team-a", "keys", unitOwnerID, unitOwnerKey)
	if _, _, v := e.r.credentials(ctx, credObj("team-a", "keys", "")); v != nil {
		t.Errorf("credentialsRef refused: %+v", v)
	}
}

// TestCredManagerChain wires the manager's credentials through a chain of SDK
// providers: the first that applies gives them; none is CredentialsMissing;
// a failing refresh is retried, never CredentialsInvalid.
func TestCredManagerChain(t *testing.T) {
	e := newUnitEnv(t)
	ctx := context.Background()
	e.r.Credentials.EnvNamespaces = []string{"*"}
	const podRole = "qcs::cam::uin/100000000001:roleName/imageshare-pod"
	oidc := &sdkProvider{}
	e.r.Credentials.Manager = tencent.NewChainOf(
		tencent.Link{Name: "env", Provider: &sdkProvider{err: cloud.ErrNoCredentials}},
		tencent.Link{Name: "oidc", Op: "AssumeRoleWithWebIdentity", Provider: oidc, Role: podRole, Lifetime: 2 * time.Hour})
	creds, id, v := e.r.credentials(ctx, credObj("ns", "", ""))
	if v != nil || creds.Role != podRole || creds.Token == "" || !strings.HasPrefix(id, "role-") {
		t.Fatalf("oidc link: %v %q %+v", creds, id, v)
	}

	e.r.Credentials.Manager = tencent.NewChainOf(tencent.Link{Name: "env",
		Provider: &sdkProvider{err: cloud.ErrNoCredentials}})
	_, _, v = e.r.credentials(ctx, credObj("ns", "", ""))
	wantVerdict(t, v, cvmv1alpha1.ReasonCredentialsMissing, true, "TENCENTCLOUD_SECRET_ID")

	down := tcerr.NewTencentCloudSDKError("InternalError", "sts is down", "req")
	e.r.Credentials.Manager = tencent.NewChainOf(tencent.Link{Name: "oidc", Op: "AssumeRoleWithWebIdentity",
		Provider: &sdkProvider{err: down}, Role: podRole, Lifetime: 2 * time.Hour})
	_, _, v = e.r.credentials(ctx, credObj("ns", "", ""))
	wantVerdict(t, v, cvmv1alpha1.ReasonCloudError, false, "--credential-sources oidc", "retrying")
	if v.err == nil {
		t.Error("a failing credential source is not retried with backoff")
	}
}

// TestCredRoleArn: credentialsRef.roleArn assumes the role with the Secret's
// keys; every object assuming one role is one identity, whatever its keys.
func TestCredRoleArn(t *testing.T) {
	e := newUnitEnv(t)
	ctx := context.Background()
	const role = "qcs::cam::uin/100000000001:roleName/imageshare"
	var bases []string
	e.r.Credentials.Roles = tencent.NewRolesWith(func(base common.CredentialIface, roleArn string) common.Provider {
		bases = append(bases, base.GetSecretId()+" "+roleArn)
		return &sdkProvider{}
	})
	e.secret("team-a", "keys", unitOwnerID, unitOwnerKey)
	e.secret("team-b", "keys", unitOtherID, unitOtherKey)
	ca, ida, va := e.r.credentials(ctx, credObj("team-a", "keys", role))
	cb, idb, vb := e.r.credentials(ctx, credObj("team-b", "keys", role))
	if va != nil || vb != nil {
		t.Fatalf("verdicts %+v %+v", va, vb)
	}
	if ca.Role != role || cb.Role != role || ida != idb {
		t.Errorf("same role, different identities: %q %q", ida, idb)
	}
	_, plain, _ := e.r.credentials(ctx, credObj("team-a", "keys", ""))
	if plain == ida {
		t.Error("the role's identity is the keys' identity")
	}
	if want := []string{unitOwnerID + " " + role, unitOtherID + " " + role}; strings.Join(bases, ",") !=
		strings.Join(want, ",") {
		t.Errorf("roles assumed with %v, want %v", bases, want)
	}

	for code, reason := range map[string]string{
		"AuthFailure.SecretIdNotFound":  cvmv1alpha1.ReasonCredentialsInvalid,
		"ResourceNotFound.RoleNotExist": cvmv1alpha1.ReasonCredentialsInvalid,
		"UnauthorizedOperation":         cvmv1alpha1.ReasonPermissionDenied,
	} {
		e.r.Credentials.Roles = tencent.NewRolesWith(func(common.CredentialIface, string) common.Provider {
			return &sdkProvider{err: tcerr.NewTencentCloudSDKError(code, "refused", "req")}
		})
		_, _, v := e.r.credentials(ctx, credObj("team-a", "keys", role))
		wantVerdict(t, v, reason, true, role, "team-a/keys", code)
	}
	e.r.Credentials.Roles = nil
	_, _, v := e.r.credentials(ctx, credObj("team-a", "keys", role))
	wantVerdict(t, v, cvmv1alpha1.ReasonCredentialsInvalid, true, "roleArn")
}

func TestCredCacheNamespaces(t *testing.T) {
	if CacheNamespaces(nil) != nil || CacheNamespaces([]string{"a", "*"}) != nil {
		t.Error("no list, or *, must watch every namespace")
	}
	got := CacheNamespaces([]string{"a", "b"})
	if _, ok := got["a"]; !ok || len(got) != 2 {
		t.Errorf("CacheNamespaces = %v", got)
	}
}

// credentials resolves obj's keys alone, without a reconcile's keyring.
func (r *ImageShareReconciler) credentials(ctx context.Context, obj *cvmv1alpha1.ImageShare) (cloud.Credentials,
	string, *verdict) {
	creds, f := r.Credentials.Resolve(ctx, r.APIReader, obj.Namespace, obj.Spec.CredentialsRef)
	return r.credentialsVerdict(obj, creds, f)
}
