package cloud

import (
	"context"
	"errors"
)

// ErrNoCredentials is what a CredentialSource returns when none of its
// sources is configured: the status reason is CredentialsMissing.
var ErrNoCredentials = errors.New("no credentials configured")

// CredentialSource gives credentials that may be temporary: the manager's own
// (--credential-sources) or an assumed role's. Implementations refresh
// temporary credentials before they expire and return them valid now, so a
// caller never signs with expired keys.
//
// A failure is either ErrNoCredentials, or an *Error classified as for any
// call: CredentialsInvalid or PermissionDenied when the provider refused the
// request (terminal), anything else retried. An expiry on its own is never
// CredentialsInvalid: a refresh that fails transiently is CloudError.
type CredentialSource interface {
	// Credentials returns credentials valid now.
	Credentials(ctx context.Context) (Credentials, error)
	// Describe names the source for people, e.g. "env (TENCENTCLOUD_SECRET_ID)".
	Describe() string
}

// RoleAssumer assumes a CAM role (STS AssumeRole) with a key pair.
type RoleAssumer interface {
	// AssumeRole returns the role's temporary credentials, with Role set to
	// roleArn, refreshed before they expire; failures are as for
	// CredentialSource.Credentials.
	AssumeRole(ctx context.Context, base Credentials, roleArn string) (Credentials, error)
}
