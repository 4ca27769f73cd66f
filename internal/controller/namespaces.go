package controller

import (
	"slices"

	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/imageshare/imageshare-operator/internal/credentials"
)

// CacheNamespaces is the manager cache's DefaultNamespaces for
// --watch-namespaces: the manager then lists, watches and acts on objects in
// those namespaces only, so managers with disjoint lists never touch each
// other's objects. An empty list, or one naming "*", is nil: every namespace.
func CacheNamespaces(namespaces []string) map[string]cache.Config {
	if len(namespaces) == 0 || slices.Contains(namespaces, credentials.AllNamespaces) {
		return nil
	}
	out := make(map[string]cache.Config, len(namespaces))
	for _, ns := range namespaces {
		out[ns] = cache.Config{}
	}
	return out
}
