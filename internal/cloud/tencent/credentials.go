package tencent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"

	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// Credential sources of --credential-sources, tried in the order given.
const (
	// SourceEnv reads EnvSecretID, EnvSecretKey and EnvSecurityToken.
	SourceEnv = "env"
	// SourceOIDC is TKE pod identity: AssumeRoleWithWebIdentity with the
	// token file and role the TKE webhook injects (TKE_ROLE_ARN, ...).
	SourceOIDC = "oidc"
	// SourceCVMRole is the role bound to the CVM instance, from its metadata service.
	SourceCVMRole = "cvm-role"
)

// Environment of the env source: the names Tencent's SDKs and Terraform use.
const (
	EnvSecretID      = "TENCENTCLOUD_SECRET_ID"
	EnvSecretKey     = "TENCENTCLOUD_SECRET_KEY"
	EnvSecurityToken = "TENCENTCLOUD_SECURITY_TOKEN"
	// EnvSessionToken is the deprecated name of EnvSecurityToken, read only
	// when EnvSecurityToken is unset.
	EnvSessionToken = "TENCENTCLOUD_SESSION_TOKEN"
	// envOIDCRoleArn is the role of TKE pod identity; its presence means the source applies.
	envOIDCRoleArn = "TKE_ROLE_ARN"
	// envOIDCTokenFile is the web identity token file of TKE pod identity.
	envOIDCTokenFile = "TKE_WEB_IDENTITY_TOKEN_FILE"
)

// Actions named in errors of each source.
const (
	actionAssumeRole         = "AssumeRole"
	actionAssumeRoleWithOIDC = "AssumeRoleWithWebIdentity"
	actionCVMRole            = "GetCvmRoleCredential"
	actionEnv                = "ReadEnvironment"
)

// stsLifetime is how long STS credentials last (the SDK's default request).
const stsLifetime = 7200 * time.Second

// cvmRoleName is the identity of the CVM instance role: one instance has one.
const cvmRoleName = "cvm-instance-role"

// ParseCredentialSources checks a --credential-sources list: env, oidc and
// cvm-role, each at most once, at least one.
func ParseCredentialSources(sources []string) ([]string, error) {
	if len(sources) == 0 {
		return nil, errors.New("no credential source: name at least one of env, oidc, cvm-role")
	}
	for i, s := range sources {
		switch s {
		case SourceEnv, SourceOIDC, SourceCVMRole:
		default:
			return nil, fmt.Errorf("unknown credential source %q: use env, oidc or cvm-role", s)
		}
		if slices.Contains(sources[:i], s) {
			return nil, fmt.Errorf("credential source %q named twice", s)
		}
	}
	return sources, nil
}

// Link is one source of a Chain: an SDK provider and what its credentials are.
type Link struct {
	// Name is the source's name, e.g. env.
	Name string
	// Op is the action named when the provider fails, e.g. AssumeRole.
	Op string
	// Provider gives credentials. It returns an error wrapping
	// cloud.ErrNoCredentials when the source does not apply here (its
	// environment is not set), and the chain moves on to the next link.
	Provider common.Provider
	// Role is the identity of the link's temporary credentials; "" for keys.
	Role string
	// Lifetime is how long credentials last from when the provider gave
	// them; 0 when they never expire or refresh themselves (the SDK's CVM
	// role credential knows its own expiry).
	Lifetime time.Duration
}

// Chain is the manager's own credentials: the first link whose source
// applies gives them, as the SDK's ProviderChain does, and temporary ones are
// refreshed before they expire.
type Chain struct {
	links []*temporary
	names []string
}

var _ cloud.CredentialSource = (*Chain)(nil)

// NewChain builds the chain of the named sources (see ParseCredentialSources)
// on the SDK's providers.
func NewChain(sources []string) (*Chain, error) {
	if _, err := ParseCredentialSources(sources); err != nil {
		return nil, err
	}
	links := make([]Link, 0, len(sources))
	for _, s := range sources {
		switch s {
		case SourceEnv:
			links = append(links, Link{Name: s, Op: actionEnv, Provider: envProvider{getenv: os.LookupEnv}})
		case SourceOIDC:
			links = append(links, Link{Name: s, Op: actionAssumeRoleWithOIDC, Provider: oidcProvider{},
				Role: os.Getenv(envOIDCRoleArn), Lifetime: stsLifetime})
		case SourceCVMRole:
			links = append(links, Link{Name: s, Op: actionCVMRole, Provider: cvmRoleProvider{common.DefaultCvmRoleProvider()},
				Role: cvmRoleName})
		}
	}
	return NewChainOf(links...), nil
}

// NewChainOf builds a chain of links in order, with the real clock.
func NewChainOf(links ...Link) *Chain {
	c := &Chain{}
	for _, l := range links {
		c.links = append(c.links, &temporary{link: l, now: time.Now})
		c.names = append(c.names, l.Name)
	}
	return c
}

// Credentials returns the first applicable source's credentials, or
// cloud.ErrNoCredentials when no source applies.
func (c *Chain) Credentials(context.Context) (cloud.Credentials, error) {
	for _, t := range c.links {
		creds, err := t.get()
		if errors.Is(err, cloud.ErrNoCredentials) {
			continue
		}
		return creds, err
	}
	return cloud.Credentials{}, fmt.Errorf("credential sources %s: %w", strings.Join(c.names, ","), cloud.ErrNoCredentials)
}

// Describe names the chain for messages.
func (c *Chain) Describe() string {
	if slices.Equal(c.names, []string{SourceEnv}) {
		return EnvSecretID + " and " + EnvSecretKey
	}
	return "--credential-sources " + strings.Join(c.names, ",")
}

// temporary holds one link's credentials and refreshes them: after half their
// lifetime it asks the provider again; a refresh that fails keeps the old
// credentials only while a sixth of their lifetime is left, then fails as
// CloudError (retried), so expired keys are never sent to the cloud and an
// expiry never reads as CredentialsInvalid.
type temporary struct {
	link Link
	now  func() time.Time

	mu      sync.Mutex
	cred    common.CredentialIface
	fetched time.Time
	used    time.Time
}

func (t *temporary) get() (cloud.Credentials, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.used = now
	age := now.Sub(t.fetched)
	if t.cred == nil || (t.link.Lifetime > 0 && age >= t.link.Lifetime/2) {
		cred, err := t.link.Provider.GetCredential()
		switch {
		case err == nil && cred != nil:
			t.cred, t.fetched = cred, now
		case errors.Is(err, cloud.ErrNoCredentials):
			t.cred = nil
			return cloud.Credentials{}, err
		case t.cred == nil || age >= t.link.Lifetime*5/6:
			t.cred = nil
			if err == nil {
				err = errors.New("the provider returned no credential")
			}
			return cloud.Credentials{}, classifyCredentials(t.link.Op, err)
		}
	}
	id, key, token := t.cred.GetCredential()
	if id == "" || key == "" {
		return cloud.Credentials{}, &cloud.Error{Op: t.link.Op, Code: "ClientError.CredentialError",
			Message: "the " + t.link.Name + " source gave an empty credential", Reason: cloud.ReasonCloudError}
	}
	return cloud.Credentials{SecretID: id, SecretKey: key, Token: token, Role: t.link.Role}, nil
}

// classifyCredentials classifies a provider's failure like a call's, with the
// STS answers that mean a wrong role or token (not a passing fault) made
// CredentialsInvalid.
func classifyCredentials(op string, err error) error {
	ce := classify(op, err, subject{})
	for _, p := range []string{"ResourceNotFound", "InvalidParameter"} {
		if strings.HasPrefix(ce.Code, p) {
			ce.Reason = cloud.ReasonCredentialsInvalid
		}
	}
	return ce
}

// setCreds replaces refreshed temporary credentials; the SDK clients bound
// to the old ones are dropped.
func (c *Client) setCreds(creds cloud.Credentials) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.creds != creds {
		c.creds = creds
		c.sdk = map[string]*common.Client{}
	}
}

// temporary reports whether the client acts with a role's refreshed credentials.
func (c *Client) temporary() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.creds.Role != ""
}

// expiredToken reports whether code is the cloud's answer to an expired STS token.
func expiredToken(code string) bool {
	return code == "AuthFailure.TokenFailure" || code == "UnauthorizedOperation.InvalidToken"
}
