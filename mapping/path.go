package mapping

import (
	"fmt"
	"strconv"
	"strings"
)

// Path is a compiled selector into a decoded JSON document (or a form,
// seen as an object of strings). Syntax, segments separated by '.':
//
//	name            an object key (a '\.' in a name is a literal dot)
//	name[3]         an array element
//	name[*]         every element (the path yields several values)
//	name[k.j=v]     the first element whose sub-path k.j equals v
//	name[k.j=v][*]  every element matching the filter
//
// A name may be empty before a bracket to index the current value ("[0]").
type Path struct {
	raw  string
	segs []segment
}

type segment struct {
	key    string
	hasKey bool
	// one of the selectors below follows the key (applied in order).
	sels []selector
}

type selector struct {
	index  int
	all    bool
	filter *filter
}

type filter struct {
	path  []string
	value string
	all   bool
}

// ParsePath compiles a selector.
func ParsePath(s string) (Path, error) {
	if strings.TrimSpace(s) == "" {
		return Path{}, fmt.Errorf("empty path")
	}
	var p Path
	p.raw = s
	for _, part := range splitUnescaped(s, '.') {
		seg, err := parseSegment(part)
		if err != nil {
			return Path{}, fmt.Errorf("path %q: %w", s, err)
		}
		p.segs = append(p.segs, seg)
	}
	return p, nil
}

// String returns the path as written.
func (p Path) String() string { return p.raw }

// splitUnescaped splits on sep outside brackets, honouring '\' escapes.
func splitUnescaped(s string, sep byte) []string {
	var (
		parts []string
		cur   strings.Builder
		depth int
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			continue
		case c == '[':
			depth++
		case c == ']':
			depth--
		case c == sep && depth == 0:
			parts = append(parts, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	return append(parts, cur.String())
}

func parseSegment(part string) (segment, error) {
	var seg segment
	i := strings.IndexByte(part, '[')
	if i < 0 {
		if part == "" {
			return seg, fmt.Errorf("empty segment")
		}
		return segment{key: part, hasKey: true}, nil
	}
	if i > 0 {
		seg.key, seg.hasKey = part[:i], true
	}
	rest := part[i:]
	for rest != "" {
		if rest[0] != '[' {
			return seg, fmt.Errorf("unexpected %q after a bracket", rest)
		}
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return seg, fmt.Errorf("unclosed bracket")
		}
		inner := rest[1:end]
		rest = rest[end+1:]
		switch {
		case inner == "*":
			seg.sels = append(seg.sels, selector{all: true})
		case strings.Contains(inner, "="):
			k, v, _ := strings.Cut(inner, "=")
			f := &filter{path: strings.Split(strings.TrimSpace(k), "."), value: strings.TrimSpace(v)}
			if rest != "" && strings.HasPrefix(rest, "[*]") {
				f.all = true
				rest = rest[3:]
			}
			seg.sels = append(seg.sels, selector{filter: f})
		default:
			n, err := strconv.Atoi(inner)
			if err != nil || n < 0 {
				return seg, fmt.Errorf("bad index %q", inner)
			}
			seg.sels = append(seg.sels, selector{index: n})
		}
	}
	return seg, nil
}

// Eval returns every value the path selects in doc (none when absent).
func (p Path) Eval(doc any) []any {
	cur := []any{doc}
	for _, seg := range p.segs {
		var next []any
		for _, v := range cur {
			if seg.hasKey {
				obj, ok := v.(map[string]any)
				if !ok {
					continue
				}
				child, ok := obj[seg.key]
				if !ok {
					continue
				}
				v = child
			}
			next = append(next, applySelectors(v, seg.sels)...)
		}
		cur = next
		if len(cur) == 0 {
			return nil
		}
	}
	return cur
}

func applySelectors(v any, sels []selector) []any {
	cur := []any{v}
	for _, s := range sels {
		var next []any
		for _, c := range cur {
			arr, ok := c.([]any)
			if !ok {
				continue
			}
			switch {
			case s.all:
				next = append(next, arr...)
			case s.filter != nil:
				for _, e := range arr {
					if matchFilter(e, s.filter) {
						next = append(next, e)
						if !s.filter.all {
							break
						}
					}
				}
			case s.index < len(arr):
				next = append(next, arr[s.index])
			}
		}
		cur = next
	}
	return cur
}

func matchFilter(e any, f *filter) bool {
	v := e
	for _, k := range f.path {
		obj, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = obj[k]; !ok {
			return false
		}
	}
	return ScalarString(v) == f.value
}
