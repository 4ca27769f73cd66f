package policy

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// listings remembers each policy's last listing (the images as the cloud
// listed them, before selection), so that the reconciles a
// child's status change triggers re-aggregate without listing the cloud
// again. A spec change (a new generation) or the resync period passing
// lists again.
type listings struct {
	mu sync.Mutex
	by map[types.UID]listing
}

type listing struct {
	generation int64
	at         time.Time
	images     []cloud.ListedImage
}

func (l *listings) get(p *cvmv1alpha1.ImageSharePolicy, maxAge time.Duration) ([]cloud.ListedImage, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.by[p.UID]
	if !ok || e.generation != p.Generation || time.Since(e.at) >= maxAge {
		return nil, false
	}
	return e.images, true
}

func (l *listings) put(p *cvmv1alpha1.ImageSharePolicy, images []cloud.ListedImage) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.by == nil {
		l.by = map[types.UID]listing{}
	}
	l.by[p.UID] = listing{generation: p.Generation, at: time.Now(), images: images}
}

func (l *listings) forget(uid types.UID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.by, uid)
}
