/*
Copyright 2026.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package reliability

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// ---------------------------------------------------------------------------
// Admission: every bad manifest of contract §1, rejected with a clear message.
// api/v1alpha1 has the detailed table; this is the compact catalogue.

func TestHostileManifests(t *testing.T) {
	requireCluster(t)
	t.Cleanup(func() { purgeShares(t) })
	const ns = "hostile-admission"
	ensureNamespace(t, ns)
	many := make([]any, 501)
	for i := range many {
		many[i] = fmt.Sprintf("%d", 100000000000+i)
	}
	cases := []struct {
		name   string
		change func(spec map[string]any)
		want   string
	}{
		{"imageId missing", func(s map[string]any) { delete(s, "imageId") }, `spec.imageId: Required value`},
		{"imageId malformed", func(s map[string]any) { s["imageId"] = "img-6PB6LRMY" }, `spec.imageId`},
		{"region missing", func(s map[string]any) { delete(s, "region") }, `spec.region: Required value`},
		{"region malformed", func(s map[string]any) { s["region"] = "Guangzhou" }, `spec.region`},
		{"account ID of 4 digits", func(s map[string]any) { s["accountIds"] = []any{"1234"} }, `spec.accountIds[0]`},
		{"account ID of 21 digits", func(s map[string]any) {
			s["accountIds"] = []any{"1" + strings.Repeat("0", 20)}
		}, `spec.accountIds[0]`},
		{"account ID with a leading zero", func(s map[string]any) { s["accountIds"] = []any{"0100000000002"} },
			`spec.accountIds[0]`},
		{"account ID as a number", func(s map[string]any) { s["accountIds"] = []any{int64(100000000002)} },
			`spec.accountIds[0]`},
		{"duplicate account ID", func(s map[string]any) {
			s["accountIds"] = []any{"100000000002", "100000000002"}
		}, `Duplicate value`},
		{"501 account IDs", func(s map[string]any) { s["accountIds"] = many }, `spec.accountIds`},
		{"unknown mode", func(s map[string]any) { s["mode"] = "Replace" }, `spec.mode: Unsupported value`},
		{"unknown deletionPolicy", func(s map[string]any) { s["deletionPolicy"] = "Retain" },
			`spec.deletionPolicy: Unsupported value`},
		{"credentialsRef without a name", func(s map[string]any) { s["credentialsRef"] = map[string]any{} },
			`spec.credentialsRef.name`},
	}
	for i, c := range cases {
		spec := map[string]any{"imageId": "img-6pb6lrmy", "region": regionGZ, "accountIds": []any{"100000000002"}}
		c.change(spec)
		err := kube.admin.Create(context.Background(), unstructuredShare(ns, fmt.Sprintf("bad-%02d", i), spec))
		switch {
		case err == nil:
			t.Errorf("%s: accepted", c.name)
		case !apierrors.IsInvalid(err):
			t.Errorf("%s: rejected, but not as invalid: %v", c.name, err)
		case !strings.Contains(err.Error(), c.want):
			t.Errorf("%s: message %q does not contain %q", c.name, err.Error(), c.want)
		default:
			t.Logf("ADMISSION %s: %s", c.name, truncate(err.Error(), 200))
		}
	}

	// Immutable fields.
	good := newShare(ns, "immutable", "img-6pb6lrmy", regionGZ, cvmv1alpha1.ModeMerge, "", "100000000002")
	if err := kube.admin.Create(context.Background(), good); err != nil {
		t.Fatalf("create a valid ImageShare: %v", err)
	}
	for field, change := range map[string]func(*cvmv1alpha1.ImageShare){
		"imageId": func(o *cvmv1alpha1.ImageShare) { o.Spec.ImageID = "img-00000000" },
		"region":  func(o *cvmv1alpha1.ImageShare) { o.Spec.Region = regionSH },
	} {
		o, err := getShare(ns, "immutable")
		if err != nil {
			t.Fatal(err)
		}
		change(o)
		err = kube.admin.Update(context.Background(), o)
		if err == nil || !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), field+" is immutable") {
			t.Errorf("change of %s: want an immutability error, got %v", field, err)
		} else {
			t.Logf("ADMISSION change of %s: %s", field, truncate(err.Error(), 200))
		}
	}

	// A Secret in another namespace cannot even be named: the reference has
	// no namespace field. kubectl's strict field validation rejects one; a
	// client that does not ask for it gets the field pruned.
	spec := map[string]any{"imageId": "img-6pb6lrmy", "region": regionGZ,
		"credentialsRef": map[string]any{"name": credsSecret, "namespace": "kube-system"}}
	err := kube.admin.Create(context.Background(), unstructuredShare(ns, "cross-ns-strict", spec),
		client.FieldValidation("Strict"))
	if err == nil || !strings.Contains(err.Error(), `unknown field "spec.credentialsRef.namespace"`) {
		t.Errorf("credentialsRef.namespace under strict validation: want unknown field, got %v", err)
	} else {
		t.Logf("ADMISSION credentialsRef.namespace (strict, as kubectl sends it): %s", truncate(err.Error(), 200))
	}
	if err := kube.admin.Create(context.Background(), unstructuredShare(ns, "cross-ns-pruned", spec)); err != nil {
		t.Fatalf("create with credentialsRef.namespace, lax validation: %v", err)
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(cvmv1alpha1.GroupVersion.WithKind("ImageShare"))
	pruned := client.ObjectKey{Namespace: ns, Name: "cross-ns-pruned"}
	if err := kube.admin.Get(context.Background(), pruned, u); err != nil {
		t.Fatal(err)
	}
	ref, _, _ := unstructured.NestedMap(u.Object, "spec", "credentialsRef")
	if _, has := ref["namespace"]; has || ref["name"] != credsSecret {
		t.Errorf("stored credentialsRef is %v, want only the name", ref)
	}
}

func unstructuredShare(ns, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetGroupVersionKind(cvmv1alpha1.GroupVersion.WithKind("ImageShare"))
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// ---------------------------------------------------------------------------
// Runtime: every bad situation of contract §2 and §3, hostile Secrets, 500
// accounts and 1,000 objects, all at once on one manager.

// Accounts of the hostile cloud.
const (
	otherOwnerID = "100000000099"
	collabID     = "100000000003"
	nobodyID     = "5999999999999"
	volumeCount  = 1000
)

func recipient(j int) string { return fmt.Sprintf("5%011d", j) }

func recipients(from, to int) []string {
	var out []string
	for j := from; j < to; j++ {
		out = append(out, recipient(j))
	}
	return out
}

// hostileCase is one bad situation and the outcome contract §3 demands.
type hostileCase struct {
	name     string
	image    string
	region   string
	mode     cvmv1alpha1.Mode
	credRef  string
	accounts []string
	reason   string
	// inMessage must appear in the Ready message.
	inMessage string
	// shared and failed, when set, are the status the object must report.
	shared []string
	failed map[string]string
}

func hostileSeed() *emulator.Seed {
	f := false
	seed := &emulator.Seed{ShareLimit: 500, Accounts: []emulator.SeedAccount{
		{ID: ownerID, SecretID: ownerSecretID, SecretKey: ownerSecretKey},
		{ID: otherOwnerID, SecretID: "AKIDreliabilityOther99", SecretKey: "other-secret-key-99"},
		{ID: collabID, Root: &f},
	}}
	for _, r := range recipients(0, 600) {
		seed.Accounts = append(seed.Accounts, emulator.SeedAccount{ID: r})
	}
	img := func(n int, mutate func(*emulator.SeedImage)) {
		i := emulator.SeedImage{ID: hostileImage(n), Region: regionGZ, Owner: ownerID}
		if mutate != nil {
			mutate(&i)
		}
		seed.Images = append(seed.Images, i)
	}
	img(1, func(i *emulator.SeedImage) { i.Region = regionSH })
	img(4, func(i *emulator.SeedImage) { i.Owner = otherOwnerID; i.SharedWith = []string{ownerID} })
	img(5, func(i *emulator.SeedImage) { i.Owner = ""; i.Type = emulator.ImageTypePublic })
	img(6, func(i *emulator.SeedImage) { i.LicenseType = emulator.LicenseBYOL })
	img(7, func(i *emulator.SeedImage) { i.Encrypted = true })
	img(8, func(i *emulator.SeedImage) { i.State = emulator.StateSyncing })
	img(9, func(i *emulator.SeedImage) { i.State = emulator.StateCreating })
	img(10, func(i *emulator.SeedImage) { i.SharedWith = recipients(0, 498) })
	img(11, nil)
	img(12, nil)
	img(13, func(i *emulator.SeedImage) { i.SharedWith = []string{recipient(1)} })
	img(14, func(i *emulator.SeedImage) { i.SharedWith = []string{recipient(1), recipient(2)} })
	img(15, func(i *emulator.SeedImage) { i.Owner = otherOwnerID })
	for n := 16; n <= 20; n++ {
		img(n, nil)
	}
	return seed
}

func hostileImage(n int) string { return fmt.Sprintf("img-hst%05d", n) }

// hostileSecrets are the Secrets of the credential cases, by name.
func hostileSecrets() map[string]map[string][]byte {
	huge := make([]byte, 1<<20-1024) // about the most a Secret may hold (1 MiB in all)
	for i := range huge {
		huge[i] = 'k'
	}
	return map[string]map[string][]byte{
		credsSecret:      ownerKeys(),
		"no-secret-key":  {"secretId": []byte(ownerSecretID)},
		"no-keys-at-all": {"unrelated": []byte("x")},
		"empty-values":   {"secretId": {}, "secretKey": {}},
		"non-utf8-key":   {"secretId": []byte(ownerSecretID), "secretKey": {0xff, 0xfe, 0xfd, 'k'}},
		"non-utf8-id":    {"secretId": {'A', 'K', 0xc3, 0x28}, "secretKey": []byte(ownerSecretKey)},
		"huge-key":       {"secretId": []byte(ownerSecretID), "secretKey": huge},
		"unknown-id":     {"secretId": []byte("AKIDnobodyHasThisId00"), "secretKey": []byte("whatever-key")},
		"wrong-key":      {"secretId": []byte(ownerSecretID), "secretKey": []byte("not-the-owner-key")},
	}
}

func hostileCases() []hostileCase {
	img := hostileImage
	creds := img(17)
	return []hostileCase{
		{name: "region-mismatch", image: img(1), reason: "RegionMismatch", inMessage: regionSH},
		{name: "image-nowhere", image: img(2), reason: "ImageNotFound", inMessage: img(2)},
		{name: "region-unknown", image: img(3), region: "xx-nowhere-1", reason: "RegionMismatch",
			inMessage: "xx-nowhere-1"},
		{name: "shared-to-me", image: img(4), reason: "ImageNotShareable", inMessage: "SHARED_IMAGE"},
		{name: "public-image", image: img(5), reason: "ImageNotShareable"},
		{name: "byol-image", image: img(6), reason: "ImageNotShareable", inMessage: "BYOL"},
		{name: "encrypted-image", image: img(7), reason: "ImageNotShareable", inMessage: "encrypted"},
		{name: "image-syncing", image: img(8), reason: "ImageNotReady", inMessage: "SYNCING"},
		{name: "image-creating", image: img(9), reason: "ImageNotReady", inMessage: "CREATING"},
		// The manager's --share-limit is 501, the cloud's 500: the cloud's own
		// OverQuota must read the same as the manager's limit.
		{name: "over-the-cloud-limit", image: img(10), accounts: recipients(500, 505), reason: "ShareLimitExceeded"},
		{name: "bad-accounts", image: img(11),
			accounts: []string{recipient(1), nobodyID, ownerID, collabID, recipient(2)}, reason: "InvalidAccounts",
			shared: []string{recipient(1), recipient(2)}, failed: map[string]string{nobodyID: "AccountNotFound",
				ownerID: "AccountIsOwner", collabID: "NotRootAccount"}},
		{name: "exclusive-a-older", image: img(12), mode: cvmv1alpha1.ModeExclusive, accounts: recipients(1, 2),
			reason: "Shared"},
		{name: "exclusive-b-younger", image: img(12), mode: cvmv1alpha1.ModeExclusive, accounts: recipients(2, 3),
			reason: "Conflict", inMessage: "exclusive-a-older"},
		{name: "observe-drift", image: img(13), mode: cvmv1alpha1.ModeObserve, accounts: recipients(2, 3),
			reason: "DriftDetected", inMessage: recipient(2)},
		{name: "observe-in-sync", image: img(14), mode: cvmv1alpha1.ModeObserve, accounts: recipients(1, 3),
			reason: "InSync"},
		{name: "image-of-another-account", image: img(15), reason: "ImageNotFound"},
		{name: "five-hundred-accounts", image: img(16), accounts: recipients(0, 500), reason: "Shared",
			shared: recipients(0, 500)},
		{name: "no-credentials-at-all", image: creds, credRef: "-", reason: "CredentialsMissing",
			inMessage: "TENCENTCLOUD_SECRET_ID"},
		{name: "secret-absent", image: creds, credRef: "absent", reason: "CredentialsMissing", inMessage: "absent"},
		{name: "secret-in-other-namespace", image: creds, credRef: "elsewhere", reason: "CredentialsMissing",
			inMessage: "hostile/elsewhere"},
		{name: "secret-without-secret-key", image: creds, credRef: "no-secret-key", reason: "CredentialsMissing",
			inMessage: "secretKey"},
		{name: "secret-without-keys", image: creds, credRef: "no-keys-at-all", reason: "CredentialsMissing"},
		{name: "secret-empty-values", image: creds, credRef: "empty-values", reason: "CredentialsMissing"},
		{name: "secret-non-utf8-key", image: creds, credRef: "non-utf8-key", reason: "CredentialsInvalid",
			inMessage: "secretKey"},
		{name: "secret-non-utf8-id", image: creds, credRef: "non-utf8-id", reason: "CredentialsInvalid",
			inMessage: "secretId"},
		{name: "secret-huge-value", image: creds, credRef: "huge-key", reason: "CredentialsInvalid",
			inMessage: "secretKey"},
		{name: "secret-unknown-id", image: creds, credRef: "unknown-id", reason: "CredentialsInvalid"},
		{name: "secret-wrong-key", image: creds, credRef: "wrong-key", reason: "CredentialsInvalid"},
	}
}

// untouched are images the manager must never modify: not shareable, busy,
// observed, or reached only with bad credentials.
var untouched = []int{4, 5, 6, 7, 8, 9, 13, 14, 17}

func TestHostileSituations(t *testing.T) {
	requireCluster(t)
	t.Cleanup(func() { purgeShares(t) })
	const ns, volumeNS, otherNS = "hostile", "hostile-volume", "hostile-elsewhere"
	for _, n := range []string{ns, volumeNS, otherNS} {
		ensureNamespace(t, n)
	}
	for name, data := range hostileSecrets() {
		createSecret(t, ns, name, data)
	}
	// The only Secret named "elsewhere" is in another namespace.
	createSecret(t, otherNS, "elsewhere", ownerKeys())
	createSecret(t, volumeNS, "good", ownerKeys())

	emu, err := emulator.New(hostileSeed())
	if err != nil {
		t.Fatalf("start the emulator: %v", err)
	}
	front := startFront(t, emu)
	var mu sync.Mutex
	modified := map[string]int{}
	front.SetHook(func(c testenv.FrontCall) {
		if req, ok := parseModify(c); ok {
			mu.Lock()
			modified[req.ImageID]++
			mu.Unlock()
		}
	})
	// No TENCENTCLOUD_* environment: an object without credentialsRef has no keys.
	m := startManager(t, "hostile", managerConfig{endpoint: front.Addr(), args: []string{"--share-limit=501"},
		secrets: []string{ownerSecretKey}})

	cases := hostileCases()
	for _, c := range cases {
		ref := credsSecret
		switch c.credRef {
		case "-":
			ref = ""
		case "":
		default:
			ref = c.credRef
		}
		o := newShare(ns, c.name, c.image, orDefault(c.region, regionGZ), c.mode, ref, c.accounts...)
		if err := kube.admin.Create(context.Background(), o); err != nil {
			t.Fatalf("create %s: %v", c.name, err)
		}
	}
	volumeStart := time.Now()
	createVolume(t, volumeNS, volumeCount)
	created := time.Since(volumeStart)
	// A normal object, created last, behind the whole backlog.
	normal := newShare(volumeNS, "normal-last", hostileImage(18), regionGZ, cvmv1alpha1.ModeMerge, "good",
		recipients(1, 3)...)
	if err := kube.admin.Create(context.Background(), normal); err != nil {
		t.Fatal(err)
	}
	normalStart := time.Now()
	eventually(t, 3*time.Minute, 100*time.Millisecond, func() error {
		o, err := getShare(volumeNS, normal.Name)
		if err == nil {
			err = checkTriad(o, "Shared")
		}
		return err
	})
	normalReady := time.Since(normalStart)

	eventually(t, 3*time.Minute, 250*time.Millisecond, func() error {
		var errs []error
		for _, c := range cases {
			if err := checkCase(ns, c); err != nil {
				errs = append(errs, err)
			}
		}
		return joinErrs(errs)
	})
	for _, c := range cases {
		o, _ := getShare(ns, c.name)
		t.Logf("RUNTIME %s: %s: %s", c.name, c.reason, condition(o, condReady).Message)
	}
	eventually(t, 3*time.Minute, 500*time.Millisecond, func() error { return volumeSettled(volumeNS) })
	allSettled := time.Since(volumeStart)

	cloud := sharedWith(emu)
	mu.Lock()
	for _, n := range untouched {
		if k := modified[hostileImage(n)]; k > 0 {
			t.Errorf("image %s was sent %d ModifyImageSharePermission calls; it must never be", hostileImage(n), k)
		}
	}
	share500 := modified[hostileImage(16)]
	mu.Unlock()
	if got := cloud[hostileImage(16)]; !sameSet(got, recipients(0, 500)) {
		t.Errorf("image %s shared with %d accounts, want the 500 listed", hostileImage(16), len(got))
	}
	if got := cloud[hostileImage(17)]; len(got) != 0 {
		t.Errorf("image %s was shared with %v using bad credentials", hostileImage(17), got)
	}
	if !m.alive() {
		t.Fatalf("the manager exited")
	}
	t.Logf("FIGURES hostile: %d catalogue objects and %d objects with a missing Secret; created in %v; "+
		"the normal object created last was Ready %v later; all %d settled %v after the first volume object; "+
		"500 accounts shared in %d ModifyImageSharePermission calls; emulator calls %s", len(cases), volumeCount,
		created.Round(100*time.Millisecond), normalReady.Round(100*time.Millisecond), volumeCount+len(cases)+1,
		allSettled.Round(100*time.Millisecond), share500, formatCounts(emu.Stats().Calls))

	// An object whose credentials were always missing never shared anything:
	// deleting it needs no keys, so it is released at once (contract §2:
	// deletion always ends).
	held, _ := getShare(ns, "secret-absent")
	if err := kube.admin.Delete(context.Background(), held); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, 200*time.Millisecond, func() error {
		return gone(&scObject{ns: ns, name: "secret-absent"})
	})
	// An image that vanished releases its ImageShare at once.
	vanish := newShare(ns, "image-vanishes", hostileImage(19), regionGZ, cvmv1alpha1.ModeMerge, credsSecret,
		recipients(1, 3)...)
	if err := kube.admin.Create(context.Background(), vanish); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, 200*time.Millisecond, func() error {
		o, err := getShare(ns, vanish.Name)
		if err == nil {
			err = checkTriad(o, "Shared")
		}
		return err
	})
	if err := emu.RemoveImage(hostileImage(19)); err != nil {
		t.Fatal(err)
	}
	if err := kube.admin.Delete(context.Background(), vanish); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, 200*time.Millisecond, func() error {
		return gone(&scObject{ns: ns, name: vanish.Name})
	})
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func checkCase(ns string, c hostileCase) error {
	o, err := getShare(ns, c.name)
	if err != nil {
		return err
	}
	if err := checkTriad(o, c.reason); err != nil {
		return err
	}
	msg := condition(o, condReady).Message
	if c.inMessage != "" && !strings.Contains(msg, c.inMessage) {
		return fmt.Errorf("%s: message %q does not mention %q", c.name, msg, c.inMessage)
	}
	if c.shared != nil && !sameSet(o.Status.SharedAccountIDs, c.shared) {
		return fmt.Errorf("%s: sharedAccountIds has %d accounts, want %d", c.name, len(o.Status.SharedAccountIDs),
			len(c.shared))
	}
	if c.failed != nil {
		got := map[string]string{}
		for _, f := range o.Status.FailedAccounts {
			got[f.AccountID] = f.Reason
		}
		if fmt.Sprint(got) != fmt.Sprint(c.failed) {
			return fmt.Errorf("%s: failedAccounts %v, want %v", c.name, got, c.failed)
		}
	}
	return nil
}

// createVolume creates n ImageShares, each of its own image, all naming a
// Secret that does not exist, eight at a time.
func createVolume(t *testing.T, ns string, n int) {
	t.Helper()
	work := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range work {
				o := newShare(ns, fmt.Sprintf("volume-%04d", i), fmt.Sprintf("img-vol%05d", i), regionGZ,
					cvmv1alpha1.ModeMerge, "missing", recipient(1))
				if err := kube.admin.Create(context.Background(), o); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("create the volume objects: %v", err)
	}
}

// volumeSettled holds once every volume object says CredentialsMissing.
func volumeSettled(ns string) error {
	var list cvmv1alpha1.ImageShareList
	if err := kube.admin.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		return err
	}
	var pending []string
	for i := range list.Items {
		o := &list.Items[i]
		if !strings.HasPrefix(o.Name, "volume-") {
			continue
		}
		if checkTriad(o, "CredentialsMissing") != nil {
			pending = append(pending, o.Name)
		}
	}
	if len(pending) > 0 {
		slices.Sort(pending)
		return fmt.Errorf("%d volume objects not yet CredentialsMissing, e.g. %s", len(pending), pending[0])
	}
	return nil
}
