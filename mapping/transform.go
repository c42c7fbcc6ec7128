package mapping

import (
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// transformFunc turns one value into another; "" means absent. An error
// means the request carries a value that is bad input (an NPS of 11), and
// the request is quarantined with the reason.
type transformFunc func(v string, ctx *transformCtx) (string, error)

type transformCtx struct {
	// region is where national phone numbers are read and names are split.
	region string
}

// transforms are the transforms without an argument, by name.
var transforms = map[string]transformFunc{
	"trim":      func(v string, _ *transformCtx) (string, error) { return CleanText(v), nil },
	"lowercase": func(v string, _ *transformCtx) (string, error) { return strings.ToLower(v), nil },
	"uppercase": func(v string, _ *transformCtx) (string, error) { return strings.ToUpper(v), nil },
	// snake writes a name in snake_case ("Order Completed" → order_completed):
	// event names of tracking tools, read in CycleHub's vocabulary.
	"snake": func(v string, _ *transformCtx) (string, error) { return SnakeCase(v), nil },
	"email": func(v string, _ *transformCtx) (string, error) { return NormalizeEmail(v), nil },
	"phone": phoneTransform,
	// phone_plus reads bare international digits (a phone sent as a JSON number).
	"phone_plus": func(v string, ctx *transformCtx) (string, error) { return PhonePlus(v, ctx.region), nil },
	// given_name and family_name split a full name at the surname (see SplitNameSurname).
	"given_name": func(v string, ctx *transformCtx) (string, error) {
		g, _ := SplitNameSurname(v, ctx.region)
		return g, nil
	},
	"family_name": func(v string, ctx *transformCtx) (string, error) {
		_, f := SplitNameSurname(v, ctx.region)
		return f, nil
	},
	"number":   numberTransform,
	"int":      intTransform,
	"epoch_ms": func(v string, _ *transformCtx) (string, error) { return epoch(v, time.Millisecond) },
	"epoch_s":  func(v string, _ *transformCtx) (string, error) { return epoch(v, time.Second) },
	"time":     timeTransform,
	"bool":     boolTransform,
	"nps":      func(v string, _ *transformCtx) (string, error) { return scale(v, "NPS", 0, 10) },
	"csat":     func(v string, _ *transformCtx) (string, error) { return scale(v, "CSAT", 1, 5) },
	"nps_category": func(v string, _ *transformCtx) (string, error) {
		s, err := scale(v, "NPS", 0, 10)
		if err != nil || s == "" {
			return s, err
		}
		return NPSCategory(s), nil
	},
	// csat_label reads satisfaction words and faces (Great, Okay, Bad, 🙂) as 1–5.
	"csat_label":    func(v string, _ *transformCtx) (string, error) { return CSATLabel(v), nil },
	"domain":        domainTransform,
	"country_of":    func(v string, ctx *transformCtx) (string, error) { return CountryOf(v, ctx.region), nil },
	"locale_region": func(v string, _ *transformCtx) (string, error) { return LocaleRegion(v), nil },
	"script_region": func(v string, _ *transformCtx) (string, error) { return ScriptRegion(v), nil },
	// not_junk drops placeholder ids ("0", "-1", "null", "anonymous").
	"not_junk": func(v string, _ *transformCtx) (string, error) {
		if IsJunk(v) {
			return "", nil
		}
		return v, nil
	},
}

// argTransforms take an argument after a colon ("prefix:zendesk:user:").
var argTransforms = map[string]func(arg string) (transformFunc, error){
	// prefix:<text> puts text before the value (namespacing provider ids).
	"prefix": func(arg string) (transformFunc, error) {
		return func(v string, _ *transformCtx) (string, error) { return arg + v, nil }, nil
	},
	// regex:<re> keeps the first capture group of the first match (the
	// whole match without a group); no match gives "".
	"regex": func(arg string) (transformFunc, error) {
		re, err := regexp.Compile(arg)
		if err != nil {
			return nil, err
		}
		return func(v string, _ *transformCtx) (string, error) {
			m := re.FindStringSubmatch(v)
			switch {
			case m == nil:
				return "", nil
			case len(m) > 1:
				return strings.TrimSpace(m[1]), nil
			}
			return strings.TrimSpace(m[0]), nil
		}, nil
	},
}

// transform is one compiled step of a value's transforms.
type transform struct {
	fn transformFunc
	// split, when set, turns each value into several ("split:,").
	split string
}

// compileTransform reads "name" or "name:arg".
func compileTransform(spec string) (transform, error) {
	if fn, ok := transforms[spec]; ok {
		return transform{fn: fn}, nil
	}
	name, arg, hasArg := strings.Cut(spec, ":")
	if name == "split" && hasArg {
		if arg == "" {
			return transform{}, fmt.Errorf("transform %q: split needs a separator", spec)
		}
		return transform{split: arg}, nil
	}
	if mk, ok := argTransforms[name]; ok && hasArg {
		fn, err := mk(arg)
		if err != nil {
			return transform{}, fmt.Errorf("transform %q: %v", spec, err)
		}
		return transform{fn: fn}, nil
	}
	return transform{}, fmt.Errorf("unknown transform %q (known: %s)", spec, strings.Join(Transforms(), ", "))
}

func (t transform) apply(vals []string, ctx *transformCtx) ([]string, error) {
	out := vals[:0:0]
	for _, v := range vals {
		if v == "" {
			continue
		}
		if t.split != "" {
			for _, part := range strings.Split(v, t.split) {
				if p := CleanText(part); p != "" {
					out = append(out, p)
				}
			}
			continue
		}
		s, err := t.fn(v, ctx)
		if err != nil {
			return nil, err
		}
		if s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

// Transforms lists the transform names a spec may use ("name:" ones take
// an argument).
func Transforms() []string {
	names := make([]string, 0, len(transforms)+len(argTransforms)+1)
	for k := range transforms {
		names = append(names, k)
	}
	for k := range argTransforms {
		names = append(names, k+":")
	}
	names = append(names, "split:")
	sort.Strings(names)
	return names
}

func phoneTransform(v string, ctx *transformCtx) (string, error) {
	p, ok := NormalizePhone(v, ctx.region)
	if !ok {
		return "", nil
	}
	return p.E164, nil
}

func numberTransform(v string, _ *transformCtx) (string, error) {
	s := strings.TrimSpace(v)
	if s == "" {
		return "", nil
	}
	s = strings.TrimPrefix(s, "+")
	if !jsonNumber.MatchString(s) {
		return "", fmt.Errorf("%q is not a number", truncate(s, 40))
	}
	return s, nil
}

// jsonNumber is the JSON number grammar: what a number property holds
// exactly (json.Number), however many digits it has.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

func intTransform(v string, _ *transformCtx) (string, error) {
	s := strings.TrimSpace(v)
	if s == "" {
		return "", nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// "10.0" is an integer written as a float.
		f, ok := new(big.Float).SetString(s)
		if !ok || !f.IsInt() {
			return "", fmt.Errorf("%q is not an integer", truncate(s, 40))
		}
		i, acc := f.Int64()
		if acc != big.Exact {
			return "", fmt.Errorf("%q is out of range", truncate(s, 40))
		}
		return strconv.FormatInt(i, 10), nil
	}
	return strconv.FormatInt(n, 10), nil
}

func epoch(v string, unit time.Duration) (string, error) {
	s := strings.TrimSpace(v)
	if s == "" {
		return "", nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return "", fmt.Errorf("%q is not an epoch timestamp", truncate(s, 40))
	}
	var t time.Time
	if unit == time.Millisecond {
		t = time.UnixMilli(n)
	} else {
		t = time.Unix(n, 0)
	}
	return t.UTC().Format(time.RFC3339Nano), nil
}

var timeLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05Z0700",
	"2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05 Z0700", "2006-01-02 15:04:05", "2006-01-02T15:04:05",
	"2006-01-02", time.RFC1123Z, time.RFC1123,
}

func timeTransform(v string, _ *transformCtx) (string, error) {
	s := strings.TrimSpace(v)
	if s == "" {
		return "", nil
	}
	// Epoch numbers: seconds or milliseconds by magnitude.
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > 1e11 {
			return epoch(s, time.Millisecond)
		}
		return epoch(s, time.Second)
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Format(time.RFC3339Nano), nil
		}
	}
	return "", fmt.Errorf("%q is not a recognized date/time", truncate(s, 40))
}

func boolTransform(v string, _ *transformCtx) (string, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "":
		return "", nil
	case "true", "1", "yes", "y", "on", "checked":
		return "true", nil
	case "false", "0", "no", "n", "off":
		return "false", nil
	}
	return "", fmt.Errorf("%q is not a boolean", truncate(v, 40))
}

func domainTransform(v string, _ *transformCtx) (string, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		return s[at+1:], nil
	}
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		return strings.TrimPrefix(u.Hostname(), "www."), nil
	}
	return strings.TrimPrefix(s, "www."), nil
}

// typedValue gives a property its JSON type from its last transform:
// numbers stay exact (json.Number), booleans become bool.
func typedValue(v, last string) any {
	switch last {
	case "number", "int", "nps", "csat":
		return json.Number(v)
	case "bool":
		return v == "true"
	}
	return v
}
