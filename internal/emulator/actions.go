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
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
)

// actionSpec is one implemented action.
type actionSpec struct {
	// regionOptional is set for actions that answer without X-TC-Region.
	regionOptional bool
	run            func(e *Emulator, c *call) (any, *apiError)
}

var actions = map[string]actionSpec{
	ActionDescribeImages:               {run: (*Emulator).describeImages},
	ActionDescribeImageSharePermission: {run: (*Emulator).describeImageSharePermission},
	ActionModifyImageSharePermission:   {run: (*Emulator).modifyImageSharePermission},
	ActionDescribeImageQuota:           {run: (*Emulator).describeImageQuota},
	ActionDeleteImages:                 {run: (*Emulator).deleteImages},
	ActionSyncImages:                   {run: (*Emulator).syncImages},
	ActionDescribeRegions:              {regionOptional: true, run: (*Emulator).describeRegions},
}

const (
	defaultLimit    = 20
	maxLimit        = 100
	maxFilters      = 10
	maxFilterValues = 5
	timeLayout      = time.RFC3339

	filterImageID   = "image-id"
	filterImageType = "image-type"
	filterImageName = "image-name"
	// filterTagPrefix starts the tag:<key> filter, whose values are the tag values to match.
	filterTagPrefix = "tag:"
)

// decode parses the JSON body into the action's request type. Parameter names are matched
// exactly (encoding/json alone would match them case-insensitively) and unknown ones are
// refused, as the real API does.
func decode[T any](c *call) (*T, *apiError) {
	raw := c.params
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = []byte("{}")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, errf(CodeInvalidParameter, "The request body is not a JSON object: %v.", err)
	}
	allowed := jsonNames(reflect.TypeFor[T]())
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		if !slices.Contains(allowed, name) {
			return nil, errf(CodeUnknownParameter, "The parameter `%s` is not recognized by %s.", name, c.action)
		}
	}
	out := new(T)
	if len(fields) == 0 {
		return out, nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		if typeErr, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			return nil, errf(CodeInvalidParameter, "The parameter `%s` must be of type %s, not a JSON %s.",
				typeErr.Field, typeErr.Type, typeErr.Value)
		}
		return nil, errf(CodeInvalidParameter, "The request body could not be decoded: %v.", err)
	}
	return out, nil
}

func jsonNames(t reflect.Type) []string {
	names := make([]string, 0, t.NumField())
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
}

func malformedImageID(id string) *apiError {
	return errf(CodeImageMalformed, "The image ID `%s` is malformed; it must look like img-xxxxxxxx.", id)
}

func missing(name string) *apiError {
	return errf(CodeMissingParameter, "The request is missing the required parameter `%s`.", name)
}

// lookup finds an image the caller can see in the request's region. Images of other regions and
// other accounts' private images are invisible, exactly as if they did not exist.
func (e *Emulator) lookup(c *call, id string) (*image, *apiError) {
	if !imageIDPattern.MatchString(id) {
		return nil, malformedImageID(id)
	}
	img, ok := e.images[id]
	if !ok || img.region != c.region || !img.visibleTo(c.caller.id) || img.hidden(e.now()) {
		return nil, errf(CodeImageNotFound, "The image `%s` does not exist in region %s.", id, c.region)
	}
	return img, nil
}

// owned finds an image the caller owns: visible and neither shared with it nor public.
func (e *Emulator) owned(c *call, id string) (*image, *apiError) {
	img, apiErr := e.lookup(c, id)
	if apiErr != nil {
		return nil, apiErr
	}
	if img.typeFor(c.caller.id) != ImageTypePrivate {
		return nil, errf(CodeNotBelongToAccount, "The image `%s` does not belong to account %s.", id, c.caller.id)
	}
	return img, nil
}

// hidden is true while a new SyncImages copy is not yet listed (faults.copyVisibilityDelay): the
// cloud has accepted the copy, but for its callers the ID does not exist yet.
func (img *image) hidden(now time.Time) bool {
	return now.Before(img.visibleAt)
}

func (img *image) visibleTo(acct string) bool {
	_, shared := img.shares[acct]
	return img.typ == ImageTypePublic || img.owner == acct || shared
}

// typeFor is the ImageType the caller sees.
func (img *image) typeFor(acct string) string {
	switch {
	case img.typ == ImageTypePublic:
		return ImageTypePublic
	case img.owner == acct:
		return ImageTypePrivate
	default:
		return ImageTypeShared
	}
}

func (e *Emulator) describeImageQuota(c *call) (any, *apiError) {
	if _, apiErr := decode[struct{}](c); apiErr != nil {
		return nil, apiErr
	}
	return describeImageQuotaResponse{ImageNumQuota: int64(e.imageQuota)}, nil
}

func (e *Emulator) deleteImages(c *call) (any, *apiError) {
	req, apiErr := decode[deleteImagesRequest](c)
	if apiErr != nil {
		return nil, apiErr
	}
	if len(req.ImageIds) == 0 {
		return nil, missing("ImageIds")
	}
	ids := dedupe(req.ImageIds)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance()
	for _, id := range ids {
		img, apiErr := e.owned(c, id)
		if apiErr != nil {
			return nil, apiErr
		}
		if len(img.shares) > 0 {
			return nil, errf(CodeImageInShared,
				"The image `%s` is shared with %d accounts; cancel every share before deleting it.", id, len(img.shares))
		}
		if busy(img.state) {
			return nil, errf(CodeInvalidImageState, "The image `%s` is %s and cannot be deleted now.", id, img.state)
		}
	}
	if req.DryRun != nil && *req.DryRun {
		return emptyResponse{}, nil
	}
	for _, id := range ids {
		delete(e.images, id)
	}
	return emptyResponse{}, nil
}

func busy(state string) bool {
	return state == StateCreating || state == StateSyncing || state == StateImporting
}

// failed is true for the terminal states of an image whose creation or import went wrong: unlike
// a busy image, waiting will not make it usable.
func failed(state string) bool {
	return state == StateCreateFailed || state == StateImportFailed
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func (e *Emulator) describeRegions(c *call) (any, *apiError) {
	if _, apiErr := decode[struct{}](c); apiErr != nil {
		return nil, apiErr
	}
	resp := describeRegionsResponse{RegionSet: []wireRegion{}}
	for _, region := range slices.Sorted(maps.Keys(e.regions)) {
		resp.RegionSet = append(resp.RegionSet, wireRegion{
			Region: region, RegionName: e.regions[region], RegionState: "AVAILABLE",
		})
	}
	resp.TotalCount = int64(len(resp.RegionSet))
	return resp, nil
}
