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

// Tests of issue #12, points 8 and 9: where the real cloud is harsh, the emulator is too.

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/emulator/emulatortest"
)

// syncCopy copies imgPlain to Shanghai and returns the copy's ID.
func syncCopy(t *testing.T, addr string) string {
	t.Helper()
	var out syncResponse
	mustSend(t, ownerClient(addr, guangzhou), emulator.ActionSyncImages, map[string]any{
		"ImageIds": []string{imgPlain}, "DestinationRegions": []string{shanghai}, "ImageSetRequired": true,
	}, &out)
	if len(out.Response.ImageSet) != 1 {
		t.Fatalf("SyncImages ImageSet %+v, want one copy", out.Response.ImageSet)
	}
	return out.Response.ImageSet[0].ImageId
}

func TestCopyVisibilityDelayHidesANewCopy(t *testing.T) {
	seed, err := emulator.ParseSeed([]byte(fixtureYAML + "faults: {copyVisibilityDelay: 3s}\n"))
	if err != nil {
		t.Fatalf("parse seed: %v", err)
	}
	emu, addr, clock := startWithClock(t, seed)
	copyID := syncCopy(t, addr)
	c := ownerClient(addr, shanghai)

	if _, ok := stateOf(emu, copyID); !ok {
		t.Fatalf("the copy %s is not in the emulator's state", copyID)
	}
	hidden := func(when string) {
		t.Helper()
		for name, params := range map[string]map[string]any{
			"by ImageIds":      {"ImageIds": []string{copyID}},
			"by image-id":      {"Filters": []map[string]any{{"Name": "image-id", "Values": []string{copyID}}}},
			"by image-type":    {"Filters": []map[string]any{{"Name": "image-type", "Values": []string{"PRIVATE_IMAGE"}}}},
			"without a filter": nil,
		} {
			if _, listed := describe(t, c, params)[copyID]; listed {
				t.Errorf("%s: DescribeImages %s lists the copy", when, name)
			}
		}
		wantCode(t, send(c, emulator.ActionDescribeImageSharePermission, map[string]any{"ImageId": copyID}, nil),
			emulator.CodeImageNotFound, copyID)
		wantCode(t, modify(c, copyID, share, receiverA), emulator.CodeImageNotFound, copyID)
		wantCode(t, send(c, emulator.ActionDeleteImages, map[string]any{"ImageIds": []string{copyID}}, nil),
			emulator.CodeImageNotFound, copyID)
	}
	hidden("at once")
	clock.Advance(2999 * time.Millisecond)
	hidden("just before the delay")
	clock.Advance(time.Millisecond)
	if got := describe(t, c, map[string]any{"ImageIds": []string{copyID}}); got[copyID] != emulator.ImageTypePrivate {
		t.Fatalf("after the delay DescribeImages = %v, want the copy", got)
	}
	if err := modify(c, copyID, share, receiverA); err != nil { // syncSeconds 1: NORMAL by now
		t.Errorf("share the visible copy: %v", err)
	}
}

func TestCopyVisibilityDelayRoundTrips(t *testing.T) {
	seed, err := emulator.ParseSeed([]byte("faults: {latency: 50ms, copyVisibilityDelay: 1m30s, shareFailRate: 0.25}\n"))
	if err != nil {
		t.Fatalf("parse seed: %v", err)
	}
	want := emulator.Faults{Latency: 50 * time.Millisecond, CopyVisibilityDelay: 90 * time.Second, ShareFailRate: 0.25}
	if !reflect.DeepEqual(seed.Faults, want) {
		t.Fatalf("faults %+v, want %+v", seed.Faults, want)
	}
	raw, err := json.Marshal(seed.Faults)
	if err != nil {
		t.Fatalf("marshal faults: %v", err)
	}
	if !strings.Contains(string(raw), `"copyVisibilityDelay":"1m30s"`) {
		t.Errorf("faults JSON %s does not write copyVisibilityDelay as a duration string", raw)
	}
	doc, err := yaml.Marshal(seed)
	if err != nil {
		t.Fatalf("marshal seed: %v", err)
	}
	again, err := emulator.ParseSeed(doc)
	if err != nil {
		t.Fatalf("parse marshalled seed %s: %v", doc, err)
	}
	if !reflect.DeepEqual(again.Faults, want) {
		t.Errorf("after a YAML round trip faults %+v, want %+v", again.Faults, want)
	}
	for _, bad := range []string{
		"faults: {copyVisibilityDelay: 3}\n", "faults: {copyVisibilityDelay: soon}\n",
		"faults: {copyVisibilityDelay: -1s}\n", "faults: {shareFailRate: 1.5}\n", "faults: {copyvisibilitydelay: 1s}\n",
	} {
		if _, err := emulator.ParseSeed([]byte(bad)); err == nil {
			t.Errorf("seed %q accepted", bad)
		}
	}
}

func TestSyncImagesRefusesRegionsItDoesNotServe(t *testing.T) {
	emu, addr := start(t)
	c := ownerClient(addr, guangzhou)
	for _, dest := range []string{"ap-sh4nghai", "ap-mumbai", "eu-moscow"} {
		err := send(c, emulator.ActionSyncImages,
			map[string]any{"ImageIds": []string{imgPlain}, "DestinationRegions": []string{shanghai, dest}}, nil)
		wantCode(t, err, emulator.CodeRegionUnavailable,
			"The region "+dest+" is not available for SyncImages", "ap-bangkok", "ap-shanghai", "sa-saopaulo")
	}
	if n := len(emu.State().Images); n != 9 {
		t.Errorf("a refused SyncImages made copies: %d images", n)
	}
	// The source region keeps its own check.
	wantCode(t, send(ownerClient(addr, "ap-sh4nghai"), emulator.ActionSyncImages,
		map[string]any{"ImageIds": []string{imgPlain}, "DestinationRegions": []string{shanghai}}, nil),
		emulator.CodeRegionNotFound, "ap-sh4nghai")
}

func TestSyncImagesAcceptsARegionOnlyTheSeedNames(t *testing.T) {
	seed, err := emulator.ParseSeed([]byte(fixtureYAML +
		"  - {id: img-test0001, region: xx-testland, owner: \"100000000001\"}\n"))
	if err != nil {
		t.Fatalf("parse seed: %v", err)
	}
	_, addr := emulatortest.Start(t, seed)
	mustSend(t, ownerClient(addr, guangzhou), emulator.ActionSyncImages,
		map[string]any{"ImageIds": []string{imgPlain}, "DestinationRegions": []string{"xx-testland"}}, nil)
}

const deniedYAML = `
accounts:
  - {id: "100000000001", secretId: AKIDowner0001, secretKey: owner-secret-1,
     deniedActions: [ModifyImageSharePermission, SyncImages]}
  - {id: "100000000002"}
images:
  - {id: img-aaaa0001, region: ap-guangzhou, owner: "100000000001"}
`

func TestDeniedActionsAnswerCAMUnauthorized(t *testing.T) {
	seed, err := emulator.ParseSeed([]byte(deniedYAML))
	if err != nil {
		t.Fatalf("parse seed: %v", err)
	}
	emu, addr := emulatortest.Start(t, seed)
	c := ownerClient(addr, guangzhou)
	for _, id := range []string{imgPlain, imgMissing} { // the denial comes before the image is looked up
		err := modify(c, id, share, peerID)
		wantCode(t, err, emulator.CodeCAMUnauthorized, "you are not authorized to perform operation "+
			"(cvm:ModifyImageSharePermission)", "uin/"+ownerID, "request id:"+sdkError(t, err).RequestId)
	}
	wantCode(t, send(c, emulator.ActionSyncImages,
		map[string]any{"ImageIds": []string{imgPlain}, "DestinationRegions": []string{shanghai}}, nil),
		emulator.CodeCAMUnauthorized, "(cvm:SyncImages)")
	if got := describe(t, c, map[string]any{"ImageIds": []string{imgPlain}}); len(got) != 1 {
		t.Errorf("an action not denied: DescribeImages = %v", got)
	}
	if got := sharedWith(t, emu, imgPlain); len(got) != 0 {
		t.Errorf("a denied call shared the image with %v", got)
	}

	bad := strings.Replace(deniedYAML, "SyncImages]", "SyncImage]", 1)
	if _, err := emulator.ParseSeed([]byte(bad)); err == nil || !strings.Contains(err.Error(), "accounts[0]") {
		t.Errorf("a misspelt denied action: %v, want an error naming accounts[0]", err)
	}
}

func TestAccountIDsThatAreNotDigits(t *testing.T) {
	emu, addr := start(t)
	c := ownerClient(addr, guangzhou)
	for _, tc := range []struct {
		name, image string
		accounts    []string
		mention     string
	}{
		{"letters", imgPlain, []string{"abc"}, "abc"},
		{"after a good account", imgPlain, []string{receiverA, "10000000000x"}, "10000000000x"},
		{"empty", imgPlain, []string{""}, "``"},
		{"before the image lookup", imgMissing, []string{"root@example.com"}, "root@example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, modify(c, tc.image, share, tc.accounts...), emulator.CodeInvalidAppIDFormat, tc.mention)
			wantCode(t, modify(c, tc.image, cancel, tc.accounts...), emulator.CodeInvalidAppIDFormat, tc.mention)
		})
	}
	if got := sharedWith(t, emu, imgPlain); len(got) != 0 {
		t.Errorf("a refused call shared the image with %v", got)
	}
	// Digits that name no account are still InvalidAccountId.NotFound.
	wantCode(t, modify(c, imgPlain, share, unknownAcct), emulator.CodeAccountNotFound, unknownAcct)
}

func TestFailedImageStates(t *testing.T) {
	seed, err := emulator.ParseSeed([]byte(fixtureYAML +
		"  - {id: img-fail0001, region: ap-guangzhou, owner: \"100000000001\", state: CREATEFAILED}\n" +
		"  - {id: img-fail0002, region: ap-guangzhou, owner: \"100000000001\", state: IMPORTFAILED}\n"))
	if err != nil {
		t.Fatalf("parse seed: %v", err)
	}
	emu, addr := emulatortest.Start(t, seed)
	c := ownerClient(addr, guangzhou)
	var out imageSetResponse
	mustSend(t, c, emulator.ActionDescribeImages,
		map[string]any{"ImageIds": []string{"img-fail0001", "img-fail0002"}}, &out)
	got := map[string]string{}
	for _, img := range out.Response.ImageSet {
		got[img.ImageId] = img.ImageState
		if img.SyncPercent != 0 {
			t.Errorf("%s SyncPercent %d, want 0", img.ImageId, img.SyncPercent)
		}
	}
	want := map[string]string{"img-fail0001": emulator.StateCreateFailed, "img-fail0002": emulator.StateImportFailed}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DescribeImages states %v, want %v", got, want)
	}
	for id, state := range want {
		wantCode(t, modify(c, id, share, receiverA), emulator.CodeImageIncorrectState, id, state)
		wantCode(t, modify(c, id, cancel, receiverA), emulator.CodeImageIncorrectState, id)
		wantCode(t, send(c, emulator.ActionSyncImages,
			map[string]any{"ImageIds": []string{id}, "DestinationRegions": []string{shanghai}}, nil),
			emulator.CodeImageIncorrectState, id)
	}
	// A busy image is still one to wait for.
	wantCode(t, modify(c, imgBusy, share, receiverA), emulator.CodeInvalidImageState, imgBusy)
	// A failed image can be deleted, as a console user would clean it up.
	mustSend(t, c, emulator.ActionDeleteImages, map[string]any{"ImageIds": []string{"img-fail0001"}}, nil)
	if _, ok := stateOf(emu, "img-fail0001"); ok {
		t.Error("the deleted failed image is still there")
	}
}

func TestShareFailRate(t *testing.T) {
	emu, addr := start(t)
	c := ownerClient(addr, guangzhou)
	emu.SetFaults(emulator.Faults{ShareFailRate: 1})
	wantCode(t, modify(c, imgPlain, share, receiverA), emulator.CodeQImageShareFailed, imgPlain)
	wantCode(t, modify(c, imgShared, cancel, peerID), emulator.CodeQImageShareFailed, imgShared)
	// The rules still come first: the fault only strikes a call the cloud would have accepted.
	wantCode(t, modify(c, imgShared, share, peerID), emulator.CodeAccountAlreadyExists)
	if got := sharedWith(t, emu, imgPlain); len(got) != 0 {
		t.Errorf("a failed SHARE shared the image with %v", got)
	}
	if got := sharedWith(t, emu, imgShared); !slices.Equal(got, []string{peerID}) {
		t.Errorf("a failed CANCEL changed the share list to %v", got)
	}
	emu.SetFaults(emulator.Faults{ShareFailRate: 7}) // clamped to 1
	wantCode(t, modify(c, imgPlain, share, receiverA), emulator.CodeQImageShareFailed)
	emu.SetFaults(emulator.Faults{})
	if err := modify(c, imgPlain, share, receiverA); err != nil {
		t.Errorf("with the fault off: %v", err)
	}
}
