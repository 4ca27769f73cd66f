package tencent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"

	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// envProvider is the SDK's EnvProvider plus the token, which it does not read.
type envProvider struct {
	getenv func(string) (string, bool)
}

// GetCredential reads the TENCENTCLOUD_* environment; neither key set means
// the source does not apply.
func (p envProvider) GetCredential() (common.CredentialIface, error) {
	id, idSet := p.getenv(EnvSecretID)
	key, keySet := p.getenv(EnvSecretKey)
	if (!idSet || id == "") && (!keySet || key == "") {
		return nil, fmt.Errorf("%s and %s are not set: %w", EnvSecretID, EnvSecretKey, cloud.ErrNoCredentials)
	}
	if id == "" || key == "" {
		return nil, &cloud.Error{Op: actionEnv, Code: "ClientError.CredentialError", Reason: cloud.ReasonCredentialsInvalid,
			Message: fmt.Sprintf("only one of %s and %s is set", EnvSecretID, EnvSecretKey)}
	}
	token, ok := p.getenv(EnvSecurityToken)
	if !ok {
		token, _ = p.getenv(EnvSessionToken)
	}
	return common.NewTokenCredential(id, key, token), nil
}

// oidcProvider is the SDK's TKE OIDC provider, built at each fetch so that it
// reads the current token file; without TKE_ROLE_ARN the source does not apply.
type oidcProvider struct{}

// GetCredential calls AssumeRoleWithWebIdentity.
func (oidcProvider) GetCredential() (common.CredentialIface, error) {
	if os.Getenv(envOIDCRoleArn) == "" || os.Getenv(envOIDCTokenFile) == "" {
		return nil, fmt.Errorf("%s or %s is not set (TKE pod identity): %w", envOIDCRoleArn, envOIDCTokenFile,
			cloud.ErrNoCredentials)
	}
	p, err := common.DefaultTkeOIDCRoleArnProvider()
	if err != nil {
		return nil, fmt.Errorf("TKE pod identity: %w", err)
	}
	return p.GetCredential()
}

// cvmRoleProvider is the SDK's CvmRoleProvider; no role bound to the instance
// (or no metadata service) means the source does not apply.
type cvmRoleProvider struct {
	p *common.CvmRoleProvider
}

// GetCredential asks the instance metadata service.
func (c cvmRoleProvider) GetCredential() (common.CredentialIface, error) {
	cred, err := c.p.GetCredential()
	var sdkErr *tcerr.TencentCloudSDKError
	if errors.As(err, &sdkErr) && strings.Contains(sdkErr.GetMessage(), "get cvm role name failed") {
		return nil, fmt.Errorf("no CVM instance role: %w", cloud.ErrNoCredentials)
	}
	return cred, err
}

// RoleProviderFunc makes the provider that assumes roleArn with base: the
// SDK's RoleArnProvider by default, a fake one in tests.
type RoleProviderFunc func(base common.CredentialIface, roleArn string) common.Provider

// Roles assumes roles for credentialsRef.roleArn and keeps each base key and
// role's temporary credentials, refreshed before they expire.
type Roles struct {
	provider RoleProviderFunc
	now      func() time.Time

	mu      sync.Mutex
	entries map[string]*temporary
	swept   time.Time
}

var _ cloud.RoleAssumer = (*Roles)(nil)

// roleSessionName names the operator's sessions in CloudAudit.
const roleSessionName = "imageshare-operator"

// NewRoles returns a RoleAssumer that calls STS at endpoint ("" for the SDK's
// sts.tencentcloudapi.com).
func NewRoles(endpoint string) *Roles {
	return NewRolesWith(func(base common.CredentialIface, roleArn string) common.Provider {
		p := common.NewRoleArnProviderWithCredential(base, roleArn, roleSessionName, int64(stsLifetime/time.Second))
		p.Endpoint = endpoint
		return p
	})
}

// NewRolesWith returns a RoleAssumer whose providers newProvider makes.
func NewRolesWith(newProvider RoleProviderFunc) *Roles {
	return &Roles{provider: newProvider, now: time.Now, entries: map[string]*temporary{}}
}

// AssumeRole returns roleArn's temporary credentials, assumed with base.
func (r *Roles) AssumeRole(_ context.Context, base cloud.Credentials, roleArn string) (cloud.Credentials, error) {
	// Keyed by a digest, so the map never holds a second copy of the keys.
	sum := sha256.Sum256([]byte(base.SecretID + "\x00" + base.SecretKey + "\x00" + base.Token + "\x00" + roleArn))
	key := hex.EncodeToString(sum[:])
	r.mu.Lock()
	now := r.now()
	if now.Sub(r.swept) > time.Minute {
		// Keys replaced in a Secret leave entries behind: drop the unused.
		for k, t := range r.entries {
			t.mu.Lock()
			idle := now.Sub(t.used) > 2*stsLifetime
			t.mu.Unlock()
			if idle {
				delete(r.entries, k)
			}
		}
		r.swept = now
	}
	t, ok := r.entries[key]
	if !ok {
		var cred common.CredentialIface = common.NewCredential(base.SecretID, base.SecretKey)
		if base.Token != "" {
			cred = common.NewTokenCredential(base.SecretID, base.SecretKey, base.Token)
		}
		t = &temporary{link: Link{Name: "roleArn", Op: actionAssumeRole, Provider: r.provider(cred, roleArn),
			Role: roleArn, Lifetime: stsLifetime}, now: r.now}
		r.entries[key] = t
	}
	r.mu.Unlock()
	return t.get()
}
