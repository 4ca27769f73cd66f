package controller

import (
	"sync"
	"time"
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

// imageCache remembers the last share list and metadata read for each image,
// updated with this manager's own changes. Work on an image is serialized, so
// a recent entry is as good as a fresh read; it lets one reconcile serve every
// ImageShare of an image without spending the cloud's rate budget twice.
type imageCache struct {
	mu      sync.Mutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	image   imageInfo
	shares  []string
	fetched time.Time
}

type imageInfo struct {
	Name, State string
}

func newImageCache() *imageCache { return &imageCache{entries: map[string]cacheEntry{}} }

func (c *imageCache) get(key string, maxAge time.Duration, now time.Time) (cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || now.Sub(e.fetched) > maxAge {
		return cacheEntry{}, false
	}
	return e, true
}

func (c *imageCache) put(key string, e cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[key] = e
}

// update replaces the share list after this manager changed it, keeping the
// time of the last real read: our own changes do not make drift older or newer.
func (c *imageCache) update(key string, shares []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok {
		e.shares = shares
		c.entries[key] = e
	}
}

func (c *imageCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
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
