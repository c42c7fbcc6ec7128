package configs

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/webhooks"
)

// LoadMappings reads every <name>.yaml in dir as a declarative mapping,
// strictly, and compiles it; the result is keyed by name. A provider's
// default mapping is named as the provider; others (a second form of the
// same provider) are named freely and chosen by a source's mapping key.
// The error lists every problem of every file, each prefixed by the file
// name.
func LoadMappings(dir string) (map[string]*mapping.Compiled, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	out := map[string]*mapping.Compiled{}
	var errs Errors
	for _, f := range files {
		c, fileErrs := loadMapping(f)
		name := "mappings/" + filepath.Base(f)
		for _, e := range fileErrs {
			var fe Errors
			if errors.As(e, &fe) {
				for _, x := range fe {
					x.Path = joinPath(name, x.Path)
					errs = append(errs, x)
				}
				continue
			}
			errs.Add(name, "%v", e)
		}
		if c == nil {
			continue
		}
		provider := c.Spec().Provider
		if _, known := webhooks.Providers()[provider]; !known {
			errs.Add(name+".provider", "unknown provider %q", provider)
			continue
		}
		out[strings.TrimSuffix(filepath.Base(f), ".yaml")] = c
	}
	if err := errs.sorted().Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func loadMapping(path string) (*mapping.Compiled, []error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, []error{err}
	}
	var spec mapping.Spec
	// Mapping files take no ${ENV}: braces are template placeholders.
	if err := decodeNoEnv(data, &spec); err != nil {
		return nil, []error{err}
	}
	c, cerrs := spec.Compile()
	if len(cerrs) > 0 {
		var errs Errors
		for _, e := range cerrs {
			key, msg, _ := strings.Cut(e.Error(), ": ")
			errs.Add(key, "%s", msg)
		}
		return nil, []error{errs}
	}
	return c, nil
}

func joinPath(prefix, p string) string {
	if p == "" {
		return prefix
	}
	return prefix + "." + p
}

// decodeNoEnv is Decode with environment expansion disabled: every
// "${…}" stays literal.
func decodeNoEnv(data []byte, out any) error {
	escaped := strings.ReplaceAll(string(data), "$", "$$")
	return Decode([]byte(escaped), out, func(string) (string, bool) { return "", false })
}

// relativeToConfig resolves a directory named in the config file against
// the file's own directory.
func relativeToConfig(configPath, dir string) string {
	if filepath.IsAbs(dir) {
		return dir
	}
	return filepath.Join(filepath.Dir(configPath), dir)
}
