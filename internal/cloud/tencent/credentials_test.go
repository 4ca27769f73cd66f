package tencent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"

	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// fakeProvider is an SDK common.Provider: each GetCredential answers with the
// next error of errs (nil: fresh credentials numbered by call).
type fakeProvider struct {
	calls int
	errs  []error
}

func (p *fakeProvider) GetCredential() (common.CredentialIface, error) {
	p.calls++
	if len(p.errs) > 0 {
		err := p.errs[0]
		p.errs = p.errs[1:]
		if err != nil {
			return nil, err
		}
	}
	return common.NewTokenCredential(fmt.Sprintf("AKIDtmp%04d", p.calls), "tmp-key", "tmp-token"), nil
}

func sdkError(code string) error { return tcerr.NewTencentCloudSDKError(code, "refused", "req-1") }

func TestCredentialSourcesParse(t *testing.T) {
	for _, ok := range [][]string{{"env"}, {"oidc", "env"}, {"env", "oidc", "cvm-role"}} {
		if _, err := ParseCredentialSources(ok); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	for _, bad := range [][]string{nil, {"env", "env"}, {"ENV"}, {"profile"}} {
		if _, err := ParseCredentialSources(bad); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
	if _, err := NewChain([]string{"env", "nope"}); err == nil {
		t.Error("NewChain accepted an unknown source")
	}
}

func TestCredentialEnvNames(t *testing.T) {
	env := func(kv map[string]string) envProvider {
		return envProvider{getenv: func(k string) (string, bool) { v, ok := kv[k]; return v, ok }}
	}
	get := func(kv map[string]string) (string, string, string, error) {
		c, err := env(kv).GetCredential()
		if err != nil {
			return "", "", "", err
		}
		id, key, token := c.GetCredential()
		return id, key, token, nil
	}
	keys := map[string]string{"TENCENTCLOUD_SECRET_ID": "AKIDenv", "TENCENTCLOUD_SECRET_KEY": "env-key"}
	with := func(extra map[string]string) map[string]string {
		out := maps.Clone(keys)
		maps.Copy(out, extra)
		return out
	}
	if id, key, token, err := get(keys); err != nil || id != "AKIDenv" || key != "env-key" || token != "" {
		t.Errorf("keys only: %q %q %q %v", id, key, token, err)
	}
	if _, _, token, _ := get(with(map[string]string{"TENCENTCLOUD_SECURITY_TOKEN": "sec"})); token != "sec" {
		t.Errorf("TENCENTCLOUD_SECURITY_TOKEN not read: %q", token)
	}
	if _, _, token, _ := get(with(map[string]string{"TENCENTCLOUD_SESSION_TOKEN": "old"})); token != "old" {
		t.Errorf("deprecated TENCENTCLOUD_SESSION_TOKEN not read as a fallback: %q", token)
	}
	both := with(map[string]string{"TENCENTCLOUD_SECURITY_TOKEN": "sec", "TENCENTCLOUD_SESSION_TOKEN": "old"})
	if _, _, token, _ := get(both); token != "sec" {
		t.Errorf("TENCENTCLOUD_SECURITY_TOKEN must win over the deprecated name: %q", token)
	}
	if _, _, _, err := get(map[string]string{}); !errors.Is(err, cloud.ErrNoCredentials) {
		t.Errorf("no environment: %v, want ErrNoCredentials", err)
	}
	_, _, _, err := get(map[string]string{"TENCENTCLOUD_SECRET_ID": "AKIDenv"})
	if cloud.ReasonOf(err) != cloud.ReasonCredentialsInvalid || !strings.Contains(err.Error(), "TENCENTCLOUD_SECRET_KEY") {
		t.Errorf("half the keys: %v, want CredentialsInvalid naming TENCENTCLOUD_SECRET_KEY", err)
	}
}

func TestCredentialChainOrder(t *testing.T) {
	absent := &fakeProvider{errs: []error{cloud.ErrNoCredentials, cloud.ErrNoCredentials}}
	oidc := &fakeProvider{}
	cvm := &fakeProvider{}
	c := NewChainOf(Link{Name: "env", Provider: absent},
		Link{Name: "oidc", Provider: oidc, Role: "qcs::cam::uin/1:roleName/pod", Lifetime: time.Hour},
		Link{Name: "cvm-role", Provider: cvm, Role: cvmRoleName})
	creds, err := c.Credentials(context.Background())
	if err != nil || creds.Role != "qcs::cam::uin/1:roleName/pod" || creds.SecretID != "AKIDtmp0001" || creds.Token == "" {
		t.Fatalf("chain gave %v, %v; want the oidc link's temporary credentials", creds, err)
	}
	if cvm.calls != 0 {
		t.Error("a later link was asked although an earlier one applied")
	}
	if got := c.Describe(); got != "--credential-sources env,oidc,cvm-role" {
		t.Errorf("Describe = %q", got)
	}
	none := NewChainOf(Link{Name: "env", Provider: &fakeProvider{errs: []error{cloud.ErrNoCredentials}}})
	if _, err := none.Credentials(context.Background()); !errors.Is(err, cloud.ErrNoCredentials) {
		t.Errorf("no source applies: %v, want ErrNoCredentials", err)
	}
	if got := none.Describe(); got != "TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY" {
		t.Errorf("Describe of the default chain = %q", got)
	}
}

// TestCredentialRefresh: temporary credentials are refreshed at half their
// lifetime; a failed refresh keeps the old ones while they are good, then
// fails as a retried CloudError, never CredentialsInvalid.
func TestCredentialRefresh(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := &fakeProvider{}
	tmp := &temporary{link: Link{Name: "oidc", Op: actionAssumeRoleWithOIDC, Provider: p, Role: "r", Lifetime: 2 * time.Hour},
		now: func() time.Time { return now }}
	id := func() string {
		t.Helper()
		c, err := tmp.get()
		if err != nil {
			t.Fatalf("at %s: %v", now.Format(time.Kitchen), err)
		}
		return c.SecretID
	}
	if got := id(); got != "AKIDtmp0001" {
		t.Fatalf("first fetch: %s", got)
	}
	now = now.Add(59 * time.Minute)
	if got := id(); got != "AKIDtmp0001" || p.calls != 1 {
		t.Fatalf("refreshed too early: %s after %d calls", got, p.calls)
	}
	now = now.Add(2 * time.Minute)
	if got := id(); got != "AKIDtmp0002" {
		t.Fatalf("not refreshed at half the lifetime: %s", got)
	}
	// STS fails for a while: the current credentials (61m to go) still serve.
	p.errs = []error{sdkError("InternalError"), sdkError("InternalError"), sdkError("RequestLimitExceeded")}
	now = now.Add(61 * time.Minute)
	if got := id(); got != "AKIDtmp0002" {
		t.Fatalf("a failed refresh dropped good credentials: %s", got)
	}
	now = now.Add(40 * time.Minute) // 101m old: less than a sixth of the lifetime left
	_, err := tmp.get()
	if r := cloud.ReasonOf(err); r != cloud.ReasonCloudError {
		t.Fatalf("refresh failing near expiry: %v (%s), want CloudError", err, r)
	}
	_, err = tmp.get()
	if r := cloud.ReasonOf(err); r != cloud.ReasonThrottled {
		t.Fatalf("throttled refresh: %v (%s), want Throttled", err, r)
	}
	if got := id(); got != "AKIDtmp0006" {
		t.Fatalf("recovered refresh: %s", got)
	}
}

func TestCredentialRolesAssume(t *testing.T) {
	type call struct{ id, key, token, arn string }
	var calls []call
	providers := map[string]*fakeProvider{}
	roles := NewRolesWith(func(base common.CredentialIface, roleArn string) common.Provider {
		id, key, token := base.GetCredential()
		calls = append(calls, call{id, key, token, roleArn})
		p := &fakeProvider{}
		providers[id+roleArn] = p
		return p
	})
	const arn = "qcs::cam::uin/100000000001:roleName/imageshare"
	base := cloud.Credentials{SecretID: "AKIDbase", SecretKey: "base-key"}
	ctx := context.Background()
	c1, err := roles.AssumeRole(ctx, base, arn)
	if err != nil || c1.Role != arn || c1.SecretID != "AKIDtmp0001" || c1.Token == "" {
		t.Fatalf("AssumeRole = %v, %v", c1, err)
	}
	if c2, _ := roles.AssumeRole(ctx, base, arn); c2 != c1 || len(calls) != 1 || providers["AKIDbase"+arn].calls != 1 {
		t.Fatalf("credentials not kept between calls: %v, %d providers", c2, len(calls))
	}
	if calls[0] != (call{"AKIDbase", "base-key", "", arn}) {
		t.Errorf("role assumed with %+v", calls[0])
	}
	other := cloud.Credentials{SecretID: "AKIDother", SecretKey: "other-key", Token: "t"}
	if c3, _ := roles.AssumeRole(ctx, other, arn); c3.Role != arn || len(calls) != 2 {
		t.Errorf("other keys, same role: %v after %d providers", c3, len(calls))
	}
	for code, want := range map[string]cloud.Reason{
		"AuthFailure.SecretIdNotFound":  cloud.ReasonCredentialsInvalid,
		"ResourceNotFound.RoleNotExist": cloud.ReasonCredentialsInvalid,
		"InvalidParameter.ParamError":   cloud.ReasonCredentialsInvalid,
		"UnauthorizedOperation":         cloud.ReasonPermissionDenied,
		"InternalError":                 cloud.ReasonCloudError,
		"RequestLimitExceeded":          cloud.ReasonThrottled,
	} {
		r := NewRolesWith(func(common.CredentialIface, string) common.Provider {
			return &fakeProvider{errs: []error{sdkError(code)}}
		})
		_, err := r.AssumeRole(ctx, base, arn)
		ce := cloud.AsError(err)
		if ce == nil || ce.Reason != want || ce.Op != "AssumeRole" || ce.Code != code {
			t.Errorf("STS %s: %v, want %s", code, err, want)
		}
	}
}

func TestCredentialFactoryPerRole(t *testing.T) {
	f := NewFactory(Options{Endpoint: "127.0.0.1:1", Scheme: "http"})
	a, _ := f.ClientFor(cloud.Credentials{SecretID: "AKIDtmp1", SecretKey: "k1", Token: "t1", Role: "role-a"})
	b, _ := f.ClientFor(cloud.Credentials{SecretID: "AKIDtmp2", SecretKey: "k2", Token: "t2", Role: "role-a"})
	if a != b {
		t.Fatal("a role's refreshed credentials got a second client (and rate budget)")
	}
	if c := a.(*Client); c.creds.SecretID != "AKIDtmp2" {
		t.Errorf("client still signs with %s", c.creds.SecretID)
	}
	k, _ := f.ClientFor(cloud.Credentials{SecretID: "AKIDtmp2", SecretKey: "k2", Token: "t2"})
	if k == a {
		t.Error("plain keys share the role's client")
	}
}

// TestCredentialExpiredToken: the cloud calling a refreshed role's token
// expired is retried (the next reconcile brings new credentials); the same
// answer to a token someone put in a Secret is CredentialsInvalid.
func TestCredentialExpiredToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"Response":{"Error":{"Code":"AuthFailure.TokenFailure","Message":"token expired"},` +
			`"RequestId":"req-exp"}}`))
	}))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	role := client(t, addr, cloud.Credentials{SecretID: "AKIDtmp", SecretKey: "k", Token: "t", Role: "r"}, 1000)
	if _, err := role.ListShares(ctx, "ap-guangzhou", "img-00000001"); cloud.ReasonOf(err) != cloud.ReasonCloudError {
		t.Errorf("role's expired token: %v, want CloudError", err)
	}
	secret := client(t, addr, cloud.Credentials{SecretID: "AKIDtmp", SecretKey: "k", Token: "t"}, 1000)
	if _, err := secret.ListShares(ctx, "ap-guangzhou", "img-00000001"); cloud.ReasonOf(err) != cloud.ReasonCredentialsInvalid {
		t.Errorf("a Secret's expired token: %v, want CredentialsInvalid", err)
	}
}
