package controller

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// imageLocks serializes work on one image across workers, so that two
// ImageShares of the same image can never both see room under the limit and
// race past it. TryLock never blocks a worker: a busy image is requeued.
type imageLocks struct {
	mu   sync.Mutex
	busy map[string]bool
}

func newImageLocks() *imageLocks { return &imageLocks{busy: map[string]bool{}} }

func (l *imageLocks) tryLock(key string) (unlock func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.busy[key] {
		return nil, false
	}
	l.busy[key] = true
	return func() {
		l.mu.Lock()
		delete(l.busy, key)
		l.mu.Unlock()
	}, true
}

// imageCache remembers the last image metadata and share list read for each
// image, updated with this manager's own changes. Work on an image is
// serialized, so a recent entry is as good as a fresh read; it lets one
// reconcile serve every ImageShare of an image, and one DescribeImages call
// serve a hundred images, without spending the cloud's rate budget twice.
type imageCache struct {
	mu     sync.Mutex
	meta   map[string]metaEntry
	shares map[string]shareEntry
}

type metaEntry struct {
	image   cloud.Image
	fetched time.Time
}

type shareEntry struct {
	shares  []string
	fetched time.Time
	// covers is the generation of each ImageShare the last plan on this list
	// was made for: a spec change already covered needs no fresh read.
	covers map[types.UID]int64
}

type imageInfo struct {
	Name, State string
}

func newImageCache() *imageCache {
	return &imageCache{meta: map[string]metaEntry{}, shares: map[string]shareEntry{}}
}

func (c *imageCache) getMeta(key string, maxAge time.Duration, now time.Time) (metaEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.meta[key]
	return e, ok && now.Sub(e.fetched) <= maxAge
}

func (c *imageCache) putMeta(key string, e metaEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.meta[key] = e
}

// getShares returns the cached share list if it is younger than maxAge, or
// was planned with uid at generation gen and is younger than coveredMaxAge.
func (c *imageCache) getShares(key string, uid types.UID, gen int64, maxAge, coveredMaxAge time.Duration,
	now time.Time) (shareEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.shares[key]
	if !ok {
		return shareEntry{}, false
	}
	age := now.Sub(e.fetched)
	return e, age <= maxAge || e.covers[uid] == gen && age <= coveredMaxAge
}

func (c *imageCache) putShares(key string, e shareEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shares[key] = e
}

// planned records the share list after this manager changed it and which
// generations the plan covered, keeping the time of the last real read: our
// own changes do not make drift older or newer.
func (c *imageCache) planned(key string, shares []string, covers map[types.UID]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.shares[key]; ok {
		e.shares, e.covers = shares, covers
		c.shares[key] = e
	}
}

func (c *imageCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.meta, key)
	delete(c.shares, key)
}

// badAccounts remembers accounts the cloud rejected (not found, owner,
// collaborator), so they are not retried on every reconcile: only after the
// listing object's spec changes or the resync period passes.
type badAccounts struct {
	mu      sync.Mutex
	entries map[string]badAccount // by image key + "/" + account
}

type badAccount struct {
	reason  string
	message string
	at      time.Time
}

func newBadAccounts() *badAccounts { return &badAccounts{entries: map[string]badAccount{}} }

func (b *badAccounts) get(image, account string, ttl time.Duration, now time.Time) (badAccount, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[image+"/"+account]
	if !ok || now.Sub(e.at) >= ttl {
		return badAccount{}, false
	}
	return e, true
}

func (b *badAccounts) set(image, account string, e badAccount) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.entries[image+"/"+account] = e
}

func (b *badAccounts) forget(image string, accounts []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, a := range accounts {
		delete(b.entries, image+"/"+a)
	}
}
