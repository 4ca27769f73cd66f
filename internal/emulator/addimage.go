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
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"time"
)

// newImage builds the in-memory image of a normalized seed image; created is
// its creation time unless the seed image names one.
func newImage(si SeedImage, created time.Time) *image {
	if si.CreatedTime != "" {
		if t, err := time.Parse(time.RFC3339, si.CreatedTime); err == nil { // normalize checked it
			created = t.UTC()
		}
	}
	img := &image{
		id: si.ID, region: si.Region, owner: si.Owner, name: si.Name, typ: si.Type, state: si.State,
		license: si.LicenseType, encrypted: si.Encrypted, created: created, shares: map[string]time.Time{},
		tags: maps.Clone(si.Tags),
	}
	for _, acct := range si.SharedWith {
		img.shares[acct] = created
	}
	return img
}

// AddImage adds one image at runtime, as a new build arriving: si has the
// seed's keys and rules; an empty createdTime means now. The region must be
// one the emulator already serves (a public region or one the seed used).
func (e *Emulator) AddImage(si SeedImage) error {
	if !imageIDPattern.MatchString(si.ID) {
		return fmt.Errorf("image %q: id must match ^img-[a-z0-9]{8}$", si.ID)
	}
	known := make(map[string]bool, len(e.accounts))
	for id := range e.accounts {
		known[id] = true
	}
	norm, err := normalizeImage(si, known, e.shareLimit)
	if err != nil {
		return fmt.Errorf("image %q: %w", si.ID, err)
	}
	if _, ok := e.regions[norm.Region]; !ok {
		return fmt.Errorf("image %q: region %q is not served by this emulator", si.ID, norm.Region)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, dup := e.images[norm.ID]; dup {
		return fmt.Errorf("image %q: duplicate image id", si.ID)
	}
	e.images[norm.ID] = newImage(norm, e.now().UTC())
	return nil
}

// serveAddImage answers POST /_emulator/images: 201 with the image as the
// state endpoint shows it, or 400 with a message.
func (e *Emulator) serveAddImage(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		http.Error(w, fmt.Sprintf("read body: %v", err), http.StatusBadRequest)
		return
	}
	var si SeedImage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&si); err != nil {
		http.Error(w, fmt.Sprintf("decode image: %v", err), http.StatusBadRequest)
		return
	}
	var fields map[string]any
	if json.Unmarshal(body, &fields) == nil {
		if err := checkKeys("image", fields, reflect.TypeFor[SeedImage]()); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	if err := e.AddImage(si); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(e.stateOf(si.ID)) // the client went away; nothing to do
}

// stateOf is one image as State shows it.
func (e *Emulator) stateOf(id string) StateImage {
	for _, img := range e.State().Images {
		if img.ID == id {
			return img
		}
	}
	return StateImage{}
}
