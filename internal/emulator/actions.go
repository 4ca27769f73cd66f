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
	"fmt"
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

func (e *Emulator) describeImages(c *call) (any, *apiError) {
	req, apiErr := decode[describeImagesRequest](c)
	if apiErr != nil {
		return nil, apiErr
	}
	if len(req.ImageIds) > 0 && len(req.Filters) > 0 {
		return nil, errf(CodeCoexistIDsFilters, "ImageIds and Filters cannot be specified at the same time.")
	}
	for _, id := range req.ImageIds {
		if !imageIDPattern.MatchString(id) {
			return nil, malformedImageID(id)
		}
	}
	if apiErr := checkFilters(req.Filters); apiErr != nil {
		return nil, apiErr
	}
	limit := uint64(defaultLimit)
	if req.Limit != nil {
		if *req.Limit < 1 || *req.Limit > maxLimit {
			return nil, errf(CodeValueRange, "Limit %d is out of range: it must be between 1 and %d.", *req.Limit, maxLimit)
		}
		limit = *req.Limit
	}
	var offset uint64
	if req.Offset != nil {
		offset = *req.Offset
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance()
	now := e.now()
	matched := []*image{}
	for _, id := range slices.Sorted(maps.Keys(e.images)) {
		img := e.images[id]
		if img.region != c.region || !img.visibleTo(c.caller.id) || img.hidden(now) {
			continue
		}
		if len(req.ImageIds) > 0 && !slices.Contains(req.ImageIds, id) {
			continue
		}
		if matchesFilters(img, c.caller.id, req.Filters) {
			matched = append(matched, img)
		}
	}
	resp := describeImagesResponse{ImageSet: []wireImage{}, TotalCount: int64(len(matched))}
	if offset < uint64(len(matched)) {
		end := min(uint64(len(matched)), offset+limit)
		for _, img := range matched[offset:end] {
			resp.ImageSet = append(resp.ImageSet, img.render(c.caller.id, now))
		}
	}
	return resp, nil
}

func checkFilters(filters []wireFilter) *apiError {
	if len(filters) > maxFilters {
		return errf(CodeFilterLimitExceeded, "At most %d Filters are allowed, not %d.", maxFilters, len(filters))
	}
	for _, f := range filters {
		name := ""
		if f.Name != nil {
			name = *f.Name
		}
		switch name {
		case filterImageID, filterImageType, filterImageName:
		case "":
			return errf(CodeInvalidFilter, "Every filter needs a Name.")
		default:
			return errf(CodeInvalidFilter, "The filter `%s` is not supported; use %s, %s or %s.",
				name, filterImageID, filterImageType, filterImageName)
		}
		if len(f.Values) == 0 {
			return errf(CodeInvalidParameterValue, "The filter `%s` needs at least one value.", name)
		}
		if len(f.Values) > maxFilterValues {
			return errf(CodeFilterLimitExceeded, "The filter `%s` has %d values; at most %d are allowed.",
				name, len(f.Values), maxFilterValues)
		}
		if name != filterImageID {
			continue
		}
		for _, id := range f.Values {
			if !imageIDPattern.MatchString(id) {
				return malformedImageID(id)
			}
		}
	}
	return nil
}

// matchesFilters applies filters with AND between filters and OR between a filter's values.
func matchesFilters(img *image, caller string, filters []wireFilter) bool {
	for _, f := range filters {
		var field string
		switch *f.Name {
		case filterImageID:
			field = img.id
		case filterImageType:
			field = img.typeFor(caller)
		case filterImageName:
			field = img.name
		}
		if !slices.Contains(f.Values, field) {
			return false
		}
	}
	return true
}

func (img *image) render(caller string, now time.Time) wireImage {
	percent := int64(100)
	switch {
	case !img.syncUntil.IsZero():
		total := img.syncUntil.Sub(img.syncStart)
		percent = min(99, max(0, int64(now.Sub(img.syncStart)*100/max(total, 1))))
	case img.state != StateNormal:
		percent = 0
	}
	source, creator := "CREATE_IMAGE", img.owner
	if img.typ == ImageTypePublic {
		source = "OFFICIAL"
	}
	return wireImage{
		ImageID:            img.id,
		OsName:             "TencentOS Server 3.1 (TK4)",
		ImageType:          img.typeFor(caller),
		CreatedTime:        img.created.Format(timeLayout),
		ImageName:          img.name,
		ImageDescription:   "",
		ImageSize:          50,
		Architecture:       "x86_64",
		ImageState:         img.state,
		Platform:           "TencentOS",
		ImageCreator:       creator,
		ImageSource:        source,
		SyncPercent:        percent,
		IsSupportCloudinit: true,
		SnapshotSet: []wireSnapshot{{
			SnapshotID: "snap-" + strings.TrimPrefix(img.id, "img-"),
			DiskUsage:  "SYSTEM_DISK",
			DiskSize:   50,
			Encrypt:    img.encrypted,
		}},
		Tags:        []wireTag{},
		LicenseType: img.license,
	}
}

func (e *Emulator) describeImageSharePermission(c *call) (any, *apiError) {
	req, apiErr := decode[describeImageSharePermissionRequest](c)
	if apiErr != nil {
		return nil, apiErr
	}
	if req.ImageID == nil || *req.ImageID == "" {
		return nil, missing("ImageId")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	img, apiErr := e.owned(c, *req.ImageID)
	if apiErr != nil {
		return nil, apiErr
	}
	resp := describeImageSharePermissionResponse{SharePermissionSet: []wireSharePermission{}}
	for _, acct := range img.sharedWith() {
		resp.SharePermissionSet = append(resp.SharePermissionSet, wireSharePermission{
			CreatedTime: img.shares[acct].Format(timeLayout),
			AccountID:   acct,
		})
	}
	return resp, nil
}

func (e *Emulator) modifyImageSharePermission(c *call) (any, *apiError) {
	req, apiErr := decode[modifyImageSharePermissionRequest](c)
	if apiErr != nil {
		return nil, apiErr
	}
	switch {
	case req.ImageID == nil || *req.ImageID == "":
		return nil, missing("ImageId")
	case len(req.AccountIds) == 0:
		return nil, missing("AccountIds")
	case req.Permission == nil || *req.Permission == "":
		return nil, missing("Permission")
	case *req.Permission != PermissionShare && *req.Permission != PermissionCancel:
		return nil, errf(CodeInvalidParameterValue, "Permission `%s` is invalid: it must be %s or %s.",
			*req.Permission, PermissionShare, PermissionCancel)
	}
	share := *req.Permission == PermissionShare
	accounts := dedupe(req.AccountIds)
	// The account IDs' format is a parameter check: it comes before any lookup of the image.
	for _, acct := range accounts {
		if !isDigits(acct) {
			return nil, errf(CodeInvalidAppIDFormat,
				"The account ID `%s` is not in a valid format: an account ID is the digits of a root account.", acct)
		}
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance()
	img, apiErr := e.owned(c, *req.ImageID)
	if apiErr != nil {
		return nil, apiErr
	}
	if apiErr := checkShareable(img, share); apiErr != nil {
		return nil, apiErr
	}
	// Every account is checked before anything changes: one bad account fails the whole call.
	for _, acct := range accounts {
		if apiErr := e.checkAccount(c, img, acct, share); apiErr != nil {
			return nil, apiErr
		}
	}
	if share {
		if total := len(img.shares) + len(accounts); total > e.shareLimit {
			return nil, errf(CodeOverQuota,
				"Sharing image `%s` with %d more accounts would make %d shares, over the limit of %d accounts per image.",
				img.id, len(accounts), total, e.shareLimit)
		}
	}
	if apiErr := e.shareFails(img, *req.Permission); apiErr != nil {
		return nil, apiErr
	}
	if !share {
		for _, acct := range accounts {
			delete(img.shares, acct) // an account the image is not shared with is a no-op
		}
		return emptyResponse{}, nil
	}
	now := e.now().UTC()
	for _, acct := range accounts {
		img.shares[acct] = now
	}
	return emptyResponse{}, nil
}

func checkShareable(img *image, share bool) *apiError {
	if failed(img.state) {
		return errf(CodeImageIncorrectState, "The image `%s` is %s; an image whose creation or import failed can "+
			"never be shared or unshared.", img.id, img.state)
	}
	if img.state != StateNormal {
		return errf(CodeInvalidImageState, "The image `%s` is %s; only a NORMAL image can be shared or unshared.",
			img.id, img.state)
	}
	if !share {
		return nil
	}
	if img.license == LicenseBYOL {
		return errf(CodeBYOLShareFailed, "The image `%s` is a BYOL (bring your own license) image, which cannot be shared.",
			img.id)
	}
	if img.encrypted {
		return errf(CodeEncryptedNotSupported, "The image `%s` is encrypted; encrypted images cannot be shared.", img.id)
	}
	return nil
}

// checkAccount validates one account of a SHARE or CANCEL call. Messages name the account verbatim.
func (e *Emulator) checkAccount(c *call, img *image, acct string, share bool) *apiError {
	target, ok := e.accounts[acct]
	switch {
	case !ok:
		return errf(CodeAccountNotFound, "The account ID `%s` does not exist.", acct)
	case acct == c.caller.id:
		return errf(CodeAccountIsYourSelf, "The account `%s` is your own account; an image cannot be shared with itself.",
			acct)
	case !target.root:
		return errf(CodeNotMasterAccount, "The account `%s` is a collaborator account; give the root account instead.",
			acct)
	}
	if _, shared := img.shares[acct]; share && shared {
		return errf(CodeAccountAlreadyExists, "The image `%s` is already shared with account `%s`.", img.id, acct)
	}
	return nil
}

func dedupe(values []string) []string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
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
