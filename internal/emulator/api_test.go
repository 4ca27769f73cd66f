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
	"fmt"
	"maps"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/emulator/emulatortest"
)

const (
	share  = emulator.PermissionShare
	cancel = emulator.PermissionCancel
)

func TestDescribeImagesShowsEachAccountItsOwnView(t *testing.T) {
	_, addr := start(t)

	owner := describe(t, ownerClient(addr, guangzhou), nil)
	wantOwner := map[string]string{
		imgPlain: emulator.ImageTypePrivate, imgShared: emulator.ImageTypePrivate, imgBYOL: emulator.ImageTypePrivate,
		imgEncrypted: emulator.ImageTypePrivate, imgBusy: emulator.ImageTypePrivate,
		imgSharedIn: emulator.ImageTypeShared, imgPublic: emulator.ImageTypePublic,
	}
	if !maps.Equal(owner, wantOwner) {
		t.Errorf("owner sees %v, want %v", owner, wantOwner)
	}

	peer := describe(t, newClient(addr, peerKeyID, peerSecret, guangzhou), nil)
	wantPeer := map[string]string{
		imgShared: emulator.ImageTypeShared, imgSharedIn: emulator.ImageTypePrivate,
		imgPeerOnly: emulator.ImageTypePrivate, imgPublic: emulator.ImageTypePublic,
	}
	if !maps.Equal(peer, wantPeer) {
		t.Errorf("peer sees %v, want %v", peer, wantPeer)
	}

	inShanghai := describe(t, ownerClient(addr, shanghai), nil)
	if want := map[string]string{imgShanghai: emulator.ImageTypePrivate}; !maps.Equal(inShanghai, want) {
		t.Errorf("owner sees %v in %s, want %v", inShanghai, shanghai, want)
	}
}

func TestDescribeImagesReportsTheOperatorsFields(t *testing.T) {
	_, addr := start(t)
	var out imageSetResponse
	mustSend(t, ownerClient(addr, guangzhou), emulator.ActionDescribeImages,
		map[string]any{"ImageIds": []string{imgPlain, imgBYOL, imgEncrypted, imgBusy}}, &out)
	type fields struct {
		name, state, license string
		encrypted            bool
	}
	got := map[string]fields{}
	for _, img := range out.Response.ImageSet {
		if len(img.SnapshotSet) != 1 {
			t.Fatalf("%s has %d snapshots, want 1", img.ImageId, len(img.SnapshotSet))
		}
		got[img.ImageId] = fields{img.ImageName, img.ImageState, img.LicenseType, img.SnapshotSet[0].Encrypt}
	}
	want := map[string]fields{
		imgPlain:     {"web-base", emulator.StateNormal, emulator.LicenseTencentCloud, false},
		imgBYOL:      {imgBYOL, emulator.StateNormal, emulator.LicenseBYOL, false},
		imgEncrypted: {imgEncrypted, emulator.StateNormal, emulator.LicenseTencentCloud, true},
		imgBusy:      {imgBusy, emulator.StateCreating, emulator.LicenseTencentCloud, false},
	}
	if !maps.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestDescribeImagesByIDsAndFilters(t *testing.T) {
	_, addr := start(t)
	c := ownerClient(addr, guangzhou)

	byIDs := describe(t, c, map[string]any{"ImageIds": []string{imgPlain, imgPeerOnly, imgShanghai, imgMissing}})
	if want := map[string]string{imgPlain: emulator.ImageTypePrivate}; !maps.Equal(byIDs, want) {
		t.Errorf("by IDs: got %v, want %v (others' private, other regions' and missing images are absent)", byIDs, want)
	}

	shared := describe(t, c, map[string]any{"Filters": []map[string]any{
		{"Name": "image-type", "Values": []string{emulator.ImageTypeShared}},
	}})
	if want := map[string]string{imgSharedIn: emulator.ImageTypeShared}; !maps.Equal(shared, want) {
		t.Errorf("image-type filter: got %v, want %v", shared, want)
	}

	both := describe(t, c, map[string]any{"Filters": []map[string]any{
		{"Name": "image-id", "Values": []string{imgPlain, imgSharedIn, imgPeerOnly}},
		{"Name": "image-type", "Values": []string{emulator.ImageTypePrivate, emulator.ImageTypeShared}},
	}})
	want := map[string]string{imgPlain: emulator.ImageTypePrivate, imgSharedIn: emulator.ImageTypeShared}
	if !maps.Equal(both, want) {
		t.Errorf("image-id and image-type filters: got %v, want %v", both, want)
	}

	errorCases := []struct {
		name   string
		params map[string]any
		code   string
	}{
		{"IDs and filters together", map[string]any{
			"ImageIds": []string{imgPlain},
			"Filters":  []map[string]any{{"Name": "image-type", "Values": []string{emulator.ImageTypePrivate}}},
		}, emulator.CodeCoexistIDsFilters},
		{"malformed ID", map[string]any{"ImageIds": []string{"img-NOPE"}}, emulator.CodeImageMalformed},
		{"malformed ID in filter", map[string]any{
			"Filters": []map[string]any{{"Name": "image-id", "Values": []string{"ins-12345678"}}},
		}, emulator.CodeImageMalformed},
		{"unknown filter", map[string]any{
			"Filters": []map[string]any{{"Name": "instance-type", "Values": []string{"S5"}}},
		}, emulator.CodeInvalidFilter},
		{"limit over 100", map[string]any{"Limit": 101}, emulator.CodeValueRange},
		{"limit zero", map[string]any{"Limit": 0}, emulator.CodeValueRange},
		{"negative offset", map[string]any{"Offset": -1}, emulator.CodeInvalidParameter},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, send(c, emulator.ActionDescribeImages, tc.params, nil), tc.code)
		})
	}
}

func TestDescribeImagesPages(t *testing.T) {
	seed := &emulator.Seed{Accounts: []emulator.SeedAccount{{ID: ownerID, SecretID: ownerKeyID, SecretKey: ownerSecret}}}
	for i := range 25 {
		seed.Images = append(seed.Images, emulator.SeedImage{
			ID: fmt.Sprintf("img-page%04d", i), Region: guangzhou, Owner: ownerID,
		})
	}
	_, addr := emulatortest.Start(t, seed)
	c := ownerClient(addr, guangzhou)

	var first imageSetResponse
	mustSend(t, c, emulator.ActionDescribeImages, nil, &first)
	if len(first.Response.ImageSet) != 20 || first.Response.TotalCount != 25 {
		t.Errorf("default page: %d images, TotalCount %d; want 20 and 25",
			len(first.Response.ImageSet), first.Response.TotalCount)
	}

	seen := make([]string, 0, 25)
	for offset := 0; offset < 30; offset += 7 {
		var page imageSetResponse
		mustSend(t, c, emulator.ActionDescribeImages, map[string]any{"Offset": offset, "Limit": 7}, &page)
		if page.Response.TotalCount != 25 {
			t.Errorf("offset %d: TotalCount %d, want 25", offset, page.Response.TotalCount)
		}
		for _, img := range page.Response.ImageSet {
			seen = append(seen, img.ImageId)
		}
	}
	if len(seen) != 25 || !slices.IsSorted(seen) || len(slices.Compact(slices.Clone(seen))) != 25 {
		t.Errorf("paging by 7 returned %d images %v, want each of 25 once, in order", len(seen), seen)
	}
}

func TestShareAndCancel(t *testing.T) {
	emu, addr := start(t)
	c := ownerClient(addr, guangzhou)

	if err := modify(c, imgPlain, share, receiverB, receiverA); err != nil {
		t.Fatalf("share: %v", err)
	}
	if got := shareList(t, c, imgPlain); !slices.Equal(got, []string{receiverA, receiverB}) {
		t.Errorf("share list %v, want [%s %s]", got, receiverA, receiverB)
	}
	if got := sharedWith(t, emu, imgPlain); !slices.Equal(got, []string{receiverA, receiverB}) {
		t.Errorf("state sharedWith %v, want sorted [%s %s]", got, receiverA, receiverB)
	}

	// An account sees an image shared with it, and stops seeing it once the share is cancelled.
	peer := newClient(addr, peerKeyID, peerSecret, guangzhou)
	if got := describe(t, peer, map[string]any{"ImageIds": []string{imgShared}}); len(got) != 1 {
		t.Fatalf("peer sees %v, want %s", got, imgShared)
	}
	if err := modify(c, imgShared, cancel, peerID); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if got := describe(t, peer, map[string]any{"ImageIds": []string{imgShared}}); len(got) != 0 {
		t.Errorf("after CANCEL the peer still sees %v", got)
	}

	if err := modify(c, imgPlain, cancel, receiverA); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	// Assumption (docs/emulator.md): cancelling an existing account the image is not shared with is a no-op.
	if err := modify(c, imgPlain, cancel, receiverC); err != nil {
		t.Fatalf("cancel of an account never shared: %v", err)
	}
	if got := shareList(t, c, imgPlain); !slices.Equal(got, []string{receiverB}) {
		t.Errorf("share list %v, want [%s]", got, receiverB)
	}
}

func TestShareRules(t *testing.T) {
	cases := []struct {
		name       string
		region     string
		image      string
		permission string
		accounts   []string
		code       string
		mentions   []string
	}{
		{"already shared", guangzhou, imgShared, share, []string{receiverA, peerID},
			emulator.CodeAccountAlreadyExists, []string{peerID}},
		{"unknown account fails the whole call", guangzhou, imgPlain, share, []string{receiverA, unknownAcct},
			emulator.CodeAccountNotFound, []string{unknownAcct}},
		{"unknown account on cancel", guangzhou, imgShared, cancel, []string{peerID, unknownAcct},
			emulator.CodeAccountNotFound, []string{unknownAcct}},
		{"own account", guangzhou, imgPlain, share, []string{ownerID},
			emulator.CodeAccountIsYourSelf, []string{ownerID}},
		{"collaborator account", guangzhou, imgPlain, share, []string{receiverA, collabID},
			emulator.CodeNotMasterAccount, []string{collabID}},
		{"re-share of a shared-to-me image", guangzhou, imgSharedIn, share, []string{receiverA},
			emulator.CodeNotBelongToAccount, []string{imgSharedIn}},
		{"public image", guangzhou, imgPublic, share, []string{receiverA},
			emulator.CodeNotBelongToAccount, []string{imgPublic}},
		{"busy image", guangzhou, imgBusy, share, []string{receiverA},
			emulator.CodeInvalidImageState, []string{emulator.StateCreating}},
		{"BYOL image", guangzhou, imgBYOL, share, []string{receiverA}, emulator.CodeBYOLShareFailed, nil},
		{"encrypted image", guangzhou, imgEncrypted, share, []string{receiverA},
			emulator.CodeEncryptedNotSupported, nil},
		{"no such image", guangzhou, imgMissing, share, []string{receiverA}, emulator.CodeImageNotFound, nil},
		{"someone else's private image", guangzhou, imgPeerOnly, share, []string{receiverA},
			emulator.CodeImageNotFound, nil},
		{"image of another region", guangzhou, imgShanghai, share, []string{receiverA}, emulator.CodeImageNotFound, nil},
		{"malformed image ID", guangzhou, "img-AAAA0001", share, []string{receiverA}, emulator.CodeImageMalformed, nil},
		{"bad permission", guangzhou, imgPlain, "share", []string{receiverA}, emulator.CodeInvalidParameterValue, nil},
		{"no accounts", guangzhou, imgPlain, share, nil, emulator.CodeMissingParameter, []string{"AccountIds"}},
		{"unknown region", "xx-nowhere", imgPlain, share, []string{receiverA}, emulator.CodeRegionNotFound, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			emu, addr := start(t)
			before := emu.State()
			err := modify(ownerClient(addr, tc.region), tc.image, tc.permission, tc.accounts...)
			wantCode(t, err, tc.code, tc.mentions...)
			if after := emu.State(); !slices.EqualFunc(before.Images, after.Images, sameImage) {
				t.Errorf("a failed call changed the state:\nbefore %+v\nafter  %+v", before.Images, after.Images)
			}
		})
	}
}

func sameImage(a, b emulator.StateImage) bool {
	return a.ID == b.ID && a.State == b.State && slices.Equal(a.SharedWith, b.SharedWith)
}

func TestShareInTheImagesOwnRegion(t *testing.T) {
	emu, addr := start(t)
	if err := modify(ownerClient(addr, shanghai), imgShanghai, share, receiverA); err != nil {
		t.Fatalf("share in the image's region: %v", err)
	}
	if got := sharedWith(t, emu, imgShanghai); !slices.Equal(got, []string{receiverA}) {
		t.Errorf("sharedWith %v, want [%s]", got, receiverA)
	}
}

func TestShareLimitCountsTheWholeShareList(t *testing.T) {
	emu, addr := start(t) // shareLimit 3; imgShared starts shared with the peer
	c := ownerClient(addr, guangzhou)

	err := modify(c, imgShared, share, receiverA, receiverB, receiverC)
	wantCode(t, err, emulator.CodeOverQuota, imgShared)
	if got := sharedWith(t, emu, imgShared); !slices.Equal(got, []string{peerID}) {
		t.Fatalf("OverQuota changed the share list to %v", got)
	}
	if err := modify(c, imgShared, share, receiverA, receiverB); err != nil {
		t.Fatalf("share up to the limit: %v", err)
	}
	wantCode(t, modify(c, imgShared, share, receiverC), emulator.CodeOverQuota)
	if err := modify(c, imgShared, cancel, receiverA); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if err := modify(c, imgShared, share, receiverC); err != nil {
		t.Fatalf("share after a cancel made room: %v", err)
	}
	if got := sharedWith(t, emu, imgShared); !slices.Equal(got, []string{peerID, receiverB, receiverC}) {
		t.Errorf("share list %v", got)
	}
}

func TestDescribeImageSharePermissionRules(t *testing.T) {
	_, addr := start(t)
	c := ownerClient(addr, guangzhou)
	if got := shareList(t, c, imgShared); !slices.Equal(got, []string{peerID}) {
		t.Errorf("share list %v, want [%s]", got, peerID)
	}
	if got := shareList(t, c, imgPlain); len(got) != 0 {
		t.Errorf("share list of an unshared image: %v", got)
	}
	wantCode(t, send(c, emulator.ActionDescribeImageSharePermission, map[string]any{"ImageId": imgSharedIn}, nil),
		emulator.CodeNotBelongToAccount)
	wantCode(t, send(c, emulator.ActionDescribeImageSharePermission, map[string]any{"ImageId": imgShanghai}, nil),
		emulator.CodeImageNotFound)
	wantCode(t, send(c, emulator.ActionDescribeImageSharePermission, nil, nil), emulator.CodeMissingParameter, "ImageId")
}

func TestDeleteImagesRefusesSharedImages(t *testing.T) {
	emu, addr := start(t)
	c := ownerClient(addr, guangzhou)
	del := func(ids ...string) error {
		return send(c, emulator.ActionDeleteImages, map[string]any{"ImageIds": ids}, nil)
	}

	wantCode(t, del(imgShared), emulator.CodeImageInShared, imgShared)
	wantCode(t, del(imgPlain, imgShared), emulator.CodeImageInShared)
	if _, ok := stateOf(emu, imgPlain); !ok {
		t.Fatalf("a failed DeleteImages deleted %s", imgPlain)
	}
	wantCode(t, del(imgSharedIn), emulator.CodeNotBelongToAccount)
	wantCode(t, del(imgBusy), emulator.CodeInvalidImageState)
	wantCode(t, del(imgShanghai), emulator.CodeImageNotFound)
	wantCode(t, send(c, emulator.ActionDeleteImages, nil, nil), emulator.CodeMissingParameter)

	mustSend(t, c, emulator.ActionDeleteImages, map[string]any{"ImageIds": []string{imgPlain}, "DryRun": true}, nil)
	if _, ok := stateOf(emu, imgPlain); !ok {
		t.Fatalf("DryRun deleted %s", imgPlain)
	}

	if err := modify(c, imgShared, cancel, peerID); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if err := del(imgShared, imgPlain); err != nil {
		t.Fatalf("delete after the shares were cancelled: %v", err)
	}
	for _, id := range []string{imgShared, imgPlain} {
		if _, ok := stateOf(emu, id); ok {
			t.Errorf("%s still exists", id)
		}
	}
	if got := describe(t, c, map[string]any{"ImageIds": []string{imgShared, imgPlain}}); len(got) != 0 {
		t.Errorf("deleted images still described: %v", got)
	}
}

type syncResponse struct {
	Response struct {
		ImageSet []struct {
			ImageId string
			Region  string
		}
	}
}

func TestSyncImagesCopiesThroughSyncingToNormal(t *testing.T) {
	emu, addr := start(t) // syncSeconds 1
	c := ownerClient(addr, guangzhou)

	started := time.Now()
	var out syncResponse
	mustSend(t, c, emulator.ActionSyncImages, map[string]any{
		"ImageIds": []string{imgPlain}, "DestinationRegions": []string{shanghai},
		"ImageName": "web-base-copy", "ImageSetRequired": true,
	}, &out)
	if len(out.Response.ImageSet) != 1 || out.Response.ImageSet[0].Region != shanghai {
		t.Fatalf("ImageSet %+v, want one image in %s", out.Response.ImageSet, shanghai)
	}
	copyID := out.Response.ImageSet[0].ImageId
	if copyID == imgPlain || !regexp.MustCompile(`^img-[a-z0-9]{8}$`).MatchString(copyID) {
		t.Fatalf("copy ID %q is not a new image ID", copyID)
	}

	sh := ownerClient(addr, shanghai)
	var first imageSetResponse
	mustSend(t, sh, emulator.ActionDescribeImages, map[string]any{"ImageIds": []string{copyID}}, &first)
	if len(first.Response.ImageSet) != 1 {
		t.Fatalf("the copy is not visible in %s: %+v", shanghai, first.Response)
	}
	img := first.Response.ImageSet[0]
	if img.ImageName != "web-base-copy" || img.ImageType != emulator.ImageTypePrivate {
		t.Errorf("copy is %+v, want name web-base-copy and PRIVATE_IMAGE", img)
	}
	// The copy is SYNCING for one second; the deterministic check of the countdown is
	// TestSyncImagesCountdownFollowsTheClock, so here the state is only asserted if the call was fast.
	if time.Since(started) < 900*time.Millisecond && img.ImageState != emulator.StateSyncing {
		t.Errorf("copy state %s right after SyncImages, want SYNCING", img.ImageState)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var now imageSetResponse
		mustSend(t, sh, emulator.ActionDescribeImages, map[string]any{"ImageIds": []string{copyID}}, &now)
		if now.Response.ImageSet[0].ImageState == emulator.StateNormal {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("copy still %s after 30s", now.Response.ImageSet[0].ImageState)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if src, _ := stateOf(emu, imgPlain); src.State != emulator.StateNormal {
		t.Errorf("source state %s, want NORMAL", src.State)
	}
}

func TestSyncImagesCountdownFollowsTheClock(t *testing.T) {
	seed := fixtureSeed(t)
	seed.SyncSeconds = new(10)
	emu, addr, clock := startWithClock(t, seed)
	c := ownerClient(addr, guangzhou)

	var out syncResponse
	mustSend(t, c, emulator.ActionSyncImages, map[string]any{
		"ImageIds": []string{imgPlain}, "DestinationRegions": []string{shanghai}, "ImageSetRequired": true,
	}, &out)
	copyID := out.Response.ImageSet[0].ImageId
	check := func(wantState string, wantPercent int) {
		t.Helper()
		var got imageSetResponse
		mustSend(t, ownerClient(addr, shanghai), emulator.ActionDescribeImages,
			map[string]any{"ImageIds": []string{copyID}}, &got)
		img := got.Response.ImageSet[0]
		if img.ImageState != wantState || img.SyncPercent != wantPercent {
			t.Errorf("copy is %s at %d%%, want %s at %d%%", img.ImageState, img.SyncPercent, wantState, wantPercent)
		}
	}
	check(emulator.StateSyncing, 0)
	clock.Advance(5 * time.Second)
	check(emulator.StateSyncing, 50)
	wantCode(t, modify(ownerClient(addr, shanghai), copyID, share, receiverA),
		emulator.CodeInvalidImageState)
	clock.Advance(5 * time.Second)
	check(emulator.StateNormal, 100)
	if err := modify(ownerClient(addr, shanghai), copyID, share, receiverA); err != nil {
		t.Errorf("share the finished copy: %v", err)
	}
	if img, _ := stateOf(emu, copyID); img.Owner != ownerID || img.Region != shanghai {
		t.Errorf("copy state %+v", img)
	}
}

func TestSyncImagesRules(t *testing.T) {
	emu, addr := start(t)
	c := ownerClient(addr, guangzhou)
	syncTo := func(id string, regions ...string) error {
		return send(c, emulator.ActionSyncImages, map[string]any{"ImageIds": []string{id}, "DestinationRegions": regions}, nil)
	}
	wantCode(t, syncTo(imgPlain, guangzhou), emulator.CodeInvalidRegionValue)
	wantCode(t, syncTo(imgPlain, "xx-nowhere"), emulator.CodeRegionUnavailable, "xx-nowhere", "ap-shanghai")
	wantCode(t, syncTo(imgBusy, shanghai), emulator.CodeInvalidImageState)
	wantCode(t, syncTo(imgPublic, shanghai), emulator.CodeNotBelongToAccount)
	wantCode(t, syncTo(imgSharedIn, shanghai), emulator.CodeInvalidRegionValue)
	wantCode(t, syncTo(imgPeerOnly, shanghai), emulator.CodeImageNotFound)
	wantCode(t, send(c, emulator.ActionSyncImages, map[string]any{"ImageIds": []string{imgPlain}}, nil),
		emulator.CodeMissingParameter, "DestinationRegions")
	imagesBefore := len(emu.State().Images)

	var out syncResponse
	mustSend(t, c, emulator.ActionSyncImages, map[string]any{
		"ImageIds": []string{imgPlain}, "DestinationRegions": []string{shanghai}, "DryRun": true,
	}, &out)
	if len(out.Response.ImageSet) != 0 || len(emu.State().Images) != imagesBefore {
		t.Errorf("DryRun made images: %+v", out.Response.ImageSet)
	}
	mustSend(t, c, emulator.ActionSyncImages, map[string]any{
		"ImageIds": []string{imgPlain}, "DestinationRegions": []string{shanghai, "ap-beijing"},
	}, &out)
	if len(out.Response.ImageSet) != 0 {
		t.Errorf("ImageSet %+v returned without ImageSetRequired", out.Response.ImageSet)
	}
	if got := len(emu.State().Images); got != imagesBefore+2 {
		t.Errorf("%d images after syncing to two regions, want %d", got, imagesBefore+2)
	}

	// A shared image can be copied into its own region, where the copy belongs to the caller.
	mustSend(t, c, emulator.ActionSyncImages, map[string]any{
		"ImageIds": []string{imgSharedIn}, "DestinationRegions": []string{guangzhou}, "ImageSetRequired": true,
	}, &out)
	copied, ok := stateOf(emu, out.Response.ImageSet[0].ImageId)
	if !ok || copied.Owner != ownerID || copied.Region != guangzhou || len(copied.SharedWith) != 0 {
		t.Errorf("copy of a shared image: %+v", copied)
	}
}

func TestDescribeImageQuotaAndRegions(t *testing.T) {
	seed := fixtureSeed(t)
	seed.Images = append(seed.Images, emulator.SeedImage{ID: "img-edge0001", Region: "ap-edge-1", Owner: ownerID})
	_, addr := emulatortest.Start(t, seed)

	var quota struct{ Response struct{ ImageNumQuota int } }
	mustSend(t, ownerClient(addr, guangzhou), emulator.ActionDescribeImageQuota, nil, &quota)
	if quota.Response.ImageNumQuota <= 0 {
		t.Errorf("ImageNumQuota %d", quota.Response.ImageNumQuota)
	}

	var regions struct {
		Response struct {
			TotalCount int
			RegionSet  []struct{ Region, RegionName, RegionState string }
		}
	}
	mustSend(t, ownerClient(addr, ""), emulator.ActionDescribeRegions, nil, &regions)
	got := map[string]string{}
	for _, r := range regions.Response.RegionSet {
		got[r.Region] = r.RegionState
	}
	if regions.Response.TotalCount != len(got) {
		t.Errorf("TotalCount %d for %d regions", regions.Response.TotalCount, len(got))
	}
	for _, want := range []string{guangzhou, shanghai, "ap-singapore", "ap-edge-1"} {
		if got[want] != "AVAILABLE" {
			t.Errorf("region %s: %q, want AVAILABLE", want, got[want])
		}
	}
	// A region that only the seed knows is a real region to the emulator.
	if types := describe(t, ownerClient(addr, "ap-edge-1"), nil); len(types) != 1 {
		t.Errorf("images in ap-edge-1: %v", types)
	}
}

func TestUnknownActionsAndParameters(t *testing.T) {
	_, addr := start(t)
	c := ownerClient(addr, guangzhou)
	wantCode(t, send(c, "RunInstances", nil, nil), emulator.CodeInvalidAction, "RunInstances")
	wantCode(t, send(c, emulator.ActionDescribeImages, map[string]any{"ImageIds": imgPlain}, nil),
		emulator.CodeInvalidParameter, "ImageIds")
	wantCode(t, send(c, emulator.ActionDescribeImages, map[string]any{"imageIds": []string{imgPlain}}, nil),
		emulator.CodeUnknownParameter, "imageIds")
	wantCode(t, send(c, emulator.ActionModifyImageSharePermission,
		map[string]any{"ImageId": imgPlain, "AccountIds": []int{100000000004}, "Permission": share}, nil),
		emulator.CodeInvalidParameter, "AccountIds")
	wantCode(t, send(c, emulator.ActionDescribeImageQuota, map[string]any{"Region": guangzhou}, nil),
		emulator.CodeUnknownParameter)
}
