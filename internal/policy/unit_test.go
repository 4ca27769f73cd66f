package policy

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func img(id string, hours int, state string) cloud.ListedImage {
	return cloud.ListedImage{ID: id, State: state, CreatedTime: t0.Add(time.Duration(hours) * time.Hour)}
}

func TestSelectImages(t *testing.T) {
	normal := cloud.ImageStateNormal
	cases := []struct {
		name   string
		images []cloud.ListedImage
		keep   int32
		want   []string
	}{
		{"nothing", nil, 0, []string{}},
		{"newest first", []cloud.ListedImage{img("img-a", 1, normal), img("img-b", 3, normal), img("img-c", 2, normal)},
			0, []string{"img-b", "img-c", "img-a"}},
		{"keepLatest keeps the newest", []cloud.ListedImage{img("img-a", 1, normal), img("img-b", 3, normal),
			img("img-c", 2, normal)}, 2, []string{"img-b", "img-c"}},
		{"keepLatest above the count keeps all", []cloud.ListedImage{img("img-a", 1, normal)}, 5, []string{"img-a"}},
		{"only NORMAL images count", []cloud.ListedImage{img("img-a", 1, normal), img("img-b", 3, "CREATING"),
			img("img-c", 2, "CREATEFAILED")}, 1, []string{"img-a"}},
		{"same time: higher imageId is newer", []cloud.ListedImage{img("img-a", 1, normal), img("img-c", 1, normal),
			img("img-b", 1, normal)}, 2, []string{"img-c", "img-b"}},
		{"unknown creation time is oldest", []cloud.ListedImage{{ID: "img-z", State: normal},
			img("img-a", 1, normal)}, 1, []string{"img-a"}},
		{"an image with a child stays selected while SYNCING", []cloud.ListedImage{img("img-a", 1, normal),
			img("img-s", 3, "SYNCING")}, 1, []string{"img-s"}},
		{"an image with a child stays selected while USING", []cloud.ListedImage{img("img-u", 3, "USING"),
			img("img-a", 1, normal)}, 0, []string{"img-u", "img-a"}},
		{"a failed image with a child is dropped", []cloud.ListedImage{img("img-f", 3, "CREATEFAILED"),
			img("img-a", 1, normal)}, 1, []string{"img-a"}},
		{"a deleting image with a child is dropped", []cloud.ListedImage{img("img-d", 3, "DELETING"),
			img("img-a", 1, normal)}, 1, []string{"img-a"}},
		{"a non-NORMAL image with a child still ranks by creation time", []cloud.ListedImage{
			img("img-s", 1, "SYNCING"), img("img-b", 3, normal), img("img-c", 2, normal)}, 2, []string{"img-b", "img-c"}},
	}
	withChild := func(id string) bool { return id != "img-b" && id != "img-c" && id != "img-a" }
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := []string{}
			selected, surplus := selectImages(tc.images, tc.keep, withChild)
			for _, i := range selected {
				got = append(got, i.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			for _, i := range surplus {
				if slices.Contains(got, i.ID) {
					t.Errorf("surplus %s is also selected", i.ID)
				}
			}
		})
	}
}

func TestSelectImagesAdmitsNewImagesOnlyWhenNormal(t *testing.T) {
	images := []cloud.ListedImage{img("img-s", 3, "SYNCING"), img("img-a", 1, cloud.ImageStateNormal)}
	selected, surplus := selectImages(images, 1, func(string) bool { return false })
	if len(selected) != 1 || selected[0].ID != "img-a" || len(surplus) != 0 {
		t.Errorf("selected %v surplus %v, want only img-a (a new SYNCING image is not admitted)", selected, surplus)
	}
	selected, surplus = selectImages([]cloud.ListedImage{img("img-b", 2, cloud.ImageStateNormal),
		img("img-a", 1, cloud.ImageStateNormal)}, 1, nil)
	if len(selected) != 1 || selected[0].ID != "img-b" || len(surplus) != 1 || surplus[0].ID != "img-a" {
		t.Errorf("selected %v surplus %v, want img-b selected and img-a surplus", selected, surplus)
	}
}

// child is a child ImageShare of policy "p" whose status is for its generation.
func child(imageID string, conds ...metav1.Condition) cvmv1alpha1.ImageShare {
	c := cvmv1alpha1.ImageShare{ObjectMeta: metav1.ObjectMeta{Name: childName("p", imageID), Generation: 2},
		Spec: cvmv1alpha1.ImageShareSpec{ImageID: imageID}}
	c.Status.ObservedGeneration = 2
	for _, cond := range conds {
		cond.ObservedGeneration = 2
		c.Status.Conditions = append(c.Status.Conditions, cond)
	}
	return c
}

func cond(t, reason string, status metav1.ConditionStatus) metav1.Condition {
	return metav1.Condition{Type: t, Status: status, Reason: reason, Message: reason + " message"}
}

var (
	readyShared  = cond(cvmv1alpha1.ConditionReady, cvmv1alpha1.ReasonShared, metav1.ConditionTrue)
	readyExpired = cond(cvmv1alpha1.ConditionReady, cvmv1alpha1.ReasonExpired, metav1.ConditionTrue)
	pending      = cond(cvmv1alpha1.ConditionReady, cvmv1alpha1.ReasonProgressing, metav1.ConditionFalse)
	overLimit    = cond(cvmv1alpha1.ConditionStalled, cvmv1alpha1.ReasonShareLimitExceeded, metav1.ConditionTrue)
)

func TestAggregate(t *testing.T) {
	normal := cloud.ImageStateNormal
	a, b := img("img-a", 1, normal), img("img-b", 2, normal)
	stale := child("img-a", readyShared)
	stale.Generation = 3 // the child's status describes an older spec
	deleting := child("img-a", readyShared)
	deleting.DeletionTimestamp = &metav1.Time{Time: t0}
	cases := []struct {
		name        string
		selected    []cloud.ListedImage
		children    []cvmv1alpha1.ImageShare
		ready       metav1.ConditionStatus
		reason      string
		stalled     bool
		reconciling bool
		readyImages []bool
		mentions    string
	}{
		{"nothing selected", nil, nil, metav1.ConditionTrue, cvmv1alpha1.ReasonNoImagesSelected, false, false, nil, ""},
		{"every child Ready", []cloud.ListedImage{b, a}, []cvmv1alpha1.ImageShare{child("img-a", readyShared),
			child("img-b", readyShared)}, metav1.ConditionTrue, cvmv1alpha1.ReasonShared, false, false,
			[]bool{true, true}, "img-b, img-a"},
		{"a child not created yet", []cloud.ListedImage{b, a}, []cvmv1alpha1.ImageShare{child("img-a", readyShared)},
			metav1.ConditionFalse, cvmv1alpha1.ReasonProgressing, false, true, []bool{false, true}, "p-img-b"},
		{"a child pending", []cloud.ListedImage{a}, []cvmv1alpha1.ImageShare{child("img-a", pending)},
			metav1.ConditionFalse, cvmv1alpha1.ReasonProgressing, false, true, []bool{false}, "p-img-a"},
		{"a stale child status is not Ready", []cloud.ListedImage{a}, []cvmv1alpha1.ImageShare{stale},
			metav1.ConditionFalse, cvmv1alpha1.ReasonProgressing, false, true, []bool{false}, ""},
		{"a Stalled child stalls the policy, named", []cloud.ListedImage{b, a}, []cvmv1alpha1.ImageShare{
			child("img-a", readyShared), child("img-b", overLimit)}, metav1.ConditionFalse,
			cvmv1alpha1.ReasonShareLimitExceeded, true, false, []bool{false, true}, "ImageShare p-img-b"},
		{"a retiring child keeps the policy progressing", []cloud.ListedImage{b}, []cvmv1alpha1.ImageShare{
			deleting, child("img-b", readyShared)}, metav1.ConditionFalse, cvmv1alpha1.ReasonProgressing, false, true,
			[]bool{true}, "Retiring 1 ImageShares"},
		{"nothing selected while retiring", nil, []cvmv1alpha1.ImageShare{deleting}, metav1.ConditionFalse,
			cvmv1alpha1.ReasonProgressing, false, true, nil, "p-img-a"},
		{"every child expired", []cloud.ListedImage{a}, []cvmv1alpha1.ImageShare{child("img-a", readyExpired)},
			metav1.ConditionTrue, cvmv1alpha1.ReasonExpired, false, false, []bool{true}, ""},
		{"an older child held past keepLatest is named", []cloud.ListedImage{b}, []cvmv1alpha1.ImageShare{
			child("img-a", readyShared), child("img-b", pending)}, metav1.ConditionFalse,
			cvmv1alpha1.ReasonProgressing, false, true, []bool{false}, "keeping 1 ImageShares of older images past " +
				"keepLatest until then: p-img-a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var held []string
			if strings.HasPrefix(tc.name, "an older child held") {
				held = []string{"p-img-a"}
			}
			images, v := aggregate("p", tc.selected, tc.children, held)
			if v.ready != tc.ready || v.reason != tc.reason || v.stalled != tc.stalled || v.reconciling != tc.reconciling {
				t.Errorf("verdict %+v, want ready %s reason %s stalled %v reconciling %v", v, tc.ready, tc.reason,
					tc.stalled, tc.reconciling)
			}
			if tc.mentions != "" && !contains(v.message, tc.mentions) {
				t.Errorf("message %q does not mention %q", v.message, tc.mentions)
			}
			var gotReady []bool
			for i, im := range images {
				gotReady = append(gotReady, im.Ready)
				if im.ImageID != tc.selected[i].ID || im.Child != childName("p", im.ImageID) ||
					!im.CreatedTime.Time.Equal(tc.selected[i].CreatedTime) {
					t.Errorf("images[%d] = %+v, want %s in selection order", i, im, tc.selected[i].ID)
				}
			}
			if !slices.Equal(gotReady, tc.readyImages) {
				t.Errorf("ready flags %v, want %v", gotReady, tc.readyImages)
			}
		})
	}
}

func TestSetConditionsWritesTheTriad(t *testing.T) {
	p := &cvmv1alpha1.ImageSharePolicy{ObjectMeta: metav1.ObjectMeta{Generation: 4}}
	setConditions(p, stalled(cvmv1alpha1.ReasonCredentialsMissing, "no keys"))
	if s := meta.FindStatusCondition(p.Status.Conditions, cvmv1alpha1.ConditionStalled); s == nil ||
		s.Status != metav1.ConditionTrue || s.ObservedGeneration != 4 {
		t.Fatalf("Stalled %+v, want True for generation 4", s)
	}
	setConditions(p, ready(cvmv1alpha1.ReasonNoImagesSelected, "none"))
	if meta.FindStatusCondition(p.Status.Conditions, cvmv1alpha1.ConditionStalled) != nil ||
		meta.FindStatusCondition(p.Status.Conditions, cvmv1alpha1.ConditionReconciling) != nil ||
		!meta.IsStatusConditionTrue(p.Status.Conditions, cvmv1alpha1.ConditionReady) || p.Status.ObservedGeneration != 4 {
		t.Errorf("conditions %+v, want only Ready True", p.Status.Conditions)
	}
}

func TestChildSpecPassesTheSharingFieldsButNotPublish(t *testing.T) {
	at := metav1.NewTime(t0)
	p := &cvmv1alpha1.ImageSharePolicy{Spec: cvmv1alpha1.ImageSharePolicySpec{Region: "ap-guangzhou",
		AccountIDs: []string{"100000000002"}, ReplicaRegions: []string{"ap-shanghai"}, Mode: cvmv1alpha1.ModeMerge,
		DeletionPolicy: cvmv1alpha1.DeletionPolicyDelete, CopyDeletionPolicy: cvmv1alpha1.CopyDeletionPolicyRetain,
		CredentialsRef: &cvmv1alpha1.SecretReference{Name: "tc"}, ExpiresAt: &at,
		AccountsFrom: []cvmv1alpha1.AccountsSource{{ConfigMapKeyRef: cvmv1alpha1.ConfigMapKeyReference{Name: "a", Key: "k"}}},
		Publish:      &cvmv1alpha1.PublishSpec{ConfigMapName: "images"}}}
	s := childSpec(p, "img-aaaa0001")
	if s.ImageID != "img-aaaa0001" || s.Region != "ap-guangzhou" || !slices.Equal(s.AccountIDs, p.Spec.AccountIDs) ||
		!slices.Equal(s.ReplicaRegions, p.Spec.ReplicaRegions) || s.CredentialsRef.Name != "tc" ||
		!s.ExpiresAt.Equal(&at) || len(s.AccountsFrom) != 1 || s.Publish != nil {
		t.Errorf("child spec %+v does not carry the policy's sharing fields (and only those)", s)
	}
}

func TestPublishedData(t *testing.T) {
	const home, sh, bj = "ap-guangzhou", "ap-shanghai", "ap-beijing"
	normal := cloud.ImageStateNormal
	a, b := img("img-a", 1, normal), img("img-b", 2, normal)
	withCopies := func(c cvmv1alpha1.ImageShare, rs ...cvmv1alpha1.RegionStatus) *cvmv1alpha1.ImageShare {
		c.Status.Regions = rs
		return &c
	}
	copyOf := func(region, id, state string) cvmv1alpha1.RegionStatus {
		return cvmv1alpha1.RegionStatus{Region: region, ImageID: id, State: state}
	}
	aReady := withCopies(child("img-a", readyShared), copyOf(sh, "img-ash", normal), copyOf(bj, "img-abj", normal))
	cases := []struct {
		name     string
		selected []cloud.ListedImage
		children []*cvmv1alpha1.ImageShare
		current  map[string]string
		want     map[string]string
	}{
		{"nothing selected, nothing published: no keys", nil, nil, nil, map[string]string{}},
		{"nothing selected keeps what is published", nil, nil, map[string]string{home: "img-a", sh: "img-ash"},
			map[string]string{home: "img-a", sh: "img-ash"}},
		{"the newest Ready child and its NORMAL copies", []cloud.ListedImage{b, a}, []*cvmv1alpha1.ImageShare{
			withCopies(child("img-b", readyShared), copyOf(sh, "img-bsh", normal), copyOf(bj, "img-bbj", "SYNCING")),
			aReady}, nil, map[string]string{home: "img-b", sh: "img-bsh", bj: "img-abj"}},
		{"a new image not yet shared is not published", []cloud.ListedImage{b, a}, []*cvmv1alpha1.ImageShare{
			withCopies(child("img-b", pending), copyOf(sh, "img-bsh", normal)), aReady},
			map[string]string{home: "img-a", sh: "img-ash", bj: "img-abj"},
			map[string]string{home: "img-a", sh: "img-ash", bj: "img-abj"}},
		{"a copy still syncing keeps the previous copy's key", []cloud.ListedImage{b}, []*cvmv1alpha1.ImageShare{
			withCopies(child("img-b", readyShared), copyOf(sh, "img-bsh", normal), copyOf(bj, "img-bbj", "SYNCING"))},
			map[string]string{home: "img-a", sh: "img-ash", bj: "img-abj"},
			map[string]string{home: "img-b", sh: "img-bsh", bj: "img-abj"}},
		{"a newer value is kept while its child is briefly not Ready", []cloud.ListedImage{b, a},
			[]*cvmv1alpha1.ImageShare{withCopies(child("img-b", pending), copyOf(sh, "img-bsh", normal),
				copyOf(bj, "img-bbj", normal)), aReady},
			map[string]string{home: "img-b", sh: "img-bsh", bj: "img-bbj"},
			map[string]string{home: "img-b", sh: "img-bsh", bj: "img-bbj"}},
		{"a region the policy left is dropped", []cloud.ListedImage{a}, []*cvmv1alpha1.ImageShare{aReady},
			map[string]string{home: "img-a", "ap-chengdu": "img-x"}, map[string]string{home: "img-a", sh: "img-ash",
				bj: "img-abj"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			byName := map[string]*cvmv1alpha1.ImageShare{}
			for _, c := range tc.children {
				byName[c.Name] = c
			}
			got := publishedData(home, []string{sh, bj}, tc.selected, byName, "p", tc.current)
			if !maps.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
