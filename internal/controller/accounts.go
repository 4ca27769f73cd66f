package controller

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
)

// configMapField indexes ImageShares by namespace/name of every ConfigMap
// their spec.accountsFrom reads, so an edit re-plans exactly those objects.
const configMapField = "spec.accountsFrom.configMapKeyRef.name"

// accountIDPattern is what spec.accountIds admits (a root account's UIN).
var accountIDPattern = regexp.MustCompile(`^[1-9][0-9]{4,19}$`)

// maxLineInStatus bounds how much of a bad line status quotes, and
// maxBadLines how many bad lines it lists: a wrong key holding a whole file
// must not push the status past the API server's size limit.
const (
	maxLineInStatus = 64
	maxBadLines     = 50
)

// configMapsOf are namespace/name of the ConfigMaps o reads accounts from.
func configMapsOf(o *cvmv1alpha1.ImageShare) []string {
	var out []string
	for _, src := range o.Spec.AccountsFrom {
		if k := o.Namespace + "/" + src.ConfigMapKeyRef.Name; !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// expired reports whether o is past spec.expiresAt: from then on it lists no
// account, whatever its deletionPolicy.
func expired(o *cvmv1alpha1.ImageShare, now time.Time) bool {
	return o.Spec.ExpiresAt != nil && !now.Before(o.Spec.ExpiresAt.Time)
}

// resolveAccounts sets m's effective account list: spec.accountIds, then
// each accountsFrom source in order, without duplicates (the share limit
// takes accounts in that order). Lines that are not account IDs become
// failed accounts. A missing ConfigMap or key freezes the object: the
// verdict returned says so, and nothing is shared or cancelled for it.
// Past expiresAt the object wants no account at all.
func (r *ImageShareReconciler) resolveAccounts(ctx context.Context, m *member) *verdict {
	o := m.obj
	list := slices.Clone(o.Spec.AccountIDs)
	m.badLines = nil
	for _, src := range o.Spec.AccountsFrom {
		ref := src.ConfigMapKeyRef
		var cm corev1.ConfigMap
		err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: o.Namespace, Name: ref.Name}, &cm)
		value, hasKey := cm.Data[ref.Key]
		switch {
		case apierrors.IsNotFound(err) || err == nil && !hasKey:
			what := fmt.Sprintf("ConfigMap %s/%s", o.Namespace, ref.Name)
			if err == nil {
				what = fmt.Sprintf("Key %s of ConfigMap %s/%s", ref.Key, o.Namespace, ref.Name)
			}
			v := r.stalled(cvmv1alpha1.ReasonAccountsSourceNotFound, fmt.Sprintf(
				"%s named in spec.accountsFrom does not exist: nothing is shared or cancelled for this object "+
					"until it does; create it or fix spec.accountsFrom", what))
			return &v
		case err != nil:
			v := progressing(cvmv1alpha1.ReasonProgressing, fmt.Sprintf("Reading ConfigMap %s/%s failed: retrying",
				o.Namespace, ref.Name))
			v.err = fmt.Errorf("get configmap %s/%s: %w", o.Namespace, ref.Name, err)
			return &v
		}
		for raw := range strings.SplitSeq(value, "\n") {
			line, _, _ := strings.Cut(raw, "#")
			line = strings.TrimSpace(line)
			switch {
			case line == "" || slices.Contains(list, line):
			case accountIDPattern.MatchString(line):
				list = append(list, line)
			case len(m.badLines) < maxBadLines:
				m.badLines = append(m.badLines, badLine(line, ref))
			}
		}
	}
	m.list, m.accounts, m.resolved = list, list, true
	if expired(o, r.now()) {
		m.accounts = nil
	}
	return nil
}

// badLine is the failed-account entry of a source line that is not an account ID.
func badLine(line string, ref cvmv1alpha1.ConfigMapKeyReference) cvmv1alpha1.FailedAccount {
	quoted := line
	if len(quoted) > maxLineInStatus {
		quoted = quoted[:maxLineInStatus]
	}
	return cvmv1alpha1.FailedAccount{AccountID: quoted, Reason: cvmv1alpha1.AccountReasonInvalidID,
		Message: fmt.Sprintf("Line %q of key %s in ConfigMap %s is not an account ID: fix or remove the line",
			quoted, ref.Key, ref.Name)}
}
