package configs

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cyclehub/cyclehub/mapping"
)

// LoadRules reads every *.yaml in dir as part of the scoring and lifecycle
// model, strictly, and compiles the model. The error lists every problem
// of every file.
func LoadRules(dir string) (*mapping.Model, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	if len(paths) == 0 {
		return nil, Errors{{Path: "rules_dir", Msg: "no rule files (*.yaml) in " + dir}}
	}
	var errs Errors
	files := map[string]*mapping.RuleFile{}
	for _, p := range paths {
		name := "rules/" + filepath.Base(p)
		data, err := os.ReadFile(p)
		if err != nil {
			errs.Add(name, "%v", err)
			continue
		}
		var f mapping.RuleFile
		// Rule files take no ${ENV}: expressions are code, not settings.
		if err := decodeNoEnv(data, &f); err != nil {
			var fe Errors
			if errors.As(err, &fe) {
				for _, x := range fe {
					x.Path = joinPath(name, x.Path)
					errs = append(errs, x)
				}
				continue
			}
			errs.Add(name, "%v", err)
			continue
		}
		files[strings.TrimSuffix(filepath.Base(p), ".yaml")] = &f
	}
	if len(errs) > 0 {
		return nil, errs.sorted().Err()
	}
	m, cerrs := mapping.CompileModel(files)
	for _, e := range cerrs {
		key, msg, _ := strings.Cut(e.Error(), ": ")
		errs.Add("rules/"+key, "%s", msg)
	}
	if err := errs.sorted().Err(); err != nil {
		return nil, err
	}
	return m, nil
}
