package tencent

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imageshare/imageshare-operator/internal/cloud"
	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/emulator/emulatortest"
)

const (
	owner   = "100000000001"
	other   = "100000000099"
	collab  = "100000000003"
	r2      = "100000000002"
	r4      = "100000000004"
	gz      = "ap-guangzhou"
	sh      = "ap-shanghai"
	imgA    = "img-aaaa0001"
	imgByol = "img-byol0001"
	imgEnc  = "img-encr0001"
	imgSh   = "img-shrd0001"
	imgBusy = "img-busy0001"
	ownerID = "AKIDowner0001"
	ownerSK = "owner-secret-key"
)

func seed() *emulator.Seed {
	f := false
	return &emulator.Seed{
		ShareLimit: 3,
		Accounts: []emulator.SeedAccount{
			{ID: owner, SecretID: ownerID, SecretKey: ownerSK},
			{ID: other, SecretID: "AKIDother", SecretKey: "other-key"},
			{ID: collab, Root: &f},
			{ID: r2}, {ID: r4}, {ID: "100000000005"}, {ID: "100000000006"},
		},
		Images: []emulator.SeedImage{
			{ID: imgA, Region: gz, Owner: owner, Name: "web-base"},
			{ID: imgByol, Region: gz, Owner: owner, LicenseType: "BYOL"},
			{ID: imgEnc, Region: gz, Owner: owner, Encrypted: true},
			{ID: imgSh, Region: gz, Owner: other, SharedWith: []string{owner}},
			{ID: imgBusy, Region: gz, Owner: owner, State: "SYNCING"},
		},
	}
}

func client(t *testing.T, endpoint string, creds cloud.Credentials, qps float64) cloud.Client {
	t.Helper()
	c, err := NewFactory(Options{Endpoint: endpoint, Scheme: "http", QPS: qps, Timeout: 5 * time.Second}).
		ClientFor(creds)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ownerClient(t *testing.T) (cloud.Client, *emulator.Emulator) {
	t.Helper()
	emu, addr := emulatortest.Start(t, seed())
	return client(t, addr, cloud.Credentials{SecretID: ownerID, SecretKey: ownerSK}, 1000), emu
}

func wantReason(t *testing.T, err error, reason cloud.Reason, code string) *cloud.Error {
	t.Helper()
	ce := cloud.AsError(err)
	if ce == nil {
		t.Fatalf("error %v is not a *cloud.Error", err)
	}
	if ce.Reason != reason || code != "" && ce.Code != code {
		t.Fatalf("got reason %s code %s (%s), want %s %s", ce.Reason, ce.Code, ce.Message, reason, code)
	}
	return ce
}

func TestDescribeImages(t *testing.T) {
	c, _ := ownerClient(t)
	ctx := context.Background()
	got, err := c.DescribeImages(ctx, gz, []string{imgA, imgByol, imgEnc, imgSh, imgBusy, "img-none0001"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]cloud.Image{
		imgA:    {ID: imgA, Name: "web-base", Region: gz, Type: cloud.ImageTypePrivate, State: "NORMAL"},
		imgByol: {ID: imgByol, Region: gz, Type: cloud.ImageTypePrivate, State: "NORMAL", LicenseType: "BYOL"},
		imgEnc:  {ID: imgEnc, Region: gz, Type: cloud.ImageTypePrivate, State: "NORMAL", Encrypted: true},
		imgSh:   {ID: imgSh, Region: gz, Type: cloud.ImageTypeShared, State: "NORMAL"},
		imgBusy: {ID: imgBusy, Region: gz, Type: cloud.ImageTypePrivate, State: "SYNCING"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d images, want %d: %+v", len(got), len(want), got)
	}
	for id, w := range want {
		g := got[id]
		if g.Name == "" || w.Name == "" {
			g.Name = w.Name
		}
		if g.LicenseType != "BYOL" {
			g.LicenseType = ""
		}
		if g != w {
			t.Errorf("%s: got %+v, want %+v", id, g, w)
		}
	}
	// Images are regional: the same ID is invisible in another region.
	if got, err := c.DescribeImages(ctx, sh, []string{imgA}); err != nil || len(got) != 0 {
		t.Fatalf("cross-region describe = %v, %v; want nothing", got, err)
	}
}

func TestShareListCancel(t *testing.T) {
	c, emu := ownerClient(t)
	ctx := context.Background()
	if err := c.Share(ctx, gz, imgA, []string{r4, r2}); err != nil {
		t.Fatal(err)
	}
	got, err := c.ListShares(ctx, gz, imgA)
	if err != nil || !slices.Equal(got, []string{r2, r4}) {
		t.Fatalf("ListShares = %v, %v", got, err)
	}
	if err := c.Cancel(ctx, gz, imgA, []string{r2}); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.ListShares(ctx, gz, imgA); !slices.Equal(got, []string{r4}) {
		t.Fatalf("after cancel: %v", got)
	}
	if n := emu.Stats().Calls["ModifyImageSharePermission"]; n != 2 {
		t.Fatalf("ModifyImageSharePermission calls = %d, want 2 (no SDK retries)", n)
	}
}

// TestShareAndCancelAreIdempotent: Tencent refuses a SHARE naming an account
// already shared; the adapter drops that account and shares the rest.
func TestShareAndCancelAreIdempotent(t *testing.T) {
	c, emu := ownerClient(t)
	ctx := context.Background()
	calls := func() int { return emu.Stats().Calls["ModifyImageSharePermission"] }
	if err := c.Share(ctx, gz, imgA, []string{r2}); err != nil {
		t.Fatal(err)
	}
	before := calls()
	if err := c.Share(ctx, gz, imgA, []string{r2}); err != nil {
		t.Fatalf("sharing again: %v", err)
	}
	if err := c.Share(ctx, gz, imgA, []string{r2, r4}); err != nil {
		t.Fatalf("sharing a shared and a new account: %v", err)
	}
	if got, _ := c.ListShares(ctx, gz, imgA); !slices.Equal(got, []string{r2, r4}) {
		t.Fatalf("shares = %v, want both", got)
	}
	// One call for the repeat, two for the mix: at most len(accounts) per Share.
	if n := calls() - before; n != 3 {
		t.Fatalf("calls = %d, want 3", n)
	}
	// Another bad account still fails the whole call, naming it.
	ce := wantReason(t, c.Share(ctx, gz, imgA, []string{r2, "100000000777"}), cloud.ReasonAccountNotFound, "")
	if ce.Account != "100000000777" {
		t.Fatalf("account = %q", ce.Account)
	}
	if err := c.Cancel(ctx, gz, imgA, []string{r2, r4}); err != nil {
		t.Fatal(err)
	}
	if err := c.Cancel(ctx, gz, imgA, []string{r2, r4}); err != nil {
		t.Fatalf("cancelling accounts that are not shared: %v", err)
	}
	ce = wantReason(t, c.Cancel(ctx, gz, imgA, []string{r2, collab}), cloud.ReasonNotRootAccount, "")
	if ce.Account != collab {
		t.Fatalf("cancel: account = %q", ce.Account)
	}
	if got, _ := c.ListShares(ctx, gz, imgA); len(got) != 0 {
		t.Fatalf("shares after cancel = %v", got)
	}
}

// TestRegions: the accepted regions come from DescribeRegions, sorted.
func TestRegions(t *testing.T) {
	c, _ := ownerClient(t)
	got, err := c.Regions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(got) || !slices.Contains(got, gz) || !slices.Contains(got, sh) ||
		slices.Contains(got, "xx-nowhere") {
		t.Fatalf("Regions = %v", got)
	}
}

// TestCopyToARegionTheAPIRefuses: the copy's failure names the destination.
func TestCopyToARegionTheAPIRefuses(t *testing.T) {
	c, _ := ownerClient(t)
	_, err := c.Copy(context.Background(), gz, imgA, []string{sh, "xx-nowhere"}, "copy-name")
	ce := wantReason(t, err, cloud.ReasonCopyFailed, "")
	if ce.Region != "xx-nowhere" || !ce.Terminal() {
		t.Fatalf("region %q terminal %v", ce.Region, ce.Terminal())
	}
}

func TestClassification(t *testing.T) {
	c, _ := ownerClient(t)
	ctx := context.Background()
	cases := []struct {
		name    string
		err     error
		reason  cloud.Reason
		code    string
		account string
	}{
		{"unknown account", c.Share(ctx, gz, imgA, []string{r2, "100000000777"}), cloud.ReasonAccountNotFound,
			"InvalidAccountId.NotFound", "100000000777"},
		{"owner's own account", c.Share(ctx, gz, imgA, []string{owner}), cloud.ReasonAccountIsOwner,
			"FailedOperation.AccountIsYourSelf", owner},
		{"collaborator", c.Share(ctx, gz, imgA, []string{r4, collab}), cloud.ReasonNotRootAccount,
			"FailedOperation.NotMasterAccount", collab},
		{"over the limit", c.Share(ctx, gz, imgA, []string{r2, r4, "100000000005", "100000000006"}),
			cloud.ReasonShareLimitExceeded, "OverQuota", ""},
		{"shared to me", c.Share(ctx, gz, imgSh, []string{r2}), cloud.ReasonImageNotShareable,
			"UnauthorizedOperation.ImageNotBelongToAccount", ""},
		{"BYOL", c.Share(ctx, gz, imgByol, []string{r2}), cloud.ReasonImageNotShareable,
			"FailedOperation.BYOLImageShareFailed", ""},
		{"encrypted", c.Share(ctx, gz, imgEnc, []string{r2}), cloud.ReasonImageNotShareable,
			"UnsupportedOperation.EncryptedImagesNotSupported", ""},
		{"busy", c.Share(ctx, gz, imgBusy, []string{r2}), cloud.ReasonImageNotReady,
			"InvalidParameterValue.InvalidImageState", ""},
		{"other region", c.Share(ctx, sh, imgA, []string{r2}), cloud.ReasonImageNotFound,
			"InvalidImageId.NotFound", ""},
		{"unknown region", func() error { _, err := c.ListShares(ctx, "xx-nowhere", imgA); return err }(),
			cloud.ReasonRegionMismatch, "InvalidRegion.NotFound", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ce := wantReason(t, tc.err, tc.reason, tc.code)
			if ce.Account != tc.account {
				t.Fatalf("account = %q, want %q", ce.Account, tc.account)
			}
			if ce.RequestID == "" {
				t.Fatal("no RequestId kept")
			}
		})
	}
}

func TestCredentialsRejected(t *testing.T) {
	_, addr := emulatortest.Start(t, seed())
	ctx := context.Background()
	for name, creds := range map[string]cloud.Credentials{
		"unknown id": {SecretID: "AKIDnobody", SecretKey: "x"},
		"wrong key":  {SecretID: ownerID, SecretKey: "not-the-key"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := client(t, addr, creds, 100).DescribeImages(ctx, gz, []string{imgA})
			ce := wantReason(t, err, cloud.ReasonCredentialsInvalid, "")
			if !ce.Terminal() {
				t.Fatal("AuthFailure must be terminal")
			}
			if creds.SecretKey != "x" && errorsContain(err, creds.SecretKey) {
				t.Fatal("the error text contains the secret key")
			}
		})
	}
	if s := (cloud.Credentials{SecretID: "id", SecretKey: "hunter2"}).String(); strings.Contains(s, "hunter2") {
		t.Fatal("Credentials.String leaks the key")
	}
}

func TestServerFaultsAreRetryable(t *testing.T) {
	c, emu := ownerClient(t)
	ctx := context.Background()
	emu.SetFaults(emulator.Faults{ErrorRate: 1})
	_, err := c.ListShares(ctx, gz, imgA)
	if ce := wantReason(t, err, cloud.ReasonCloudError, "InternalError"); ce.Terminal() {
		t.Fatal("InternalError must be retryable")
	}
	emu.SetFaults(emulator.Faults{QPS: 1})
	_, _ = c.ListShares(ctx, gz, imgA)
	_, err = c.ListShares(ctx, gz, imgA)
	ce := wantReason(t, err, cloud.ReasonThrottled, "RequestLimitExceeded")
	// The client slows the action down and books the retry's slot.
	if ce.RetryAfter <= 0 {
		t.Fatalf("a RequestLimitExceeded carries no RetryAfter: %+v", ce)
	}
	lim := c.(*Client).lim
	if r := lim.rate("DescribeImageSharePermission"); r >= lim.ceiling {
		t.Fatalf("the rate stayed at %v after RequestLimitExceeded", r)
	}
}

func TestClientSideRateLimitNeverWaits(t *testing.T) {
	_, addr := emulatortest.Start(t, seed())
	c := client(t, addr, cloud.Credentials{SecretID: ownerID, SecretKey: ownerSK}, 2)
	ctx := context.Background()
	var throttled *cloud.Error
	start := time.Now()
	for range 5 {
		if _, err := c.ListShares(ctx, gz, imgA); err != nil {
			throttled = wantReason(t, err, cloud.ReasonThrottled, "ClientError.RateLimited")
			break
		}
	}
	if throttled == nil || throttled.RetryAfter <= 0 {
		t.Fatalf("expected a client-side throttle with RetryAfter, got %+v", throttled)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatal("the limiter waited instead of answering at once")
	}
	// Another action has its own budget.
	if _, err := c.DescribeImages(ctx, gz, []string{imgA}); err != nil {
		t.Fatalf("DescribeImages shares ListShares' budget: %v", err)
	}
}

func TestNetworkErrorIsRetryable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	c := client(t, addr, cloud.Credentials{SecretID: ownerID, SecretKey: ownerSK}, 100)
	_, err = c.ListShares(context.Background(), gz, imgA)
	if ce := wantReason(t, err, cloud.ReasonCloudError, ""); ce.Terminal() {
		t.Fatal("a network error must be retryable")
	}
}

func TestCopyFindDelete(t *testing.T) {
	c, emu := ownerClient(t)
	ctx := context.Background()
	ids, err := c.Copy(ctx, gz, imgA, []string{sh}, "copy-name")
	if err != nil || ids[sh] == "" {
		t.Fatalf("Copy = %v, %v", ids, err)
	}
	found, err := c.FindImagesByName(ctx, sh, "copy-name")
	if err != nil || len(found) != 1 || found[0].ID != ids[sh] {
		t.Fatalf("FindImagesByName = %+v, %v", found, err)
	}
	if err := c.Share(ctx, gz, imgA, []string{r2}); err != nil {
		t.Fatal(err)
	}
	_ = wantReason(t, c.Delete(ctx, gz, imgA), cloud.ReasonImageInUse, "InvalidImageId.InShared")
	if err := c.Cancel(ctx, gz, imgA, []string{r2}); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, gz, imgA); err != nil {
		t.Fatal(err)
	}
	for _, img := range emu.State().Images {
		if img.ID == imgA {
			t.Fatal("image not deleted")
		}
	}
}

func errorsContain(err error, s string) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if strings.Contains(e.Error(), s) {
			return true
		}
	}
	return false
}

// TestThrottledCallersAreServedInOrder: a throttled request books the next
// slot, so a later request waits behind it rather than racing it.
func TestThrottledCallersAreServedInOrder(t *testing.T) {
	_, addr := emulatortest.Start(t, seed())
	c := client(t, addr, cloud.Credentials{SecretID: ownerID, SecretKey: ownerSK}, 2)
	ctx := context.Background()
	_, _ = c.ListShares(ctx, gz, imgA)
	_, _ = c.ListShares(ctx, gz, imgByol) // the burst of 2 is spent
	_, errFirst := c.ListShares(ctx, gz, imgEnc)
	_, errSecond := c.ListShares(ctx, gz, imgBusy)
	first := wantReason(t, errFirst, cloud.ReasonThrottled, "ClientError.RateLimited")
	second := wantReason(t, errSecond, cloud.ReasonThrottled, "ClientError.RateLimited")
	if second.RetryAfter <= first.RetryAfter {
		t.Fatalf("the later request's slot (%s) is not after the earlier one's (%s)", second.RetryAfter,
			first.RetryAfter)
	}
	// Asking again before the slot comes does not book another one.
	_, again := c.ListShares(ctx, gz, imgEnc)
	if w := wantReason(t, again, cloud.ReasonThrottled, "").RetryAfter; w > first.RetryAfter {
		t.Fatalf("asking again moved the slot from %s to %s", first.RetryAfter, w)
	}
	time.Sleep(first.RetryAfter)
	if _, err := c.ListShares(ctx, gz, imgEnc); err != nil {
		t.Fatalf("the booked slot was not honoured: %v", err)
	}
}

// TestBreakerStopsCallsToADeadEndpoint: after a network failure the next calls
// fail at once with the time to wait, instead of each dialling a dead endpoint.
func TestBreakerStopsCallsToADeadEndpoint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	f := NewFactory(Options{Endpoint: addr, Scheme: "http", QPS: 100, Timeout: time.Second})
	c, err := f.ClientFor(cloud.Credentials{SecretID: ownerID, SecretKey: ownerSK})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = c.ListShares(ctx, gz, imgA)
	_ = wantReason(t, err, cloud.ReasonCloudError, "ClientError.NetworkError")
	// Another credential on the same endpoint is held back too.
	other, _ := f.ClientFor(cloud.Credentials{SecretID: "AKIDother", SecretKey: "other-key"})
	_, err = other.DescribeImages(ctx, gz, []string{imgA})
	ce := wantReason(t, err, cloud.ReasonCloudError, "ClientError.NetworkError")
	if ce.RetryAfter <= 0 || !strings.Contains(ce.Message, "did not answer recently") {
		t.Fatalf("second call was not held back by the breaker: %+v", ce)
	}
}

// TestFactoryForgets: a client no reconcile asked for in clientIdleTTL is
// dropped when another is made, and the factory never holds more than
// maxClients (rotated or mistyped keys do not stay in memory).
func TestFactoryForgets(t *testing.T) {
	f := NewFactory(Options{})
	old, err := f.ClientFor(cloud.Credentials{SecretID: "AKIDold", SecretKey: "old"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range f.clients {
		e.used = e.used.Add(-2 * clientIdleTTL)
	}
	if _, err := f.ClientFor(cloud.Credentials{SecretID: "AKIDnew", SecretKey: "new"}); err != nil {
		t.Fatal(err)
	}
	if len(f.clients) != 1 {
		t.Fatalf("%d clients after an idle one should have gone, want 1", len(f.clients))
	}
	again, _ := f.ClientFor(cloud.Credentials{SecretID: "AKIDold", SecretKey: "old"})
	if again == old {
		t.Fatal("the forgotten client came back: it was kept")
	}
	for i := len(f.clients); i < maxClients; i++ {
		f.clients["filler-"+strconv.Itoa(i)] = &factoryEntry{client: &Client{}, used: time.Now()}
	}
	if _, err := f.ClientFor(cloud.Credentials{SecretID: "AKIDmore", SecretKey: "more"}); err != nil {
		t.Fatal(err)
	}
	if len(f.clients) != maxClients {
		t.Fatalf("%d clients, want at most %d", len(f.clients), maxClients)
	}
}
