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
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// canary returns a value that can only come from this test.
func canary(label string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return label + "-" + hex.EncodeToString(b)
}

// TestNoSecretLeaks runs the manager at debug level with credentials from its
// environment and from Secrets (good, wrong, unknown, malformed, huge, with a
// session token), drives it through successes, rejected keys, bad accounts
// and cloud errors, and then looks for every secret value, plain and base64,
// in the manager's output, the events, the ImageShares and /metrics.
func TestNoSecretLeaks(t *testing.T) {
	requireCluster(t)
	t.Cleanup(func() { purgeShares(t) })
	const ns = "secret-leaks"
	key := canary("owner-key")
	secretID := "AKIDleakTestOwner0001"
	token := canary("session-token")
	wrongKey, unknownKey, malformedKey := canary("wrong-key"), canary("unknown-key"), canary("malformed-key")
	hugeCanary := canary("huge-key")
	hugeKey := strings.Repeat(hugeCanary, 20000) // about 660 KiB
	secrets := []string{key, token, wrongKey, unknownKey, malformedKey, hugeCanary}

	seed := &emulator.Seed{Accounts: []emulator.SeedAccount{{ID: ownerID, SecretID: secretID, SecretKey: key}}}
	for _, r := range recipients(0, 5) {
		seed.Accounts = append(seed.Accounts, emulator.SeedAccount{ID: r})
	}
	for n := 1; n <= 3; n++ {
		seed.Images = append(seed.Images, emulator.SeedImage{ID: fmt.Sprintf("img-leak%04d", n), Region: regionGZ,
			Owner: ownerID})
	}
	emu, err := emulator.New(seed)
	if err != nil {
		t.Fatal(err)
	}
	front := startFront(t, emu)
	ensureNamespace(t, ns)
	for name, data := range map[string]map[string][]byte{
		"good":      {"secretId": []byte(secretID), "secretKey": []byte(key)},
		"token":     {"secretId": []byte(secretID), "secretKey": []byte(key), "token": []byte(token)},
		"wrong":     {"secretId": []byte(secretID), "secretKey": []byte(wrongKey)},
		"unknown":   {"secretId": []byte("AKIDleakTestNobody0001"), "secretKey": []byte(unknownKey)},
		"malformed": {"secretId": []byte(secretID), "secretKey": []byte(malformedKey + "\n\x00")},
		"huge":      {"secretId": []byte(secretID), "secretKey": []byte(hugeKey)},
	} {
		createSecret(t, ns, name, data)
	}
	metrics := testenv.MustFreeAddr(t)
	m := startManager(t, "leaks", managerConfig{endpoint: front.Addr(),
		args: []string{"--zap-log-level=debug", "--metrics-bind-address=" + metrics, "--metrics-secure=false"},
		env: []string{"TENCENTCLOUD_SECRET_ID=" + secretID, "TENCENTCLOUD_SECRET_KEY=" + key,
			"TENCENTCLOUD_SECURITY_TOKEN=" + token},
		secrets: secrets})

	img := func(n int) string { return fmt.Sprintf("img-leak%04d", n) }
	objects := map[string]struct {
		share  *cvmv1alpha1.ImageShare
		reason string
	}{
		"env":       {newShare(ns, "env", img(1), regionGZ, "", "", recipients(0, 2)...), "Shared"},
		"good":      {newShare(ns, "good", img(2), regionGZ, "", "good", recipients(1, 3)...), "Shared"},
		"token":     {newShare(ns, "token", img(2), regionGZ, "", "token", recipients(2, 3)...), "Shared"},
		"wrong":     {newShare(ns, "wrong", img(3), regionGZ, "", "wrong", recipients(0, 1)...), "CredentialsInvalid"},
		"unknown":   {newShare(ns, "unknown", img(3), regionGZ, "", "unknown", recipients(0, 1)...), "CredentialsInvalid"},
		"malformed": {newShare(ns, "malformed", img(3), regionGZ, "", "malformed"), "CredentialsInvalid"},
		"huge":      {newShare(ns, "huge", img(3), regionGZ, "", "huge"), "CredentialsInvalid"},
		"bad-accounts": {newShare(ns, "bad-accounts", img(1), regionGZ, "", "good", nobodyID, collabID, ownerID),
			"InvalidAccounts"},
	}
	for _, o := range objects {
		if err := kube.admin.Create(context.Background(), o.share); err != nil {
			t.Fatal(err)
		}
	}
	waitReasons := func() error {
		var errs []error
		for name, o := range objects {
			obj, err := getShare(ns, name)
			if err == nil {
				err = checkTriad(obj, o.reason)
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
		return joinErrs(errs)
	}
	eventually(t, 2*time.Minute, 200*time.Millisecond, waitReasons)

	// Cloud errors: every call fails for a while, then the cloud recovers.
	emu.SetFaults(emulator.Faults{ErrorRate: 1})
	updateShare(t, ns, "good", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = recipients(1, 4) })
	eventually(t, time.Minute, 200*time.Millisecond, func() error {
		obj, err := getShare(ns, "good")
		if err == nil {
			err = checkTriad(obj, "CloudError")
		}
		return err
	})
	emu.SetFaults(emulator.Faults{})
	eventually(t, 2*time.Minute, 200*time.Millisecond, waitReasons)

	// Look everywhere.
	body, code, err := httpGet("http://" + metrics + "/metrics")
	if err != nil || code != 200 {
		t.Fatalf("scrape metrics: %d %v", code, err)
	}
	places := map[string]string{"metrics": body, "manager output": m.logs()}
	var coreEvents corev1.EventList
	var newEvents eventsv1.EventList
	var shares cvmv1alpha1.ImageShareList
	if err := kube.admin.List(context.Background(), &coreEvents); err != nil {
		t.Fatal(err)
	}
	if err := kube.admin.List(context.Background(), &newEvents); err != nil {
		t.Fatal(err)
	}
	if err := kube.admin.List(context.Background(), &shares); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{"events": coreEvents, "events.k8s.io": newEvents, "ImageShares": shares} {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		places[name] = string(data)
	}
	if len(coreEvents.Items) == 0 {
		t.Errorf("no events at all: the leak check of events checked nothing")
	}
	for place, text := range places {
		for _, s := range secrets {
			for form, needle := range map[string]string{"plain": s, "base64": base64.StdEncoding.EncodeToString([]byte(s))} {
				if strings.Contains(text, needle) {
					t.Errorf("a secret value (%s, %s...) appears in the %s", form, s[:min(8, len(s))], place)
				}
			}
		}
	}
	ids := 0
	for _, text := range places {
		ids += strings.Count(text, secretID)
	}
	t.Logf("FIGURES leaks: %d secret values checked in %d places (%d bytes of manager output at debug level, "+
		"%d events, %d ImageShares, %d bytes of metrics): none found; the SecretId (an identifier, not a secret) "+
		"appears %d times", len(secrets), len(places), len(places["manager output"]), len(coreEvents.Items),
		len(shares.Items), len(body), ids)
}
