package fake

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// Factory is an in-memory cloud.Factory: one Client per SecretID, made on
// first use, so tests can seed a cloud identity's images before the code
// under test asks for its client. It records every ClientFor call's
// credentials. Safe for concurrent use.
type Factory struct {
	// ClientForFn, when set, replaces the default ClientFor (the call is
	// still recorded), e.g. to fail for some credentials.
	ClientForFn func(creds cloud.Credentials) (cloud.Client, error)
	// Rejected, when set, lists SecretIDs whose clients fail every call
	// with CredentialsInvalid, as Tencent's AuthFailure does: the factory
	// itself never calls the cloud, so it cannot refuse them.
	Rejected []string

	mu      sync.Mutex
	clients map[string]*Client
	used    []cloud.Credentials
}

var _ cloud.Factory = (*Factory)(nil)

// NewFactory returns a Factory with no clients yet.
func NewFactory() *Factory {
	return &Factory{clients: map[string]*Client{}}
}

// Client returns the Client for secretID, creating an empty one if needed;
// ClientFor with that SecretID then returns the same Client.
func (f *Factory) Client(secretID string) *Client {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.clients[secretID]
	if !ok {
		c = NewClient()
		if slices.Contains(f.Rejected, secretID) {
			rejectAll(c)
		}
		f.clients[secretID] = c
	}
	return c
}

// SetClient makes ClientFor return c for secretID, e.g. so that two
// SecretIDs (a key and its rotation) reach the same fake cloud account.
func (f *Factory) SetClient(secretID string, c *Client) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clients[secretID] = c
}

// ClientFor implements cloud.Factory. Like the Tencent factory it refuses
// credentials missing the ID or the key, without recording a client.
func (f *Factory) ClientFor(creds cloud.Credentials) (cloud.Client, error) {
	f.mu.Lock()
	f.used = append(f.used, creds)
	fn := f.ClientForFn
	f.mu.Unlock()
	if fn != nil {
		return fn(creds)
	}
	if creds.SecretID == "" || creds.SecretKey == "" {
		return nil, errors.New("credentials need both a secret ID and a secret key")
	}
	return f.Client(creds.SecretID), nil
}

// Used returns the credentials of every ClientFor call so far, in order.
func (f *Factory) Used() []cloud.Credentials {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.used)
}

// UsedSecretIDs returns the distinct SecretIDs ClientFor was called with,
// sorted: enough to check which identity acted without handling keys.
func (f *Factory) UsedSecretIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.used))
	for _, c := range f.used {
		out = append(out, c.SecretID)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// rejectAll makes every method of c fail with CredentialsInvalid.
func rejectAll(c *Client) {
	deny := func(op string) error {
		return fail(op, cloud.ReasonCredentialsInvalid, "The SecretId is not found or the signature is wrong")
	}
	c.DescribeImagesFn = func(_ context.Context, _ string, _ []string) (map[string]cloud.Image, error) {
		return nil, deny("DescribeImages")
	}
	c.ListSharesFn = func(context.Context, string, string) ([]string, error) { return nil, deny(opList) }
	c.ShareFn = func(context.Context, string, string, []string) error { return deny(opModify) }
	c.CancelFn = func(context.Context, string, string, []string) error { return deny(opModify) }
	c.RegionsFn = func(context.Context) ([]string, error) { return nil, deny("DescribeRegions") }
	c.FindImagesByNameFn = func(context.Context, string, string) ([]cloud.Image, error) {
		return nil, deny("DescribeImages")
	}
	c.CopyFn = func(context.Context, string, string, []string, string) (map[string]string, error) {
		return nil, deny(opSync)
	}
	c.DeleteFn = func(context.Context, string, string) error { return deny(opDelete) }
}
