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
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"

	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/emulator/emulatortest"
)

func TestQPSLimitsEachAccountAndAction(t *testing.T) {
	emu, addr, clock := startWithClock(t, fixtureSeed(t))
	emu.SetFaults(emulator.Faults{QPS: 2})
	owner, peer := ownerClient(addr, guangzhou), newClient(addr, peerKeyID, peerSecret, guangzhou)

	for i := range 2 {
		if err := send(owner, emulator.ActionDescribeImages, nil, nil); err != nil {
			t.Fatalf("call %d within the limit: %v", i, err)
		}
	}
	wantCode(t, send(owner, emulator.ActionDescribeImages, nil, nil), emulator.CodeRequestLimitExceeded)
	if err := send(owner, emulator.ActionDescribeImageQuota, nil, nil); err != nil {
		t.Errorf("another action of the same account: %v", err)
	}
	if err := send(peer, emulator.ActionDescribeImages, nil, nil); err != nil {
		t.Errorf("the same action of another account: %v", err)
	}
	clock.Advance(500 * time.Millisecond) // refills one call at 2 per second
	if err := send(owner, emulator.ActionDescribeImages, nil, nil); err != nil {
		t.Errorf("call after the bucket refilled: %v", err)
	}
	wantCode(t, send(owner, emulator.ActionDescribeImages, nil, nil), emulator.CodeRequestLimitExceeded)

	emu.SetFaults(emulator.Faults{})
	for range 5 {
		if err := send(owner, emulator.ActionDescribeImages, nil, nil); err != nil {
			t.Fatalf("call with the limit off: %v", err)
		}
	}
}

func TestQPSFromTheSeed(t *testing.T) {
	seed, err := emulator.ParseSeed([]byte(fixtureYAML + "faults: {qps: 0.01, errorRate: 0, latency: 0s}\n"))
	if err != nil {
		t.Fatalf("parse seed: %v", err)
	}
	emu, addr := emulatortest.Start(t, seed)
	c := ownerClient(addr, guangzhou)
	if err := modify(c, imgPlain, share, receiverA); err != nil {
		t.Fatalf("first call: %v", err)
	}
	// At 0.01 calls per second the next call is a hundred seconds away.
	wantCode(t, modify(c, imgPlain, share, receiverB), emulator.CodeRequestLimitExceeded)
	if got := sharedWith(t, emu, imgPlain); !slices.Equal(got, []string{receiverA}) {
		t.Errorf("a throttled call changed the share list to %v", got)
	}
}

func TestErrorRateFailsBeforeAnyEffect(t *testing.T) {
	emu, addr := start(t)
	c := ownerClient(addr, guangzhou)

	emu.SetFaults(emulator.Faults{ErrorRate: 1})
	wantCode(t, modify(c, imgPlain, share, receiverA), emulator.CodeInternalError)
	wantCode(t, send(c, emulator.ActionDeleteImages, map[string]any{"ImageIds": []string{imgPlain}}, nil),
		emulator.CodeInternalError)
	if img, ok := stateOf(emu, imgPlain); !ok || len(img.SharedWith) != 0 {
		t.Fatalf("failed calls had an effect: %+v (exists %v)", img, ok)
	}

	emu.SetFaults(emulator.Faults{ErrorRate: 0.5})
	var failed, succeeded int
	for range 100 {
		err := send(c, emulator.ActionDescribeImageQuota, nil, nil)
		var sdkErr *tcerr.TencentCloudSDKError
		switch {
		case err == nil:
			succeeded++
		case errors.As(err, &sdkErr) && sdkErr.Code == emulator.CodeInternalError:
			failed++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	// Each outcome has probability 2^-100 of never happening.
	if failed == 0 || succeeded == 0 {
		t.Errorf("errorRate 0.5: %d failed, %d succeeded", failed, succeeded)
	}

	emu.SetFaults(emulator.Faults{})
	if err := modify(c, imgPlain, share, receiverA); err != nil {
		t.Errorf("with the error rate off: %v", err)
	}
}

func TestLatencyIsAddedToEveryCall(t *testing.T) {
	seed, err := emulator.ParseSeed([]byte(fixtureYAML + "faults: {latency: 300ms}\n"))
	if err != nil {
		t.Fatalf("parse seed: %v", err)
	}
	if seed.Faults.Latency != 300*time.Millisecond {
		t.Fatalf("latency %v, want 300ms", seed.Faults.Latency)
	}
	emu, addr := emulatortest.Start(t, seed)
	c := ownerClient(addr, guangzhou)
	for _, want := range []time.Duration{300 * time.Millisecond, 150 * time.Millisecond} {
		emu.SetFaults(emulator.Faults{Latency: want})
		begin := time.Now()
		if err := send(c, emulator.ActionDescribeImages, nil, nil); err != nil {
			t.Fatalf("call: %v", err)
		}
		if took := time.Since(begin); took < want {
			t.Errorf("call took %v, want at least %v", took, want)
		}
		begin = time.Now()
		wantCode(t, send(newClient(addr, "AKIDnobody", "x", guangzhou), emulator.ActionDescribeImages, nil, nil),
			emulator.CodeSecretIDNotFound)
		if took := time.Since(begin); took < want {
			t.Errorf("failing call took %v, want at least %v", took, want)
		}
	}
}

func TestStatsAndStateEndpoints(t *testing.T) {
	emu, addr := start(t)
	c := ownerClient(addr, guangzhou)
	for range 3 {
		mustSend(t, c, emulator.ActionDescribeImages, nil, nil)
	}
	_ = modify(c, imgShared, share, peerID) // AccountAlreadyExists
	_ = send(c, "RunInstances", nil, nil)
	_ = send(newClient(addr, "AKIDnobody", "x", guangzhou), emulator.ActionDescribeImages, nil, nil)

	want := emulator.Stats{
		Calls: map[string]int{
			emulator.ActionDescribeImages: 4, emulator.ActionModifyImageSharePermission: 1, emulator.InvalidActionKey: 1,
		},
		Errors: map[string]int{
			emulator.CodeAccountAlreadyExists: 1, emulator.CodeInvalidAction: 1, emulator.CodeSecretIDNotFound: 1,
		},
		CallsByAccount: map[string]map[string]int{
			ownerID: {emulator.ActionDescribeImages: 3, emulator.ActionModifyImageSharePermission: 1, emulator.InvalidActionKey: 1},
		},
	}
	got := emu.Stats()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	var served emulator.Stats
	getJSON(t, "http://"+addr+emulator.StatsPath, &served)
	if !reflect.DeepEqual(served, want) {
		t.Errorf("%s = %+v, want %+v", emulator.StatsPath, served, want)
	}

	emu.ResetStats()
	if s := emu.Stats(); len(s.Calls)+len(s.Errors)+len(s.CallsByAccount) != 0 {
		t.Errorf("after ResetStats: %+v", s)
	}

	var state emulator.State
	getJSON(t, "http://"+addr+emulator.StatePath, &state)
	if !reflect.DeepEqual(state, emu.State()) {
		t.Errorf("%s differs from State()", emulator.StatePath)
	}
	ids := make([]string, 0, len(state.Images))
	for _, img := range state.Images {
		ids = append(ids, img.ID)
		if img.SharedWith == nil || !slices.IsSorted(img.SharedWith) {
			t.Errorf("%s sharedWith %v is not a sorted list", img.ID, img.SharedWith)
		}
	}
	if !slices.IsSorted(ids) || len(ids) != 9 {
		t.Errorf("state images %v, want the 9 seeded images sorted by ID", ids)
	}
	shared, _ := stateOf(emu, imgShared)
	wantShared := emulator.StateImage{
		ID: imgShared, Region: guangzhou, Owner: ownerID, Name: "web-shared", Type: emulator.ImageTypePrivate,
		State: emulator.StateNormal, LicenseType: emulator.LicenseTencentCloud, SharedWith: []string{peerID},
	}
	if !reflect.DeepEqual(shared, wantShared) {
		t.Errorf("state of %s = %+v, want %+v", imgShared, shared, wantShared)
	}

	resp, err := http.Post("http://"+addr+emulator.StatePath, "application/json", nil)
	if err != nil {
		t.Fatalf("POST state: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST %s: %d, want 405", emulator.StatePath, resp.StatusCode)
	}
}

func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("decode %s: %v", url, err)
	}
}

func TestTestHooks(t *testing.T) {
	emu, addr := start(t)
	c := ownerClient(addr, guangzhou)

	if err := emu.SetImageState(imgPlain, emulator.StateSyncing); err != nil {
		t.Fatalf("SetImageState: %v", err)
	}
	wantCode(t, modify(c, imgPlain, share, receiverA), emulator.CodeInvalidImageState)
	if err := emu.SetImageState(imgPlain, emulator.StateNormal); err != nil {
		t.Fatalf("SetImageState: %v", err)
	}
	if err := modify(c, imgPlain, share, receiverA); err != nil {
		t.Fatalf("share once NORMAL again: %v", err)
	}

	if err := emu.SetShares(imgPlain, []string{receiverC, peerID}); err != nil {
		t.Fatalf("SetShares: %v", err)
	}
	if got := shareList(t, c, imgPlain); !slices.Equal(got, []string{peerID, receiverC}) {
		t.Errorf("share list after SetShares: %v", got)
	}

	if err := emu.RemoveImage(imgPlain); err != nil {
		t.Fatalf("RemoveImage: %v", err)
	}
	wantCode(t, send(c, emulator.ActionDescribeImageSharePermission, map[string]any{"ImageId": imgPlain}, nil),
		emulator.CodeImageNotFound)

	for name, err := range map[string]error{
		"unknown state":          emu.SetImageState(imgShared, "BROKEN"),
		"state of missing image": emu.SetImageState(imgMissing, emulator.StateNormal),
		"remove missing image":   emu.RemoveImage(imgPlain),
		"share unknown account":  emu.SetShares(imgShared, []string{unknownAcct}),
		"share with the owner":   emu.SetShares(imgShared, []string{ownerID}),
		"shares of missing":      emu.SetShares(imgMissing, nil),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if got := sharedWith(t, emu, imgShared); !slices.Equal(got, []string{peerID}) {
		t.Errorf("failed SetShares changed %s to %v", imgShared, got)
	}
}

// TestQPSByActionOverridesQPS: a per-action limit replaces the general one for
// that action only, as Tencent documents different limits per action.
func TestQPSByActionOverridesQPS(t *testing.T) {
	seed, err := emulator.ParseSeed([]byte(`
faults: {qps: 1, qpsByAction: {DescribeImages: 100}}
accounts:
  - {id: "100000000001", secretId: AKIDowner0001, secretKey: owner-secret-1}
images:
  - {id: img-aaaa0001, region: ap-guangzhou, owner: "100000000001"}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, addr := emulatortest.Start(t, seed)
	c := newClient(addr, "AKIDowner0001", "owner-secret-1", "ap-guangzhou")
	for range 5 {
		if err := send(c, emulator.ActionDescribeImages, map[string]any{"ImageIds": []string{"img-aaaa0001"}},
			nil); err != nil {
			t.Fatalf("DescribeImages throttled under its own limit of 100: %v", err)
		}
	}
	_ = send(c, emulator.ActionDescribeImageSharePermission, map[string]any{"ImageId": "img-aaaa0001"}, nil)
	wantCode(t, send(c, emulator.ActionDescribeImageSharePermission, map[string]any{"ImageId": "img-aaaa0001"}, nil),
		emulator.CodeRequestLimitExceeded)
}
