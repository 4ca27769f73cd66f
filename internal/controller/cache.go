package controller

import (
	"strings"
	"sync"
	"time"

	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// maxCachedImages bounds the read cache; past it the oldest reads go first.
const maxCachedImages = 20000

// readCache remembers, per cloud identity and image, the last metadata and
// share list read, updated with this manager's own changes. The workqueue
// runs one image on one worker at a time, so a recent entry is as good as a
// fresh read; one DescribeImages call serves a hundred images. Keyed by
// identity: a read made with one tenant's keys (an image shared *to* it, say)
// never decides another tenant's verdict.
type readCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	meta      metaEntry
	hasMeta   bool
	shares    []string
	sharesAt  time.Time
	hasShares bool
}

type metaEntry struct {
	image   cloud.Image
	found   bool
	fetched time.Time
}

func newReadCache(maxEntries int) *readCache {
	return &readCache{max: maxEntries, entries: map[string]*cacheEntry{}}
}

func cacheKey(identity string, k imageKey) string { return identity + "\x00" + k.String() }

func (c *readCache) entry(identity string, k imageKey) *cacheEntry {
	key := cacheKey(identity, k)
	e, ok := c.entries[key]
	if !ok {
		if len(c.entries) >= c.max {
			c.evictOldest()
		}
		e = &cacheEntry{}
		c.entries[key] = e
	}
	return e
}

// evictOldest drops the entry read longest ago; it runs only when the cache
// is full, which a manager sized for its images never is.
func (c *readCache) evictOldest() {
	var oldest string
	var at time.Time
	for k, e := range c.entries {
		t := e.meta.fetched
		if e.sharesAt.After(t) {
			t = e.sharesAt
		}
		if oldest == "" || t.Before(at) {
			oldest, at = k, t
		}
	}
	delete(c.entries, oldest)
}

func (c *readCache) meta(identity string, k imageKey, maxAge time.Duration, now time.Time) (metaEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[cacheKey(identity, k)]
	if !ok || !e.hasMeta || now.Sub(e.meta.fetched) > maxAge {
		return metaEntry{}, false
	}
	return e.meta, true
}

func (c *readCache) putMeta(identity string, k imageKey, m metaEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(identity, k)
	e.meta, e.hasMeta = m, true
}

func (c *readCache) shares(identity string, k imageKey, maxAge time.Duration, now time.Time) ([]string, time.Time,
	bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[cacheKey(identity, k)]
	if !ok || !e.hasShares || now.Sub(e.sharesAt) > maxAge {
		return nil, time.Time{}, false
	}
	return e.shares, e.sharesAt, true
}

func (c *readCache) putShares(identity string, k imageKey, shares []string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(identity, k)
	e.shares, e.sharesAt, e.hasShares = shares, at, true
}

// planned records the share list after this manager changed it, keeping the
// time of the last real read: our own changes do not make drift older or
// newer.
func (c *readCache) planned(identity string, k imageKey, shares []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[cacheKey(identity, k)]
	if !ok || !e.hasShares {
		return
	}
	e.shares = shares
}

func (c *readCache) forget(identity string, k imageKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, cacheKey(identity, k))
}

// forgetOthers drops the other identities' reads of an image one identity
// just changed: two keys of one account see the same shares, and a list read
// before the change must not plan the next one.
func (c *readCache) forgetOthers(identity string, k imageKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	suffix := "\x00" + k.String()
	for key := range c.entries {
		if strings.HasSuffix(key, suffix) && key != cacheKey(identity, k) {
			delete(c.entries, key)
		}
	}
}

// forgetImage drops every identity's reads of an image no ImageShare targets.
func (c *readCache) forgetImage(k imageKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	suffix := "\x00" + k.String()
	for key := range c.entries {
		if strings.HasSuffix(key, suffix) {
			delete(c.entries, key)
		}
	}
}
