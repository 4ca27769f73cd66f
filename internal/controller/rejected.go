package controller

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
	"github.com/imageshare/imageshare-operator/internal/credentials"
)

// maxRejected bounds the rejected-credentials memo.
const maxRejected = 10000

// rejectedKeys remembers, per object, a digest of the credentials the cloud
// rejected, the spec generation and when. Until the Secret's bytes change,
// the spec changes or a resync period passes, the same keys are not sent
// again (the Secret itself is re-read every credentialsRetry, which is how a
// fixed Secret is noticed without watching Secrets). It is bounded and
// forgets released objects; losing it on a restart costs one call.
type rejectedKeys struct {
	mu      sync.Mutex
	entries map[types.UID]rejection
}

type rejection struct {
	digest     [32]byte
	generation int64
	at         time.Time
	message    string
}

func newRejectedKeys() *rejectedKeys { return &rejectedKeys{entries: map[types.UID]rejection{}} }

// get returns the message of a rejection that still holds for o and creds.
func (k *rejectedKeys) get(o *cvmv1alpha1.ImageShare, c cloud.Credentials, resync time.Duration,
	now time.Time) (string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.entries[o.UID]
	if !ok || e.digest != credentials.Digest(c) || e.generation != o.Generation || now.Sub(e.at) >= resync {
		return "", false
	}
	return e.message, true
}

func (k *rejectedKeys) put(o *cvmv1alpha1.ImageShare, c cloud.Credentials, message string, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.entries[o.UID]; !ok && len(k.entries) >= maxRejected {
		var oldest types.UID
		for uid, e := range k.entries {
			if oldest == "" || e.at.Before(k.entries[oldest].at) {
				oldest = uid
			}
		}
		delete(k.entries, oldest)
	}
	k.entries[o.UID] = rejection{digest: credentials.Digest(c), generation: o.Generation, at: now, message: message}
}

func (k *rejectedKeys) forget(uid types.UID) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.entries, uid)
}
