package fake

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/imageshare/imageshare-operator/internal/cloud"
)

const (
	gz  = "ap-guangzhou"
	sh  = "ap-shanghai"
	img = "img-aaaa0001"
	a1  = "100000000001"
	a2  = "100000000002"
	a3  = "100000000003"
)

func seeded() *Client {
	c := NewClient()
	c.AddImage(cloud.Image{ID: img, Region: gz, Name: "web"}, a1)
	c.AddImage(cloud.Image{ID: "img-byol0001", Region: gz, LicenseType: cloud.LicenseTypeBYOL})
	c.AddImage(cloud.Image{ID: "img-busy0001", Region: gz, State: cloud.ImageStateSyncing})
	return c
}

func TestShareAndCancel(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name       string
		setup      func(*Client)
		run        func(*Client) error
		wantReason cloud.Reason // "" for success
		wantAcct   string
		wantShares []string
	}{
		{"share adds", nil, func(c *Client) error { return c.Share(ctx, gz, img, []string{a2}) }, "", "",
			[]string{a1, a2}},
		{"share is idempotent", nil, func(c *Client) error { return c.Share(ctx, gz, img, []string{a1, a2}) }, "", "",
			[]string{a1, a2}},
		{"cancel is idempotent", nil, func(c *Client) error { return c.Cancel(ctx, gz, img, []string{a1, a3}) }, "",
			"", []string{}},
		{"limit counts existing shares", func(c *Client) { c.ShareLimit = 2 },
			func(c *Client) error { return c.Share(ctx, gz, img, []string{a2, a3}) },
			cloud.ReasonShareLimitExceeded, "", []string{a1}},
		{"repeat does not count against the limit", func(c *Client) { c.ShareLimit = 2 },
			func(c *Client) error { return c.Share(ctx, gz, img, []string{a1, a2}) }, "", "", []string{a1, a2}},
		{"bad account fails the whole call", func(c *Client) {
			c.AccountErrors = map[string]cloud.Reason{a3: cloud.ReasonAccountNotFound}
		}, func(c *Client) error { return c.Share(ctx, gz, img, []string{a2, a3}) },
			cloud.ReasonAccountNotFound, a3, []string{a1}},
		{"bad account fails a cancel too", func(c *Client) {
			c.AccountErrors = map[string]cloud.Reason{a3: cloud.ReasonNotRootAccount}
		}, func(c *Client) error { return c.Cancel(ctx, gz, img, []string{a1, a3}) },
			cloud.ReasonNotRootAccount, a3, []string{a1}},
		{"BYOL", nil, func(c *Client) error { return c.Share(ctx, gz, "img-byol0001", []string{a2}) },
			cloud.ReasonImageNotShareable, "", []string{a1}},
		{"busy", nil, func(c *Client) error { return c.Share(ctx, gz, "img-busy0001", []string{a2}) },
			cloud.ReasonImageNotReady, "", []string{a1}},
		{"other region", nil, func(c *Client) error { return c.Share(ctx, sh, img, []string{a2}) },
			cloud.ReasonImageNotFound, "", []string{a1}},
		{"override", func(c *Client) {
			c.ShareFn = func(context.Context, string, string, []string) error {
				return &cloud.Error{Reason: cloud.ReasonThrottled}
			}
		}, func(c *Client) error { return c.Share(ctx, gz, img, []string{a2}) }, cloud.ReasonThrottled, "",
			[]string{a1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := seeded()
			if tc.setup != nil {
				tc.setup(c)
			}
			err := tc.run(c)
			switch ce := cloud.AsError(err); {
			case tc.wantReason == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.wantReason != "" && (ce == nil || ce.Reason != tc.wantReason || ce.Account != tc.wantAcct):
				t.Fatalf("got %+v, want reason %s account %q", ce, tc.wantReason, tc.wantAcct)
			}
			if got := c.Shares(gz, img); !slices.Equal(got, tc.wantShares) {
				t.Fatalf("shares = %v, want %v", got, tc.wantShares)
			}
			if calls := c.Calls(); len(calls) != 1 || calls[0].ImageID == "" || calls[0].Region == "" {
				t.Fatalf("call log = %+v", calls)
			}
		})
	}
}

func TestCopyFindDelete(t *testing.T) {
	ctx := context.Background()
	c := seeded()
	c.AcceptedRegions = []string{sh, gz}
	ids, err := c.Copy(ctx, gz, img, []string{sh}, "web-copy")
	if err != nil || ids[sh] == "" {
		t.Fatalf("Copy = %v, %v", ids, err)
	}
	found, err := c.FindImagesByName(ctx, sh, "web-copy")
	if err != nil || len(found) != 1 || found[0].ID != ids[sh] {
		t.Fatalf("FindImagesByName = %+v, %v", found, err)
	}
	_, err = c.Copy(ctx, gz, img, []string{sh, "ap-tokyo"}, "web-copy")
	if ce := cloud.AsError(err); ce == nil || ce.Reason != cloud.ReasonCopyFailed || ce.Region != "ap-tokyo" {
		t.Fatalf("copy to a refused region: %+v", err)
	}
	if regions, _ := c.Regions(ctx); !slices.Equal(regions, []string{gz, sh}) {
		t.Fatalf("Regions = %v", regions)
	}
	if ce := cloud.AsError(c.Delete(ctx, gz, img)); ce == nil || ce.Reason != cloud.ReasonImageInUse {
		t.Fatalf("deleting a shared image: %+v", ce)
	}
	if err := c.Delete(ctx, sh, ids[sh]); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Image(sh, ids[sh]); ok {
		t.Fatal("copy not deleted")
	}
	if got := c.CallsTo("Copy"); len(got) != 2 || !slices.Equal(got[1].Accounts, []string{sh, "ap-tokyo"}) {
		t.Fatalf("Copy calls = %+v", got)
	}
}

func TestCallLogIsGoroutineSafe(t *testing.T) {
	c := seeded()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { _, _ = c.ListShares(context.Background(), gz, img) })
	}
	wg.Wait()
	if n := len(c.CallsTo("ListShares")); n != 20 {
		t.Fatalf("recorded %d calls, want 20", n)
	}
	c.ResetCalls()
	if len(c.Calls()) != 0 {
		t.Fatal("ResetCalls kept calls")
	}
}

func TestFactory(t *testing.T) {
	f := NewFactory()
	f.Rejected = []string{"AKIDbad"}
	seed := f.Client("AKIDone")
	seed.AddImage(cloud.Image{ID: img, Region: gz})
	got, err := f.ClientFor(cloud.Credentials{SecretID: "AKIDone", SecretKey: "k1"})
	if err != nil || got != seed {
		t.Fatalf("ClientFor returned %v, %v; want the seeded client", got, err)
	}
	if again, _ := f.ClientFor(cloud.Credentials{SecretID: "AKIDone", SecretKey: "k2"}); again != seed {
		t.Fatal("the same SecretID got another client")
	}
	if other, _ := f.ClientFor(cloud.Credentials{SecretID: "AKIDtwo", SecretKey: "k"}); other == seed {
		t.Fatal("another SecretID got the same client")
	}
	if _, err := f.ClientFor(cloud.Credentials{SecretID: "AKIDone"}); err == nil {
		t.Fatal("credentials without a key were accepted")
	}
	bad, _ := f.ClientFor(cloud.Credentials{SecretID: "AKIDbad", SecretKey: "k"})
	if _, err := bad.ListShares(context.Background(), gz, img); cloud.ReasonOf(err) != cloud.ReasonCredentialsInvalid {
		t.Fatalf("rejected credentials: %v", err)
	}
	if ids := f.UsedSecretIDs(); !slices.Equal(ids, []string{"AKIDbad", "AKIDone", "AKIDtwo"}) {
		t.Fatalf("UsedSecretIDs = %v", ids)
	}
	if n := len(f.Used()); n != 5 {
		t.Fatalf("Used has %d entries, want 5", n)
	}
	f.ClientForFn = func(cloud.Credentials) (cloud.Client, error) { return nil, errors.New("boom") }
	if _, err := f.ClientFor(cloud.Credentials{SecretID: "AKIDone", SecretKey: "k"}); err == nil {
		t.Fatal("ClientForFn not used")
	}
}

func TestListPrivateImages(t *testing.T) {
	c := seeded()
	c.AddImage(cloud.Image{ID: "img-gold0001", Region: gz, Name: "golden-1"})
	c.AddImage(cloud.Image{ID: "img-gold0002", Region: gz, Name: "golden-2", Type: cloud.ImageTypeShared})
	c.AddImage(cloud.Image{ID: "img-gold0003", Region: sh, Name: "golden-3"})
	if !c.SetMeta(gz, "img-gold0001", time.Unix(100, 0), map[string]string{"team": "platform"}) {
		t.Fatal("SetMeta: image not found")
	}
	got, err := c.ListPrivateImages(context.Background(), gz,
		cloud.ImageSelector{NamePrefix: "golden-", Tags: map[string]string{"team": "platform"}})
	if err != nil || len(got) != 1 || got[0].ID != "img-gold0001" || !got[0].CreatedTime.Equal(time.Unix(100, 0)) {
		t.Fatalf("got %+v, %v; want img-gold0001 only, with its creation time", got, err)
	}
	calls := c.CallsTo("ListPrivateImages")
	if len(calls) != 1 || calls[0].Name != "golden-" || calls[0].Tags["team"] != "platform" {
		t.Errorf("calls %+v, want one with the prefix and tags", calls)
	}
	c.ListPrivateImagesFn = func(context.Context, string, cloud.ImageSelector) ([]cloud.ListedImage, error) {
		return nil, errors.New("boom")
	}
	if _, err := c.ListPrivateImages(context.Background(), gz, cloud.ImageSelector{}); err == nil {
		t.Error("ListPrivateImagesFn was not used")
	}
}
