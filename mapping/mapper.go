package mapping

import (
	"fmt"
	"sync/atomic"
)

// SourceSpec is what the mapper needs to know about one configured source.
type SourceSpec struct {
	Provider      string
	DefaultRegion string
	// Mapping is the name of the source's declarative mapping; the
	// provider's name when empty.
	Mapping string
}

func (s SourceSpec) mapping() string {
	if s.Mapping != "" {
		return s.Mapping
	}
	return s.Provider
}

// Mapper maps raw requests of every configured source into canonical
// events: by the provider's declarative spec, or by the built-in form
// mapper for provider "form".
type Mapper struct {
	sources map[string]SourceSpec
	// specs is swapped whole when the mappings are reloaded.
	specs atomic.Pointer[map[string]*Compiled]
}

// NewMapper returns a mapper for the given sources (by source name) and
// compiled declarative mappings (by mapping name).
func NewMapper(sources map[string]SourceSpec, specs map[string]*Compiled) *Mapper {
	m := &Mapper{sources: sources}
	m.SetMappings(specs)
	return m
}

// SetMappings switches to reloaded mappings; a request being mapped
// finishes with the ones it started with.
func (m *Mapper) SetMappings(specs map[string]*Compiled) { m.specs.Store(&specs) }

func (m *Mapper) spec(name string) (*Compiled, bool) {
	c, ok := (*m.specs.Load())[name]
	return c, ok
}

func (m *Mapper) source(req *RawRequest) SourceSpec {
	if spec, ok := m.sources[req.Source]; ok {
		return spec
	}
	// The source was removed from the config after the request was
	// stored: map it with its provider's defaults.
	return SourceSpec{Provider: req.Provider}
}

// Map turns req into its canonical events (several for a batched request,
// none when every record is skipped). Errors are *MalformedError,
// *UnsupportedMediaError or *UnmappableError: all permanent for this
// request until its mapping changes.
// Every event is enriched (see Enrich).
func (m *Mapper) Map(req *RawRequest) ([]*Event, error) {
	evs, err := m.mapRaw(req)
	for _, ev := range evs {
		Enrich(ev)
	}
	return evs, err
}

func (m *Mapper) mapRaw(req *RawRequest) ([]*Event, error) {
	spec := m.source(req)
	if c, ok := m.spec(spec.mapping()); ok {
		doc, err := c.Decode(req)
		if err != nil {
			return nil, err
		}
		return c.MapFetched(doc, spec.DefaultRegion, req.Fetched)
	}
	if spec.Provider == "form" {
		ev, err := MapForm(req, FormOptions{DefaultRegion: spec.DefaultRegion})
		if err != nil {
			return nil, err
		}
		return []*Event{ev}, nil
	}
	return nil, &UnmappableError{Reason: fmt.Sprintf("no mapping %q for provider %q", spec.mapping(), spec.Provider)}
}

// NextFetch returns the next API call req needs given the documents
// fetched so far, or nil when it has them all (see Compiled.NextFetch).
func (m *Mapper) NextFetch(req *RawRequest, fetched Fetched) (*FetchRequest, error) {
	c, ok := m.spec(m.source(req).mapping())
	if !ok || !c.NeedsFetch() {
		return nil, nil
	}
	doc, err := c.Decode(req)
	if err != nil {
		return nil, err
	}
	return c.NextFetch(doc, fetched)
}

// APIBase returns the default API base of a mapping's fetches ("" when
// it fetches nothing).
func (m *Mapper) APIBase(mappingName string) string {
	if c, ok := m.spec(mappingName); ok {
		return c.spec.APIBase
	}
	return ""
}
