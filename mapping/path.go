package mapping

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Path is a compiled selector path into a decoded JSON document (or a form,
// seen as an object of strings). Syntax, segments separated by '.':
//
//	name            an object key (a '\.' in a name is a literal dot)
//	name[3]         an array element
//	name[*]         every element (the path yields several values)
//	name[k.j=v]     the first element whose sub-path k.j equals v
//	name[k.j=v][*]  every element matching the filter
//	~name           an object key compared loosely: case, spaces, '_' and
//	                '-' ignored ("~email_address" finds "Email Address")
//
// A name may be empty before a bracket to index the current value ("[0]").
type Path struct {
	raw  string
	segs []segment
}

type segment struct {
	key    string
	hasKey bool
	// loose compares keys by looseKey (the ~ prefix).
	loose bool
	// one of the selectors below follows the key (applied in order).
	sels []pathSel
}

type pathSel struct {
	index  int
	all    bool
	filter *filter
}

type filter struct {
	path  []string
	value string
	all   bool
}

// ParsePath compiles a path.
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
		return keySegment(part)
	}
	if i > 0 {
		var err error
		if seg, err = keySegment(part[:i]); err != nil {
			return seg, err
		}
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
			seg.sels = append(seg.sels, pathSel{all: true})
		case strings.Contains(inner, "="):
			k, v, _ := strings.Cut(inner, "=")
			f := &filter{path: strings.Split(strings.TrimSpace(k), "."), value: strings.TrimSpace(v)}
			if rest != "" && strings.HasPrefix(rest, "[*]") {
				f.all = true
				rest = rest[3:]
			}
			seg.sels = append(seg.sels, pathSel{filter: f})
		default:
			n, err := strconv.Atoi(inner)
			if err != nil || n < 0 {
				return seg, fmt.Errorf("bad index %q", inner)
			}
			seg.sels = append(seg.sels, pathSel{index: n})
		}
	}
	return seg, nil
}

func keySegment(key string) (segment, error) {
	if k, ok := strings.CutPrefix(key, "~"); ok {
		if looseKey(k) == "" {
			return segment{}, fmt.Errorf("empty loose key %q", key)
		}
		return segment{key: looseKey(k), hasKey: true, loose: true}, nil
	}
	return segment{key: key, hasKey: true}, nil
}

// looseKey folds a field name for loose comparison: lowercase letters and
// digits only ("E-mail Address" → "emailaddress").
func looseKey(k string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(k) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// looseEqual reports whether looseKey(k) == folded, without allocating
// (it runs for every key of every object a loose path reads).
func looseEqual(k, folded string) bool {
	j := 0
	for _, r := range k {
		if r < utf8.RuneSelf {
			switch {
			case 'A' <= r && r <= 'Z':
				r += 'a' - 'A'
			case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			default:
				continue
			}
		} else {
			r = unicode.ToLower(r)
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				continue
			}
		}
		f, n := utf8.DecodeRuneInString(folded[j:])
		if n == 0 || f != r {
			return false
		}
		j += n
	}
	return j == len(folded)
}

// child returns obj's value for the segment's key; a loose key takes the
// first matching key in sorted order, so the choice is stable.
func (seg segment) child(obj map[string]any) (any, bool) {
	if !seg.loose {
		v, ok := obj[seg.key]
		return v, ok
	}
	best, found := "", false
	for k := range obj {
		if looseEqual(k, seg.key) && (!found || k < best) {
			best, found = k, true
		}
	}
	if !found {
		return nil, false
	}
	return obj[best], true
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
				child, ok := seg.child(obj)
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

func applySelectors(v any, sels []pathSel) []any {
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
