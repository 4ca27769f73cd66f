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

package emulator_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/imageshare/imageshare-operator/internal/emulator"
)

func TestParseSeedFillsDefaults(t *testing.T) {
	seed, err := emulator.ParseSeed([]byte(`
faults: {qps: 0, errorRate: 0, latency: 0s}
accounts:
  - {id: "100000000001", secretId: AKIDowner0001, secretKey: owner-secret-1}
  - {id: "100000000002"}
  - {id: "100000000003", root: false}
images:
  - {id: img-aaaa0001, region: ap-guangzhou, owner: "100000000001", name: web-base, state: NORMAL,
     licenseType: TencentCloud, encrypted: false, sharedWith: []}
  - {id: img-aaaa0002, region: ap-guangzhou, owner: "100000000001"}
`))
	if err != nil {
		t.Fatalf("ParseSeed: %v", err)
	}
	if seed.ShareLimit != emulator.DefaultShareLimit || *seed.SyncSeconds != emulator.DefaultSyncSeconds {
		t.Errorf("shareLimit %d, syncSeconds %d; want the defaults", seed.ShareLimit, *seed.SyncSeconds)
	}
	if !*seed.Accounts[0].Root || !*seed.Accounts[1].Root || *seed.Accounts[2].Root {
		t.Errorf("root flags %v %v %v, want true true false",
			*seed.Accounts[0].Root, *seed.Accounts[1].Root, *seed.Accounts[2].Root)
	}
	want := emulator.SeedImage{
		ID: "img-aaaa0002", Region: "ap-guangzhou", Owner: "100000000001", Name: "img-aaaa0002",
		Type: emulator.ImageTypePrivate, State: emulator.StateNormal, LicenseType: emulator.LicenseTencentCloud,
		SharedWith: []string{},
	}
	if !reflect.DeepEqual(seed.Images[1], want) {
		t.Errorf("defaults: got %+v, want %+v", seed.Images[1], want)
	}

	// A parsed seed writes back to YAML that parses to the same seed.
	out, err := yaml.Marshal(seed)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	again, err := emulator.ParseSeed(out)
	if err != nil {
		t.Fatalf("parse the marshalled seed: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(seed, again) {
		t.Errorf("round trip changed the seed:\n%+v\n%+v", seed, again)
	}
}

func TestParseSeedAcceptsEmptyAndDurations(t *testing.T) {
	for _, empty := range []string{"", "  \n", "{}"} {
		seed, err := emulator.ParseSeed([]byte(empty))
		if err != nil || seed.ShareLimit != emulator.DefaultShareLimit {
			t.Errorf("ParseSeed(%q) = %+v, %v", empty, seed, err)
		}
	}
	for text, want := range map[string]time.Duration{
		"faults: {latency: 50ms}": 50 * time.Millisecond,
		"faults: {latency: 1m5s}": 65 * time.Second,
		"faults: {latency: 0}":    0,
		"faults: {qps: 5}":        0,
	} {
		seed, err := emulator.ParseSeed([]byte(text))
		if err != nil || seed.Faults.Latency != want {
			t.Errorf("ParseSeed(%q): latency %v, err %v; want %v", text, seed.Faults.Latency, err, want)
		}
	}
	seed, err := emulator.ParseSeed([]byte("syncSeconds: 0"))
	if err != nil || *seed.SyncSeconds != 0 {
		t.Errorf("syncSeconds 0: %v, %v", seed, err)
	}
}

func TestParseSeedRejectsBadSeeds(t *testing.T) {
	const owner = `accounts: [{id: "100000000001"}, {id: "100000000002"}]` + "\n"
	cases := []struct {
		name, seed string
		mentions   []string
	}{
		{"duplicate image", owner + `images: [{id: img-aaaa0001, region: ap-guangzhou, owner: "100000000001"},
  {id: img-aaaa0001, region: ap-guangzhou, owner: "100000000001"}]`, []string{"images[1]", "img-aaaa0001", "duplicate"}},
		{"duplicate account", `accounts: [{id: "100000000001"}, {id: "100000000001"}]`,
			[]string{"accounts[1]", "duplicate"}},
		{"owner not an account", owner + `images: [{id: img-aaaa0001, region: ap-guangzhou, owner: "100000000009"}]`,
			[]string{"images[0]", "100000000009"}},
		{"missing owner", owner + `images: [{id: img-aaaa0001, region: ap-guangzhou}]`, []string{"owner"}},
		{"unknown state", owner + `images: [{id: img-aaaa0001, region: ap-guangzhou, owner: "100000000001", state: BROKEN}]`,
			[]string{"images[0]", "BROKEN"}},
		{"unknown license", owner + `images: [{id: img-aaaa0001, region: ap-guangzhou, owner: "100000000001", licenseType: GPL}]`,
			[]string{"GPL"}},
		{"unknown type", owner + `images: [{id: img-aaaa0001, region: ap-guangzhou, owner: "100000000001", type: SHARED_IMAGE}]`,
			[]string{"SHARED_IMAGE"}},
		{"sharedWith unknown account", owner + `images: [{id: img-aaaa0001, region: ap-guangzhou, owner: "100000000001",
  sharedWith: ["100000000002", "100000000007"]}]`, []string{"images[0]", "100000000007"}},
		{"sharedWith the owner", owner + `images: [{id: img-aaaa0001, region: ap-guangzhou, owner: "100000000001",
  sharedWith: ["100000000001"]}]`, []string{"owner"}},
		{"sharedWith over the limit", "shareLimit: 1\n" +
			`accounts: [{id: "100000000001"}, {id: "100000000002"}, {id: "100000000003"}]
images: [{id: img-aaaa0001, region: ap-guangzhou, owner: "100000000001", sharedWith: ["100000000002", "100000000003"]}]`,
			[]string{"limit"}},
		{"malformed image id", owner + `images: [{id: image-1, region: ap-guangzhou, owner: "100000000001"}]`,
			[]string{"images[0]", "image-1"}},
		{"malformed account id", `accounts: [{id: "0123"}]`, []string{"accounts[0]", "0123"}},
		{"bad region", owner + `images: [{id: img-aaaa0001, region: Guangzhou, owner: "100000000001"}]`,
			[]string{"Guangzhou"}},
		{"bad latency", `faults: {latency: soon}`, []string{"latency", "soon"}},
		{"latency without unit", `faults: {latency: 50}`, []string{"latency"}},
		{"negative qps", `faults: {qps: -1}`, []string{"qps"}},
		{"error rate over 1", `faults: {errorRate: 1.5}`, []string{"errorRate"}},
		{"unknown fault", `faults: {jitter: 1s}`, []string{"jitter"}},
		{"unknown field", `sharelimit: 5`, []string{"sharelimit"}},
		{"secret without key", `accounts: [{id: "100000000001", secretId: AKIDx}]`, []string{"accounts[0]", "secretKey"}},
		{"shared secretId", `accounts: [{id: "100000000001", secretId: AKIDx, secretKey: a},
  {id: "100000000002", secretId: AKIDx, secretKey: b}]`, []string{"accounts[1]", "AKIDx"}},
		{"negative syncSeconds", `syncSeconds: -1`, []string{"syncSeconds"}},
		{"not YAML", `{{{`, []string{"parse seed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seed, err := emulator.ParseSeed([]byte(tc.seed))
			if err == nil {
				t.Fatalf("accepted: %+v", seed)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			if _, err := emulator.New(seed); err != nil {
				t.Errorf("New(nil seed from a failed parse) = %v, want an empty emulator", err)
			}
		})
	}
}

func TestNewValidatesSeedsBuiltInGo(t *testing.T) {
	if _, err := emulator.New(nil); err != nil {
		t.Errorf("New(nil): %v", err)
	}
	_, err := emulator.New(&emulator.Seed{Images: []emulator.SeedImage{{ID: "img-aaaa0001", Region: "ap-guangzhou"}}})
	if err == nil || !strings.Contains(err.Error(), "images[0]") {
		t.Errorf("New with an ownerless private image: %v", err)
	}
}

func TestLoadSeed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seed.yaml")
	if err := os.WriteFile(path, []byte(fixtureYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	seed, err := emulator.LoadSeed(path)
	if err != nil || len(seed.Images) != 9 || seed.ShareLimit != 3 {
		t.Errorf("LoadSeed: %+v, %v", seed, err)
	}
	if _, err := emulator.LoadSeed(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("LoadSeed of a missing file succeeded")
	}
	if err := os.WriteFile(path, []byte("shareLimit: -2"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := emulator.LoadSeed(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("LoadSeed of a bad seed: %v, want an error naming the file", err)
	}
}
