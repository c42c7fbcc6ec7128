package connectors

import (
	"fmt"
	"slices"
	"sync"
)

// Kind describes a connector kind: how to build one from its typed config
// and what its deliveries need.
type Kind struct {
	// Name is the `connector:` value in a destination's config.
	Name string
	// MaxBatch is the most records one Write takes (1: one per request).
	MaxBatch int
	// NeedsContact says deliveries must carry the person's identifiers
	// and profile (a CRM upserting contacts).
	NeedsContact bool
	// ErasesByContact says an erasure's delivery must carry the person's
	// identifiers one last time (a CRM deleting the contact by email);
	// otherwise erasures carry no contact.
	ErasesByContact bool
	// New builds a connector from the kind's typed config (the value the
	// config decoded for this kind); it does no I/O.
	New func(cfg any) (Connector, error)
}

// Registry is the explicit list of connector kinds a binary supports (no
// init-time registration).
type Registry struct {
	mu    sync.RWMutex
	kinds map[string]Kind
}

// NewRegistry returns a registry of the given kinds.
func NewRegistry(kinds ...Kind) (*Registry, error) {
	r := &Registry{kinds: map[string]Kind{}}
	for _, k := range kinds {
		if err := r.Register(k); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Register adds a kind; a name registered twice is an error.
func (r *Registry) Register(k Kind) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case k.Name == "" || k.New == nil:
		return fmt.Errorf("connector kind %q: name and New are required", k.Name)
	case k.MaxBatch < 1:
		return fmt.Errorf("connector kind %q: MaxBatch must be at least 1", k.Name)
	}
	if _, dup := r.kinds[k.Name]; dup {
		return fmt.Errorf("connector kind %q is registered twice", k.Name)
	}
	r.kinds[k.Name] = k
	return nil
}

// Kind returns the kind of a name.
func (r *Registry) Kind(name string) (Kind, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	k, ok := r.kinds[name]
	return k, ok
}

// Names lists the registered kinds, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
