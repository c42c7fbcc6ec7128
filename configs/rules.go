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
					x.Path = name + ":" + x.Path
					errs = append(errs, x)
				}
				continue
			}
			errs.Add(name, "%v", err)
			continue
		}
		files[strings.TrimSuffix(filepath.Base(p), ".yaml")] = &f
	}
	// Compile what decoded too, so every problem is listed at once; the
	// settings of model.yaml are read by the other files, so without them
	// their problems would be noise.
	broken := len(errs) > 0
	if _, ok := files["model"]; ok || !broken {
		m, cerrs := mapping.CompileModel(files)
		for _, e := range cerrs {
			key, msg, _ := strings.Cut(e.Error(), ": ")
			if strings.Contains(key, ".yaml:") {
				errs.Add("rules/"+key, "%s", msg) // rules/fit.yaml:fit.rules.seniority.when
			} else {
				errs.Add("rules:"+key, "%s", msg) // the model as a whole
			}
		}
		if !broken && len(cerrs) == 0 {
			return m, nil
		}
	}
	return nil, errs.sorted().Err()
}
