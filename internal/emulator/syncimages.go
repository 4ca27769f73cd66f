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

package emulator

import (
	"fmt"
	"time"
)

func (e *Emulator) syncImages(c *call) (any, *apiError) {
	req, apiErr := decode[syncImagesRequest](c)
	if apiErr != nil {
		return nil, apiErr
	}
	switch {
	case len(req.ImageIds) == 0:
		return nil, missing("ImageIds")
	case len(req.DestinationRegions) == 0:
		return nil, missing("DestinationRegions")
	}
	ids, dests := dedupe(req.ImageIds), dedupe(req.DestinationRegions)
	for _, dest := range dests {
		if apiErr := e.checkSyncDestination(dest); apiErr != nil {
			return nil, apiErr
		}
	}
	visibilityDelay := e.copyVisibilityDelay() // read once: every copy of one call appears at once
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance()
	sources := make([]*image, 0, len(ids))
	for _, id := range ids {
		img, apiErr := e.syncSource(c, id, dests)
		if apiErr != nil {
			return nil, apiErr
		}
		sources = append(sources, img)
	}
	for _, dest := range dests {
		owned := 0
		for _, img := range e.images {
			if img.owner == c.caller.id && img.region == dest {
				owned++
			}
		}
		if owned+len(sources) > e.imageQuota {
			return nil, errf(CodeImageQuotaExceeded,
				"The custom image quota of account %s in %s is full (%d images).", c.caller.id, dest, e.imageQuota)
		}
	}
	if req.DryRun != nil && *req.DryRun {
		return syncImagesResponse{}, nil
	}
	now := e.now().UTC()
	made := make([]wireSyncImage, 0, len(sources)*len(dests))
	for _, src := range sources {
		for _, dest := range dests {
			copied := e.copyImage(src, c.caller.id, dest, req.ImageName, now)
			if visibilityDelay > 0 {
				copied.visibleAt = now.Add(visibilityDelay)
			}
			made = append(made, wireSyncImage{ImageID: copied.id, Region: dest})
		}
	}
	if req.ImageSetRequired != nil && *req.ImageSetRequired {
		return syncImagesResponse{ImageSet: made}, nil
	}
	return syncImagesResponse{}, nil
}

// syncSource checks that id can be copied to dests: an own image to other regions, or an image
// shared with the caller into its own region (which makes it the caller's custom image).
func (e *Emulator) syncSource(c *call, id string, dests []string) (*image, *apiError) {
	img, apiErr := e.lookup(c, id)
	if apiErr != nil {
		return nil, apiErr
	}
	kind := img.typeFor(c.caller.id)
	if kind == ImageTypePublic {
		return nil, errf(CodeNotBelongToAccount, "The image `%s` does not belong to account %s.", id, c.caller.id)
	}
	for _, dest := range dests {
		if kind == ImageTypePrivate && dest == img.region {
			return nil, errf(CodeInvalidRegionValue,
				"The image `%s` already lives in %s; a custom image can only be synced to other regions.", id, dest)
		}
		if kind == ImageTypeShared && dest != img.region {
			return nil, errf(CodeInvalidRegionValue,
				"The shared image `%s` can only be copied into its own region %s, not %s.", id, img.region, dest)
		}
	}
	if failed(img.state) {
		return nil, errf(CodeImageIncorrectState, "The image `%s` is %s; an image whose creation or import failed "+
			"cannot be synced.", id, img.state)
	}
	if img.state != StateNormal {
		return nil, errf(CodeInvalidImageState, "The image `%s` is %s; only a NORMAL image can be synced.", id, img.state)
	}
	return img, nil
}

func (e *Emulator) copyImage(src *image, owner, region string, name *string, now time.Time) *image {
	copied := &image{
		id: e.newImageID(), region: region, owner: owner, name: src.name, typ: ImageTypePrivate,
		state: StateNormal, license: src.license, encrypted: src.encrypted, created: now,
		shares: map[string]time.Time{}, synced: true,
	}
	if name != nil && *name != "" {
		copied.name = *name
	}
	if e.syncDuration > 0 {
		copied.state = StateSyncing
		copied.syncStart, copied.syncUntil = now, now.Add(e.syncDuration)
	}
	e.images[copied.id] = copied
	return copied
}

// newImageID draws a fresh image ID. Callers hold e.mu.
func (e *Emulator) newImageID() string {
	// Deterministic, so a demo or a test run prints the same IDs every time;
	// the shape is still ^img-[a-z0-9]{8}$ like Tencent's.
	for {
		e.copies++
		id := fmt.Sprintf("img-c%07d", e.copies)
		if _, taken := e.images[id]; !taken {
			return id
		}
	}
}
