package tencent

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/imageshare/imageshare-operator/internal/cloud"
	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/emulator/emulatortest"
)

func TestListPrivateImages(t *testing.T) {
	s := seed()
	s.Images = append(s.Images,
		emulator.SeedImage{ID: "img-gold0001", Region: gz, Owner: owner, Name: "golden-ubuntu-1",
			Tags: map[string]string{"team": "platform", "os": "ubuntu"}, CreatedTime: "2026-11-01T10:00:00Z"},
		emulator.SeedImage{ID: "img-gold0002", Region: gz, Owner: owner, Name: "golden-ubuntu-2",
			Tags: map[string]string{"team": "platform"}, State: "CREATING"},
		emulator.SeedImage{ID: "img-gold0003", Region: gz, Owner: owner, Name: "golden-debian-1",
			Tags: map[string]string{"team": "platform"}},
		emulator.SeedImage{ID: "img-gold0004", Region: sh, Owner: owner, Name: "golden-ubuntu-9",
			Tags: map[string]string{"team": "platform"}},
		// The other owner's image shared with the owner is not the owner's to share.
		emulator.SeedImage{ID: "img-gold0005", Region: gz, Owner: other, Name: "golden-ubuntu-5",
			Tags: map[string]string{"team": "platform"}, SharedWith: []string{owner}},
	)
	_, addr := emulatortest.Start(t, s)
	c := client(t, addr, cloud.Credentials{SecretID: ownerID, SecretKey: ownerSK}, 1000)

	cases := []struct {
		name string
		sel  cloud.ImageSelector
		want []string
	}{
		{"prefix", cloud.ImageSelector{NamePrefix: "golden-ubuntu-"}, []string{"img-gold0001", "img-gold0002"}},
		{"tags", cloud.ImageSelector{Tags: map[string]string{"team": "platform"}},
			[]string{"img-gold0001", "img-gold0002", "img-gold0003"}},
		{"prefix and tags", cloud.ImageSelector{NamePrefix: "golden-", Tags: map[string]string{"os": "ubuntu"}},
			[]string{"img-gold0001"}},
		{"tag value must match", cloud.ImageSelector{Tags: map[string]string{"team": "data"}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.ListPrivateImages(context.Background(), gz, tc.sel)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, img := range got {
				ids = append(ids, img.ID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("got %v, want %v", ids, tc.want)
			}
		})
	}

	got, err := c.ListPrivateImages(context.Background(), gz, cloud.ImageSelector{NamePrefix: "golden-ubuntu-1"})
	if err != nil || len(got) != 1 {
		t.Fatalf("got %v, %v", got, err)
	}
	img := got[0]
	want := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	if img.Name != "golden-ubuntu-1" || img.State != cloud.ImageStateNormal || !img.CreatedTime.Equal(want) ||
		!maps.Equal(img.Tags, map[string]string{"team": "platform", "os": "ubuntu"}) {
		t.Errorf("got %+v, want name, NORMAL, created %s and both tags", img, want)
	}
}

func TestListPrivateImagesPages(t *testing.T) {
	s := seed()
	for i := range 230 {
		s.Images = append(s.Images, emulator.SeedImage{ID: fmt.Sprintf("img-page%04d", i), Region: gz, Owner: owner,
			Name: fmt.Sprintf("build-%03d", i)})
	}
	emu, addr := emulatortest.Start(t, s)
	c := client(t, addr, cloud.Credentials{SecretID: ownerID, SecretKey: ownerSK}, 1000)
	got, err := c.ListPrivateImages(context.Background(), gz, cloud.ImageSelector{NamePrefix: "build-"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 230 {
		t.Errorf("got %d images, want all 230 across pages", len(got))
	}
	if calls := emu.Stats().Calls["DescribeImages"]; calls != 3 {
		t.Errorf("%d DescribeImages calls, want 3 pages of at most 100", calls)
	}
}

func TestParseCreatedTime(t *testing.T) {
	cases := map[string]time.Time{
		"2026-11-01T10:00:00Z":      time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC),
		"2026-11-01T18:00:00+08:00": time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC),
		"2026-11-01 18:00:00":       time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC),
		"yesterday":                 {},
	}
	for in, want := range cases {
		if got := parseCreatedTime(in); !got.Equal(want) {
			t.Errorf("parseCreatedTime(%q) = %s, want %s", in, got, want)
		}
	}
}
