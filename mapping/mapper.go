package mapping

import "fmt"

// SourceSpec is what the mapper needs to know about one configured source.
type SourceSpec struct {
	Provider      string
	DefaultRegion string
}

// Mapper maps raw requests of every configured source into canonical
// events: by the provider's declarative spec, or by the built-in form
// mapper for provider "form".
type Mapper struct {
	sources map[string]SourceSpec
	specs   map[string]*Compiled
}

// NewMapper returns a mapper for the given sources (by source name) and
// compiled provider specs (by provider).
func NewMapper(sources map[string]SourceSpec, specs map[string]*Compiled) *Mapper {
	return &Mapper{sources: sources, specs: specs}
}

// Map turns req into its canonical events (several for a batched
// request). Errors are *MalformedError, *UnsupportedMediaError or
// *UnmappableError: all permanent for this request until its mapping
// changes.
func (m *Mapper) Map(req *RawRequest) ([]*Event, error) {
	spec, ok := m.sources[req.Source]
	if !ok {
		// The source was removed from the config after the request was
		// stored: map it with its provider's defaults.
		spec = SourceSpec{Provider: req.Provider}
	}
	if c, ok := m.specs[spec.Provider]; ok {
		doc, err := c.Decode(req)
		if err != nil {
			return nil, err
		}
		return c.Map(doc, spec.DefaultRegion)
	}
	if spec.Provider == "form" {
		ev, err := MapForm(req, FormOptions{DefaultRegion: spec.DefaultRegion})
		if err != nil {
			return nil, err
		}
		return []*Event{ev}, nil
	}
	return nil, &UnmappableError{Reason: fmt.Sprintf("no mapping for provider %q", spec.Provider)}
}
