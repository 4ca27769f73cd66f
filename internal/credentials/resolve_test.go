package credentials

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

type source struct {
	creds cloud.Credentials
	err   error
}

func (s source) Credentials(context.Context) (cloud.Credentials, error) { return s.creds, s.err }
func (s source) Describe() string                                       { return "test chain" }

type roles struct {
	err error
	got cloud.Credentials
}

func (r *roles) AssumeRole(_ context.Context, base cloud.Credentials, arn string) (cloud.Credentials, error) {
	r.got = base
	if r.err != nil {
		return cloud.Credentials{}, r.err
	}
	return cloud.Credentials{SecretID: "tmp", SecretKey: "tmpkey", Token: "tok", Role: arn}, nil
}

const role = "qcs::cam::uin/100000000001:roleName/share"

// TestResolve walks every answer Resolve gives: which keys, or which reason
// and whether it is retried.
func TestResolve(t *testing.T) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	secret := func(ns, name string, data map[string]string) *corev1.Secret {
		d := map[string][]byte{}
		for k, v := range data {
			d[k] = []byte(v)
		}
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: d}
	}
	reader := fake.NewClientBuilder().WithScheme(s).WithObjects(
		secret("team-a", "tc", map[string]string{SecretIDKey: "AKIDa", SecretKeyKey: "keya"}),
		secret("team-a", "nokey", map[string]string{SecretIDKey: "AKIDa"}),
		secret("team-a", "bad", map[string]string{SecretIDKey: "AKID a", SecretKeyKey: "k"}),
		secret("team-b", "theirs", map[string]string{SecretIDKey: "AKIDb", SecretKeyKey: "keyb"}),
	).Build()
	env := cloud.Credentials{SecretID: "AKIDenv", SecretKey: "keyenv"}
	ref := func(name, arn string) *cvmv1alpha1.SecretReference {
		return &cvmv1alpha1.SecretReference{Name: name, RoleArn: arn}
	}
	denied := &cloud.Error{Op: "AssumeRole", Code: "AuthFailure.UnauthorizedOperation",
		Reason: cloud.ReasonPermissionDenied}
	cases := []struct {
		name    string
		src     Sources
		ns      string
		ref     *cvmv1alpha1.SecretReference
		wantID  string
		reason  string
		retried bool
		inMsg   string
	}{
		{name: "own secret", ns: "team-a", ref: ref("tc", ""), wantID: "AKIDa"},
		{name: "another namespace's secret is not found", ns: "team-a", ref: ref("theirs", ""),
			reason: cvmv1alpha1.ReasonCredentialsMissing, inMsg: "team-a/theirs not found"},
		{name: "missing key", ns: "team-a", ref: ref("nokey", ""), reason: cvmv1alpha1.ReasonCredentialsMissing,
			inMsg: "has no secretKey"},
		{name: "malformed key", ns: "team-a", ref: ref("bad", ""), reason: cvmv1alpha1.ReasonCredentialsInvalid,
			inMsg: "key secretId"},
		{name: "env not allowed here", src: Sources{Env: env, EnvNamespaces: []string{"platform"}}, ns: "team-a",
			reason: cvmv1alpha1.ReasonCredentialsMissing, inMsg: "--env-credentials-namespaces"},
		{name: "env allowed", src: Sources{Env: env, EnvNamespaces: []string{"platform"}}, ns: "platform",
			wantID: "AKIDenv"},
		{name: "env allowed everywhere", src: Sources{Env: env, EnvNamespaces: []string{AllNamespaces}}, ns: "x",
			wantID: "AKIDenv"},
		{name: "no env credentials", src: Sources{EnvNamespaces: []string{AllNamespaces}}, ns: "x",
			reason: cvmv1alpha1.ReasonCredentialsMissing, inMsg: "TENCENTCLOUD_SECRET_ID"},
		{name: "chain wins over env", src: Sources{Env: env, EnvNamespaces: []string{AllNamespaces},
			Manager: source{creds: cloud.Credentials{SecretID: "AKIDchain", SecretKey: "k"}}}, ns: "x",
			wantID: "AKIDchain"},
		{name: "chain empty", src: Sources{EnvNamespaces: []string{AllNamespaces},
			Manager: source{err: cloud.ErrNoCredentials}}, ns: "x", reason: cvmv1alpha1.ReasonCredentialsMissing,
			inMsg: "test chain"},
		{name: "chain refresh failing is retried", src: Sources{EnvNamespaces: []string{AllNamespaces},
			Manager: source{err: errors.New("metadata timeout")}}, ns: "x", reason: cvmv1alpha1.ReasonCloudError,
			retried: true},
		{name: "role without a role assumer", ns: "team-a", ref: ref("tc", role),
			reason: cvmv1alpha1.ReasonCredentialsInvalid, inMsg: "cannot assume role"},
		{name: "role assumed", src: Sources{Roles: &roles{}}, ns: "team-a", ref: ref("tc", role), wantID: "tmp"},
		{name: "role refused", src: Sources{Roles: &roles{err: denied}}, ns: "team-a", ref: ref("tc", role),
			reason: cvmv1alpha1.ReasonPermissionDenied, inMsg: "sts:AssumeRole"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			creds, f := c.src.Resolve(context.Background(), reader, c.ns, c.ref)
			if c.reason == "" {
				if f != nil || creds.SecretID != c.wantID {
					t.Fatalf("got %q, failure %+v; want keys %q", creds.SecretID, f, c.wantID)
				}
				return
			}
			if f == nil {
				t.Fatalf("got keys %q, want failure %s", creds.SecretID, c.reason)
			}
			if f.Reason != c.reason || (f.Err != nil) != c.retried || !strings.Contains(f.Message, c.inMsg) {
				t.Errorf("failure %+v; want reason %s, retried %v, message containing %q", f, c.reason, c.retried,
					c.inMsg)
			}
			if strings.Contains(f.Message, "keya") || strings.Contains(f.Message, "keyb") {
				t.Errorf("message echoes a key: %s", f.Message)
			}
		})
	}
}

// TestIdentity: one role is one identity whatever keys assumed it; keys
// sharing a SecretId but not the key are two.
func TestIdentity(t *testing.T) {
	a := Identity(cloud.Credentials{SecretID: "AKID", SecretKey: "k1"})
	b := Identity(cloud.Credentials{SecretID: "AKID", SecretKey: "k2"})
	r1 := Identity(cloud.Credentials{SecretID: "t1", SecretKey: "x", Role: role})
	r2 := Identity(cloud.Credentials{SecretID: "t2", SecretKey: "y", Role: role})
	if a == b || r1 != r2 || a == r1 {
		t.Errorf("identities: %s %s %s %s", a, b, r1, r2)
	}
}
