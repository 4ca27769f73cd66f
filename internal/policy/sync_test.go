package policy

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
	"github.com/imageshare/imageshare-operator/internal/credentials"
)

func testScheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := cvmv1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func testPolicy() *cvmv1alpha1.ImageSharePolicy {
	return &cvmv1alpha1.ImageSharePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: types.UID("uid-p")},
		Spec: cvmv1alpha1.ImageSharePolicySpec{Region: "ap-guangzhou", KeepLatest: 1,
			AccountIDs: []string{"100000000002"}}}
}

// ownedChild is a child of testPolicy for imageID, its spec the policy's,
// Ready (or not) for its generation.
func ownedChild(t *testing.T, s *runtime.Scheme, p *cvmv1alpha1.ImageSharePolicy, imageID string,
	isReady bool) *cvmv1alpha1.ImageShare {
	c := &cvmv1alpha1.ImageShare{ObjectMeta: metav1.ObjectMeta{Name: childName(p.Name, imageID),
		Namespace: p.Namespace, Labels: map[string]string{cvmv1alpha1.PolicyLabel: p.Name}},
		Spec: childSpec(p, imageID)}
	if err := controllerutil.SetControllerReference(p, c, s); err != nil {
		t.Fatal(err)
	}
	if isReady {
		c.Status.Conditions = []metav1.Condition{{Type: cvmv1alpha1.ConditionReady, Status: metav1.ConditionTrue,
			Reason: cvmv1alpha1.ReasonShared, LastTransitionTime: metav1.Now()}}
	}
	return c
}

// markCurrent makes the stored children's statuses describe their generation.
func markCurrent(children []cvmv1alpha1.ImageShare) {
	for i := range children {
		children[i].Status.ObservedGeneration = children[i].Generation
		for j := range children[i].Status.Conditions {
			children[i].Status.Conditions[j].ObservedGeneration = children[i].Generation
		}
	}
}

func names(children []cvmv1alpha1.ImageShare) []string {
	var out []string
	for _, c := range children {
		if c.DeletionTimestamp == nil {
			out = append(out, c.Name)
		}
	}
	return out
}

func TestSyncChildrenKeepsTheOldBuildUntilTheNewOneIsReady(t *testing.T) {
	s := testScheme(t)
	p := testPolicy()
	a, b := img("img-a", 1, cloud.ImageStateNormal), img("img-b", 2, cloud.ImageStateNormal)
	old := ownedChild(t, s, p, "img-a", true)
	cl := fake.NewClientBuilder().WithScheme(s).WithObjects(p, old).WithStatusSubresource(old).Build()
	r := &Reconciler{Client: cl, Scheme: s}
	ctx := context.Background()

	// Pass 1: img-b is new; img-a fell out of keepLatest 1 and is kept.
	children, err := r.children(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	markCurrent(children)
	selected, surplus := selectImages([]cloud.ListedImage{a, b}, 1, func(string) bool { return true })
	out, err := r.syncChildren(ctx, p, selected, surplus, children)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(out.children); !slices.Equal(got, []string{"p-img-a", "p-img-b"}) || !slices.Equal(out.held,
		[]string{"p-img-a"}) {
		t.Fatalf("children %v held %v, want both children and p-img-a held", got, out.held)
	}

	// Pass 2: img-b's child is Ready for its generation: img-a's child is retired.
	children, _ = r.children(ctx, p)
	for i := range children {
		if children[i].Name == "p-img-b" {
			children[i].Status.Conditions = []metav1.Condition{{Type: cvmv1alpha1.ConditionReady,
				Status: metav1.ConditionTrue, Reason: cvmv1alpha1.ReasonShared}}
		}
	}
	markCurrent(children)
	out, err = r.syncChildren(ctx, p, selected, surplus, children)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(out.children); !slices.Equal(got, []string{"p-img-b"}) || len(out.held) != 0 {
		t.Fatalf("children %v held %v, want only p-img-b", got, out.held)
	}
	if err := cl.Get(ctx, client.ObjectKeyFromObject(old), &cvmv1alpha1.ImageShare{}); !apierrors.IsNotFound(err) {
		t.Errorf("p-img-a still exists (%v), want it deleted", err)
	}
}

func TestSyncChildrenRetiresAnUnlistedImageAtOnce(t *testing.T) {
	s := testScheme(t)
	p := testPolicy()
	old := ownedChild(t, s, p, "img-a", true)
	cl := fake.NewClientBuilder().WithScheme(s).WithObjects(p, old).Build()
	r := &Reconciler{Client: cl, Scheme: s}
	ctx := context.Background()
	children, _ := r.children(ctx, p)
	// img-a is no longer listed; img-b is new and not Ready yet.
	out, err := r.syncChildren(ctx, p, []cloud.ListedImage{img("img-b", 2, cloud.ImageStateNormal)}, nil, children)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(out.children); !slices.Equal(got, []string{"p-img-b"}) || len(out.held) != 0 {
		t.Errorf("children %v held %v, want p-img-a retired at once", got, out.held)
	}
}

func TestSyncChildrenReportsARejectedChildAsStalled(t *testing.T) {
	s := testScheme(t)
	p := testPolicy()
	invalid := apierrors.NewInvalid(schema.GroupKind{Group: cvmv1alpha1.GroupVersion.Group, Kind: "ImageShare"},
		"p-img-b", nil)
	cl := fake.NewClientBuilder().WithScheme(s).WithObjects(p).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			return invalid
		}}).Build()
	r := &Reconciler{Client: cl, Scheme: s}
	out, err := r.syncChildren(context.Background(), p, []cloud.ListedImage{img("img-b", 2, cloud.ImageStateNormal)},
		nil, nil)
	if err != nil {
		t.Fatalf("err %v, want the rejection in a verdict", err)
	}
	if v := out.rejected; v == nil || !v.stalled || v.reason != cvmv1alpha1.ReasonChildRejected ||
		!strings.Contains(v.message, "p-img-b") || !strings.Contains(v.message, "is invalid") {
		t.Errorf("verdict %+v, want Stalled ChildRejected naming the child and the error", v)
	}

	// A transient failure stays an error, retried.
	cl = fake.NewClientBuilder().WithScheme(s).WithObjects(p).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			return apierrors.NewServiceUnavailable("etcd")
		}}).Build()
	r = &Reconciler{Client: cl, Scheme: s}
	if _, err := r.syncChildren(context.Background(), p, []cloud.ListedImage{img("img-b", 2,
		cloud.ImageStateNormal)}, nil, nil); err == nil {
		t.Error("a transient Create failure returned no error")
	}
}

type fakeSource struct {
	creds cloud.Credentials
	err   error
}

func (f fakeSource) Credentials(context.Context) (cloud.Credentials, error) { return f.creds, f.err }
func (f fakeSource) Describe() string                                       { return "fake chain" }

type fakeRoles struct{ arn string }

func (f *fakeRoles) AssumeRole(_ context.Context, base cloud.Credentials, roleArn string) (cloud.Credentials,
	error) {
	f.arn = roleArn
	return cloud.Credentials{SecretID: "tmp-" + base.SecretID, SecretKey: "tmp", Token: "t"}, nil
}

func TestCredentials(t *testing.T) {
	s := testScheme(t)
	ctx := context.Background()
	p := testPolicy()

	manager := func(src fakeSource) *Reconciler {
		return &Reconciler{Options: Options{Credentials: credentials.Sources{EnvNamespaces: []string{"*"}, Manager: src}}}
	}
	r := manager(fakeSource{err: cloud.ErrNoCredentials})
	if _, v, err := r.credentials(ctx, p); err != nil || v == nil || !v.stalled ||
		v.reason != cvmv1alpha1.ReasonCredentialsMissing || !strings.Contains(v.message, "fake chain") {
		t.Errorf("no manager credentials: verdict %+v err %v, want Stalled CredentialsMissing", v, err)
	}
	r.Credentials.EnvNamespaces = []string{"platform"}
	if _, v, err := r.credentials(ctx, p); err != nil || v == nil || v.reason != cvmv1alpha1.ReasonCredentialsMissing ||
		!strings.Contains(v.message, "--env-credentials-namespaces") {
		t.Errorf("a namespace not allowed the manager's credentials: verdict %+v err %v, want CredentialsMissing", v, err)
	}
	r = manager(fakeSource{err: errors.New("metadata timeout")})
	if _, v, err := r.credentials(ctx, p); err == nil || v != nil {
		t.Errorf("a failing refresh: verdict %+v err %v, want a retried error", v, err)
	}
	r = manager(fakeSource{creds: cloud.Credentials{SecretID: "id", SecretKey: "key"}})
	if c, v, err := r.credentials(ctx, p); err != nil || v != nil || c.SecretID != "id" {
		t.Errorf("manager credentials: %+v %+v %v", c, v, err)
	}

	// credentialsRef.roleArn: the Secret's keys assume the role.
	secret := map[string][]byte{credentials.SecretIDKey: []byte("AKID"), credentials.SecretKeyKey: []byte("key")}
	p.Spec.CredentialsRef = &cvmv1alpha1.SecretReference{Name: "tc",
		RoleArn: "qcs::cam::uin/100000000001:roleName/share"}
	cl := fake.NewClientBuilder().WithScheme(s).WithObjects(secretObject("ns", "tc", secret)).Build()
	roles := &fakeRoles{}
	r = &Reconciler{Client: cl, APIReader: cl, Options: Options{Credentials: credentials.Sources{Roles: roles}}}
	if c, v, err := r.credentials(ctx, p); err != nil || v != nil || c.SecretID != "tmp-AKID" ||
		roles.arn != p.Spec.CredentialsRef.RoleArn {
		t.Errorf("roleArn: %+v %+v %v (assumed %q), want the role's credentials", c, v, err, roles.arn)
	}
	r = &Reconciler{Client: cl, APIReader: cl}
	if _, v, err := r.credentials(ctx, p); err != nil || v == nil || v.reason != cvmv1alpha1.ReasonCredentialsInvalid {
		t.Errorf("roleArn without Roles: verdict %+v err %v, want Stalled CredentialsInvalid", v, err)
	}
}

func secretObject(ns, name string, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
}
