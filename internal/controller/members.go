package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// member is one ImageShare of the image in this reconcile: the object as
// read, the copy this reconcile changes, its credentials, and its verdict.
type member struct {
	obj, base *cvmv1alpha1.ImageShare
	creds     cloud.Credentials
	// identity is the cloud identity (SecretId) the credentials act as; ""
	// when the object has no usable credentials.
	identity string
	// copyOf is set for an ImageShare whose own image is a copy this image's
	// maintainer made in that region: it is planned with that copy.
	copyOf string
	v      verdict
	// list is the effective account list (spec.accountIds, then
	// accountsFrom, without duplicates) and accounts what the member wants
	// of it: nothing once expired. resolved tells they were read.
	list, accounts []string
	resolved       bool
	// badLines are accountsFrom lines that are not account IDs.
	badLines []cvmv1alpha1.FailedAccount
	// del is what this reconcile learnt about a deleting member's hold on
	// the cloud, for reconcileDelete.
	del deleteState
	// frozen is the verdict of a live member whose accountsFrom source is
	// missing: it shares and cancels nothing, but it plans with its
	// identity (as a held member) so that what it is known to list stays
	// protected from its siblings' cancels and its mode still counts.
	frozen *verdict
	// needsFinalizer: a live object without the finalizer yet; the first
	// write of this reconcile to it adds it.
	needsFinalizer bool
}

func (m *member) name() string      { return m.obj.Namespace + "/" + m.obj.Name }
func (m *member) deleting() bool    { return !m.obj.DeletionTimestamp.IsZero() }
func (m *member) observe() bool     { return m.obj.Spec.Mode == cvmv1alpha1.ModeObserve }
func (m *member) exclusive() bool   { return m.obj.Spec.Mode == cvmv1alpha1.ModeExclusive }
func (m *member) orphans() bool     { return m.obj.Spec.DeletionPolicy == cvmv1alpha1.DeletionPolicyOrphan }
func (m *member) specChanged() bool { return m.obj.Status.ObservedGeneration != m.obj.Generation }

// passive: it changes nothing in the cloud on its own behalf (Observe, or
// frozen), so it takes no write-ahead record; a frozen member still inherits
// accounts its siblings let go of (planner.NextManaged).
func (m *member) passive() bool { return m.observe() || m.frozen != nil }

// work is everything one reconcile of an image handles.
type work struct {
	key      imageKey
	members  []*member
	redirect *imageKey
	// handover: some member takes over an account (or a copy) its status
	// does not record yet, possibly from a leaving sibling.
	handover bool
}

// group is the members of one cloud identity: they plan together and act
// with that identity's keys. Members of other identities only ever count as
// shares the cloud already holds.
type group struct {
	identity string
	creds    cloud.Credentials
	members  []*member
	// made are the copies this reconcile made, by every group of the image
	// ("source region/imageId>destination region" → copy ID): two keys of one
	// account must not copy twice while a new copy is not visible yet.
	made map[string]string
}

// groups splits the members that still need the cloud by identity, in a
// stable order (oldest member first decides nothing here; the planner does).
func (w *work) groups() []*group {
	var out []*group
	made := map[string]string{}
	for _, m := range w.members {
		if m.v.decided() {
			continue
		}
		i := slices.IndexFunc(out, func(g *group) bool { return g.identity == m.identity })
		if i < 0 {
			out = append(out, &group{identity: m.identity, creds: m.creds, made: made})
			i = len(out) - 1
		}
		out[i].members = append(out[i].members, m)
	}
	return out
}

// load lists the image's ImageShares (and, for a source image, the
// ImageShares of its copies), adds the finalizer to new ones, and resolves
// each one's credentials. Members that need no cloud call (released at once,
// or without usable credentials) get their verdict here.
func (r *ImageShareReconciler) load(ctx context.Context, key imageKey) (*work, error) {
	w := &work{key: key}
	if src, ok := r.maintainerOf(ctx, key); ok {
		w.redirect = &src
		return w, nil
	}
	objs, err := r.listBy(ctx, imageKeyField, key.String())
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		m := &member{obj: o, base: o.DeepCopy()}
		w.members = append(w.members, m)
	}
	// ImageShares whose image is a copy one of ours maintains join the plan of
	// that copy, and so on down a copy's own copies (a bounded depth: a copy
	// of a copy of a copy is as far as anyone goes).
	seen := map[imageKey]bool{key: true}
	for depth, level := 0, w.members; depth < maxCopyDepth && len(level) > 0; depth++ {
		var next []*member
		for _, m := range level {
			for _, st := range m.obj.Status.Regions {
				k := imageKey{Region: st.Region, ImageID: st.ImageID}
				if st.ImageID == "" || seen[k] {
					continue
				}
				seen[k] = true
				copies, err := r.listBy(ctx, imageKeyField, k.String())
				if err != nil {
					return nil, err
				}
				for _, o := range copies {
					if !slices.ContainsFunc(w.members, func(x *member) bool { return x.obj.UID == o.UID }) {
						cm := &member{obj: o, base: o.DeepCopy(), copyOf: st.Region}
						w.members = append(w.members, cm)
						next = append(next, cm)
					}
				}
			}
		}
		level = next
	}
	keys := newKeyring(r.APIReader)
	errs := make([]error, len(w.members))
	inParallel(len(w.members), func(i int) { errs[i] = r.prepare(ctx, w.members[i], keys) })
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return w, nil
}

// prepare marks a live object for the finalizer, releases a deleting one
// that has nothing to cancel, and resolves credentials.
func (r *ImageShareReconciler) prepare(ctx context.Context, m *member, keys *keyring) error {
	if !m.deleting() && !controllerutil.ContainsFinalizer(m.obj, Finalizer) {
		// The finalizer goes on with the first write this reconcile makes to
		// the object: the write-ahead record of its first SHARE, or finish.
		// One patch instead of two on every new object; a copy, made before
		// either, is the one cloud change that needs it at once.
		m.needsFinalizer = true
		if len(m.obj.Spec.ReplicaRegions) > 0 {
			if err := r.addFinalizer(ctx, m); err != nil {
				return err
			}
			if m.v.gone {
				return nil
			}
		}
	}
	if m.deleting() {
		if !controllerutil.ContainsFinalizer(m.obj, Finalizer) {
			m.v = verdict{gone: true}
			return nil
		}
		// Deletion always ends: nothing to cancel means nothing to wait for,
		// with or without credentials.
		if v := r.reconcileDelete(m, deleteState{}); v.decided() {
			m.v = v
			return nil
		}
	}
	if v := r.resolveAccounts(ctx, m); v != nil && !m.deleting() {
		if !v.stalled {
			m.v = *v // the source could not be read: retry
			return nil
		}
		m.freeze(v, r.now())
	}
	resolved, failure := keys.resolve(ctx, &r.Credentials, m.obj)
	creds, identity, v := r.credentialsVerdict(m.obj, resolved, failure)
	if v == nil {
		if msg, ok := r.rejected.get(m.obj, creds, r.ResyncPeriod, r.now()); ok {
			cv := r.stalled(cvmv1alpha1.ReasonCredentialsInvalid, msg)
			cv.requeueAfter = jitter(credentialsRetry)
			v = &cv
		}
	}
	switch {
	case v != nil && m.frozen != nil:
		m.v = *m.frozen // out of the plan: without working keys it protects nothing
	case v != nil:
		m.v = *v
	default:
		m.creds, m.identity = creds, identity
	}
	return nil
}

// addFinalizer adds the finalizer now; an object deleted meanwhile is gone.
func (r *ImageShareReconciler) addFinalizer(ctx context.Context, m *member) error {
	patched := m.obj.DeepCopy()
	controllerutil.AddFinalizer(patched, Finalizer)
	if err := r.Patch(ctx, patched, client.MergeFrom(m.obj)); err != nil {
		if apierrors.IsNotFound(err) {
			m.v = verdict{gone: true} // deleted meanwhile: nothing to do for it
			return nil
		}
		return fmt.Errorf("add finalizer to %s: %w", m.name(), err)
	}
	m.tookFinalizers(patched)
	m.needsFinalizer = false
	return nil
}

// tookFinalizers takes from a patch's answer only the finalizers (and the
// resourceVersion): the spec, annotations and status this reconcile planned
// with stay as read, so a generation that arrived meanwhile is never
// reported as observed.
func (m *member) tookFinalizers(answer *cvmv1alpha1.ImageShare) {
	m.obj.Finalizers, m.obj.ResourceVersion = answer.Finalizers, answer.ResourceVersion
	m.base.Finalizers, m.base.ResourceVersion = slices.Clone(answer.Finalizers), answer.ResourceVersion
}

// freeze holds a member whose accountsFrom source is missing: it is planned
// as wanting what it is known to list (spec.accountIds, and what its status
// last reported shared), and judged by v whatever the plan does.
func (m *member) freeze(v *verdict, now time.Time) {
	m.frozen = v
	if expired(m.obj, now) {
		m.list, m.accounts = nil, nil // past expiresAt it lists nothing, frozen or not
		return
	}
	known := slices.Clone(m.obj.Spec.AccountIDs)
	for _, a := range m.obj.Status.SharedAccountIDs {
		if !slices.Contains(known, a) {
			known = append(known, a)
		}
	}
	m.list, m.accounts = known, known
}
