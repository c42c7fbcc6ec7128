package mapping

import "fmt"

// SourceSpec is what the mapper needs to know about one configured source.
type SourceSpec struct {
	Provider      string
	DefaultRegion string
}

// Mapper maps raw requests of every configured source into canonical events.
type Mapper struct {
	sources map[string]SourceSpec
}

// NewMapper returns a mapper for the given sources (by source name).
func NewMapper(sources map[string]SourceSpec) *Mapper {
	return &Mapper{sources: sources}
}

// Providers lists the provider types this build can map.
func Providers() []string { return []string{"form"} }

// Map turns req into a canonical event. Errors are *MalformedError,
// *UnsupportedMediaError or *UnmappableError: all permanent for this
// request until its mapping changes.
func (m *Mapper) Map(req *RawRequest) (*Event, error) {
	spec, ok := m.sources[req.Source]
	if !ok {
		// The source was removed from the config after the request was
		// stored: map it with its provider's defaults.
		spec = SourceSpec{Provider: req.Provider}
	}
	switch spec.Provider {
	case "form":
		return MapForm(req, FormOptions{DefaultRegion: spec.DefaultRegion})
	default:
		return nil, &UnmappableError{Reason: fmt.Sprintf("no mapping for provider %q", spec.Provider)}
	}
}
