package policy

import (
	"context"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// credentials returns the keys the policy lists images with, resolved
// exactly as its children's (internal/credentials), or the Stalled verdict
// that says why there are none; a retryable failure is an error.
func (r *Reconciler) credentials(ctx context.Context, p *cvmv1alpha1.ImageSharePolicy) (cloud.Credentials,
	*verdict, error) {
	creds, f := r.Credentials.Resolve(ctx, r.APIReader, p.Namespace, p.Spec.CredentialsRef)
	switch {
	case f == nil:
		return creds, nil, nil
	case f.Err != nil:
		return cloud.Credentials{}, nil, f.Err
	}
	return cloud.Credentials{}, stalled(f.Reason, f.Message), nil
}
