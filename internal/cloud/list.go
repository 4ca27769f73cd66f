package cloud

import "time"

// ImageSelector picks the caller's own images by name and tags; both parts
// are ANDed, and an empty selector matches every own image.
type ImageSelector struct {
	// NamePrefix, when set, keeps images whose name starts with it (matched
	// client-side: DescribeImages' image-name filter is an exact match).
	NamePrefix string
	// Tags keeps images that carry every one of these tags with exactly
	// these values (DescribeImages' tag:<key> filters).
	Tags map[string]string
}

// ListedImage is one image ListPrivateImages found.
type ListedImage struct {
	ID    string
	Name  string
	State string
	// CreatedTime is when the image was made; zero when the provider did not say.
	CreatedTime time.Time
	// Tags are the image's tags, key to value; nil when it has none.
	Tags map[string]string
}

// Matches reports whether img satisfies the selector, the check
// implementations apply client-side after the provider's own filters.
func (s ImageSelector) Matches(name string, tags map[string]string) bool {
	if len(name) < len(s.NamePrefix) || name[:len(s.NamePrefix)] != s.NamePrefix {
		return false
	}
	for k, v := range s.Tags {
		if got, ok := tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}
