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
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/emulator/emulatortest"
)

const taggedYAML = `
accounts:
  - {id: "100000000001", secretId: AKIDowner0001, secretKey: owner-secret-1}
  - {id: "100000000002"}
images:
  - {id: img-gold0001, region: ap-guangzhou, owner: "100000000001", name: golden-ubuntu-1,
     tags: {team: platform, os: ubuntu}, createdTime: "2026-11-01T10:00:00Z"}
  - {id: img-gold0002, region: ap-guangzhou, owner: "100000000001", name: golden-ubuntu-2,
     tags: {team: platform}}
  - {id: img-othr0001, region: ap-guangzhou, owner: "100000000001", name: other, tags: {team: data}}
`

type listedImage struct {
	ImageID     string `json:"ImageId"`
	ImageName   string `json:"ImageName"`
	CreatedTime string `json:"CreatedTime"`
	Tags        []struct {
		Key   string `json:"Key"`
		Value string `json:"Value"`
	} `json:"Tags"`
}

// describeFull lists the images params select, with the fields a policy reads.
func describeFull(t *testing.T, addr string, params map[string]any) []listedImage {
	t.Helper()
	var out struct {
		Response struct {
			ImageSet []listedImage `json:"ImageSet"`
		} `json:"Response"`
	}
	mustSend(t, ownerClient(addr, guangzhou), emulator.ActionDescribeImages, params, &out)
	return out.Response.ImageSet
}

func ids(images []listedImage) []string {
	out := make([]string, 0, len(images))
	for _, img := range images {
		out = append(out, img.ImageID)
	}
	return out
}

func TestDescribeImagesReportsTagsAndCreatedTime(t *testing.T) {
	seed, err := emulator.ParseSeed([]byte(taggedYAML))
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	_, addr := emulatortest.Start(t, seed)

	images := describeFull(t, addr, map[string]any{"ImageIds": []string{"img-gold0001", "img-gold0002"}})
	if len(images) != 2 {
		t.Fatalf("got %d images, want 2", len(images))
	}
	first := images[0]
	if first.CreatedTime != "2026-11-01T10:00:00Z" {
		t.Errorf("CreatedTime %q, want the seeded 2026-11-01T10:00:00Z", first.CreatedTime)
	}
	if len(first.Tags) != 2 || first.Tags[0].Key != "os" || first.Tags[0].Value != "ubuntu" ||
		first.Tags[1].Key != "team" || first.Tags[1].Value != "platform" {
		t.Errorf("Tags %+v, want [{os ubuntu} {team platform}] sorted by key", first.Tags)
	}
	created, err := time.Parse(time.RFC3339, images[1].CreatedTime)
	if err != nil || created.Before(before.Truncate(time.Second)) {
		t.Errorf("CreatedTime %q of an image without one: want the load time (after %s), err %v",
			images[1].CreatedTime, before, err)
	}
}

func TestDescribeImagesFiltersByTagAndName(t *testing.T) {
	seed, err := emulator.ParseSeed([]byte(taggedYAML))
	if err != nil {
		t.Fatal(err)
	}
	_, addr := emulatortest.Start(t, seed)
	filter := func(name string, values ...string) map[string]any {
		return map[string]any{"Name": name, "Values": values}
	}
	cases := []struct {
		name    string
		filters []map[string]any
		want    []string
	}{
		{"one tag", []map[string]any{filter("tag:team", "platform")}, []string{"img-gold0001", "img-gold0002"}},
		{"tag values are ORed", []map[string]any{filter("tag:team", "platform", "data")},
			[]string{"img-gold0001", "img-gold0002", "img-othr0001"}},
		{"tags are ANDed", []map[string]any{filter("tag:team", "platform"), filter("tag:os", "ubuntu")},
			[]string{"img-gold0001"}},
		{"untagged key matches nothing", []map[string]any{filter("tag:missing", "x")}, []string{}},
		{"name and type", []map[string]any{filter("image-name", "other"),
			filter("image-type", emulator.ImageTypePrivate)}, []string{"img-othr0001"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ids(describeFull(t, addr, map[string]any{"Filters": tc.filters}))
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("tag: without a key", func(t *testing.T) {
		err := send(ownerClient(addr, guangzhou), emulator.ActionDescribeImages,
			map[string]any{"Filters": []map[string]any{filter("tag:", "x")}}, nil)
		wantCode(t, err, emulator.CodeInvalidFilter)
	})
}

func TestSeedRejectsBadTagsAndTimes(t *testing.T) {
	for name, image := range map[string]string{
		"bad createdTime": `{id: img-aaaa0001, region: ap-guangzhou, owner: "100000000001", createdTime: yesterday}`,
		"empty tag key":   `{id: img-aaaa0001, region: ap-guangzhou, owner: "100000000001", tags: {"": x}}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := emulator.ParseSeed([]byte("accounts: [{id: \"100000000001\"}]\nimages:\n  - " + image))
			if err == nil {
				t.Fatal("seed accepted")
			}
		})
	}
}

func postImage(t *testing.T, addr, body string) (int, string) {
	t.Helper()
	resp, err := http.Post("http://"+addr+emulator.ImagesPath, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func TestPostImageAddsABuildAtRuntime(t *testing.T) {
	seed, err := emulator.ParseSeed([]byte(taggedYAML))
	if err != nil {
		t.Fatal(err)
	}
	emu, addr := emulatortest.Start(t, seed)
	before := time.Now().Add(-time.Second)

	code, body := postImage(t, addr, `{"id": "img-gold0003", "region": "ap-guangzhou", "owner": "100000000001",
		"name": "golden-ubuntu-3", "tags": {"team": "platform"}}`)
	if code != http.StatusCreated {
		t.Fatalf("POST answered %d %s, want 201", code, body)
	}
	if !strings.Contains(body, `"img-gold0003"`) {
		t.Errorf("answer %s does not show the image", body)
	}
	if _, ok := stateOf(emu, "img-gold0003"); !ok {
		t.Fatal("the new image is not in the state")
	}
	got := describeFull(t, addr, map[string]any{"Filters": []map[string]any{
		{"Name": "tag:team", "Values": []string{"platform"}}}})
	if want := []string{"img-gold0001", "img-gold0002", "img-gold0003"}; !slices.Equal(ids(got), want) {
		t.Errorf("tag filter after POST: %v, want %v", ids(got), want)
	}
	created, err := time.Parse(time.RFC3339, got[2].CreatedTime)
	if err != nil || created.Before(before.Truncate(time.Second)) {
		t.Errorf("CreatedTime %q: want now, err %v", got[2].CreatedTime, err)
	}

	bad := map[string]string{
		"duplicate":      `{"id": "img-gold0001", "region": "ap-guangzhou", "owner": "100000000001"}`,
		"malformed id":   `{"id": "img-NOPE", "region": "ap-guangzhou", "owner": "100000000001"}`,
		"unknown owner":  `{"id": "img-gold0009", "region": "ap-guangzhou", "owner": "199999999999"}`,
		"unknown field":  `{"id": "img-gold0009", "region": "ap-guangzhou", "owner": "100000000001", "color": "red"}`,
		"field case":     `{"id": "img-gold0009", "Region": "ap-guangzhou", "owner": "100000000001"}`,
		"bad time":       `{"id": "img-gold0009", "region": "ap-guangzhou", "owner": "100000000001", "createdTime": "x"}`,
		"not JSON":       `id: img-gold0009`,
		"unknown region": `{"id": "img-gold0009", "region": "xx-nowhere", "owner": "100000000001"}`,
	}
	for name, body := range bad {
		t.Run(name, func(t *testing.T) {
			code, msg := postImage(t, addr, body)
			if code != http.StatusBadRequest || strings.TrimSpace(msg) == "" {
				t.Errorf("POST answered %d %q, want 400 with a message", code, msg)
			}
		})
	}
	resp, err := http.Get("http://" + addr + emulator.ImagesPath)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET answered %d, want 405", resp.StatusCode)
	}
}
