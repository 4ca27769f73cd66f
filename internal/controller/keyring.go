package controller

import (
	"context"
	"errors"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
	"github.com/imageshare/imageshare-operator/internal/credentials"
)

// keyring holds what one reconcile read about credentials: each namespace's
// credentialsRef resolved once, and each Secret read once for it. (The
// in-use finalizer is decided on fresh reads: secretlock.go.) The hundred ImageShares of
// one golden image and one Secret cost one Secret GET (and one role
// assumption), not a hundred. It lives for one reconcile only, so a fixed or
// rotated Secret is seen by the next.
type keyring struct {
	reader  client.Reader
	mu      sync.Mutex
	entries map[string]*keyringEntry
	secrets map[types.NamespacedName]*secretRead
}

type keyringEntry struct {
	once     sync.Once
	resolved bool
	creds    cloud.Credentials
	f        *credentials.Failure
}

type secretRead struct {
	once   sync.Once
	secret *corev1.Secret
	err    error
}

// errUnresolved: a resolution that did not complete (it panicked); the
// members waiting on it must not act with empty keys.
var errUnresolved = errors.New("credentials resolution did not complete")

func newKeyring(reader client.Reader) *keyring {
	return &keyring{reader: reader, entries: map[string]*keyringEntry{},
		secrets: map[types.NamespacedName]*secretRead{}}
}

type keyringCtxKey struct{}

// withKeyring carries the reconcile's keyring to the steps that read or lock
// its Secrets.
func withKeyring(ctx context.Context, k *keyring) context.Context {
	return context.WithValue(ctx, keyringCtxKey{}, k)
}

// keyringOf is the reconcile's keyring, or a fresh one reading through reader.
func keyringOf(ctx context.Context, reader client.Reader) *keyring {
	if k, ok := ctx.Value(keyringCtxKey{}).(*keyring); ok {
		return k
	}
	return newKeyring(reader)
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
		e.creds, e.f = src.Resolve(ctx, secretsVia{k}, obj.Namespace, obj.Spec.CredentialsRef)
		e.resolved = true
	})
	if !e.resolved {
		return cloud.Credentials{}, &credentials.Failure{Reason: cvmv1alpha1.ReasonProgressing,
			Message: "Resolving credentials failed: retrying", Err: errUnresolved}
	}
	return e.creds, e.f
}

// secret returns the Secret as this reconcile first read it. Callers must not
// modify it.
func (k *keyring) secret(ctx context.Context, name types.NamespacedName) (*corev1.Secret, error) {
	k.mu.Lock()
	e, ok := k.secrets[name]
	if !ok {
		e = &secretRead{}
		k.secrets[name] = e
	}
	k.mu.Unlock()
	e.once.Do(func() {
		var s corev1.Secret
		if e.err = k.reader.Get(ctx, name, &s); e.err == nil {
			e.secret = &s
		}
	})
	if e.secret == nil && e.err == nil {
		return nil, errUnresolved
	}
	return e.secret, e.err
}

// secretsVia reads Secrets through a keyring (anything else is not asked of
// it): internal/credentials then shares the reconcile's one read.
type secretsVia struct{ k *keyring }

// Get reads a Secret through the keyring.
func (v secretsVia) Get(ctx context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return v.k.reader.Get(ctx, key, obj)
	}
	got, err := v.k.secret(ctx, key)
	if err != nil {
		return err
	}
	got.DeepCopyInto(s)
	return nil
}

// List is passed through.
func (v secretsVia) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return v.k.reader.List(ctx, list, opts...)
}
