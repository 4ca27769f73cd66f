package controller

import (
	"context"
	"errors"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
	"github.com/imageshare/imageshare-operator/internal/credentials"
)

// keyring resolves each namespace's credentialsRef once per reconcile: the
// hundred ImageShares of one golden image and one Secret cost one Secret GET
// (and one role assumption), not a hundred. It lives for one reconcile only,
// so a fixed or rotated Secret is seen by the next. (The in-use finalizer is
// decided on fresh reads: secretlock.go.)
type keyring struct {
	reader  client.Reader
	mu      sync.Mutex
	entries map[string]*keyringEntry
}

type keyringEntry struct {
	once     sync.Once
	resolved bool
	creds    cloud.Credentials
	f        *credentials.Failure
}

// errUnresolved: a resolution that did not complete (it panicked); the
// members waiting on it must not act with empty keys.
var errUnresolved = errors.New("credentials resolution did not complete")

func newKeyring(reader client.Reader) *keyring {
	return &keyring{reader: reader, entries: map[string]*keyringEntry{}}
}

// resolve returns obj's resolved credentials, resolving them on first use.
// The key holds the namespace: one tenant's Secret never answers another's.
func (k *keyring) resolve(ctx context.Context, src *credentials.Sources, obj *cvmv1alpha1.ImageShare) (
	cloud.Credentials, *credentials.Failure) {
	key := obj.Namespace
	if ref := obj.Spec.CredentialsRef; ref != nil {
		key += "\x00" + ref.Name + "\x00" + ref.RoleArn
	}
	k.mu.Lock()
	e, ok := k.entries[key]
	if !ok {
		e = &keyringEntry{}
		k.entries[key] = e
	}
	k.mu.Unlock()
	e.once.Do(func() {
		e.creds, e.f = src.Resolve(ctx, k.reader, obj.Namespace, obj.Spec.CredentialsRef)
		e.resolved = true
	})
	if !e.resolved {
		return cloud.Credentials{}, &credentials.Failure{Reason: cvmv1alpha1.ReasonProgressing,
			Message: "Resolving credentials failed: retrying", Err: errUnresolved}
	}
	return e.creds, e.f
}
