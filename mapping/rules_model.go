package mapping

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Model is a compiled, validated scoring and lifecycle model. It is
// immutable and safe for concurrent use.
type Model struct {
	Version    string
	fit        []scoreRule
	engagement []scoreRule
	halfLife   time.Duration
	horizon    time.Duration
	groups     map[string]GroupCap
	healthBase float64
	healthRed  float64
	healthYel  float64
	health     []scoreRule
	fitBands   []BandStep
	engBands   []BandStep
	thresholds map[string][]float64
	ladder     map[string]StageDef
	stageRules []stageRule
	status     []statusRule
}

type scoreRule struct {
	id, group string
	when      *vm.Program
	points    *vm.Program
}

type stageRule struct {
	StageRule
	when *vm.Program
}

type statusRule struct {
	StatusRule
	when *vm.Program
}

// CompileModel merges a directory's rule files (by file name) and compiles
// the model. Every problem is returned, prefixed by its place: "<file>.yaml:
// <key>" in one file (a rule by its id), "<key>" for the model as a whole.
func CompileModel(files map[string]*RuleFile) (*Model, []error) {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	m := &Model{ladder: map[string]StageDef{}}
	var (
		eng    *EngagementSpec
		health *HealthSpec
		bands  *BandsSpec
	)
	setBy := map[string]string{}
	once := func(file, key string, set bool) bool {
		if !set {
			return false
		}
		if prev, ok := setBy[key]; ok {
			add(file+".yaml:"+key, "already set in %s.yaml: each setting lives in one file", prev)
			return false
		}
		setBy[key] = file
		return true
	}
	names := sortedKeys(files)
	ids := map[string]string{}
	var toCheck [][2]string // stage rules' targets: key, stage
	// ruleKey names a rule by its id, or by its place when it has none.
	ruleKey := func(file, list string, i int, id string) string {
		if id != "" && isSimpleName(id) {
			return fmt.Sprintf("%s.yaml:%s.%s", file, list, id)
		}
		return fmt.Sprintf("%s.yaml:%s[%d]", file, list, i)
	}
	// cond checks a rule's id (set, unique across the model) and compiles
	// its condition; nil when either is wrong.
	cond := func(k, id, when string) *vm.Program {
		bad := false
		if id == "" {
			add(k+".id", "must be set")
			bad = true
		} else if prev, dup := ids[id]; dup {
			add(k+".id", "%q is used twice (also %s)", id, prev)
			bad = true
		}
		ids[id] = k
		w, err := compileCond(when)
		if err != nil {
			add(k+".when", "%v", err)
			return nil
		}
		if bad {
			return nil
		}
		return w
	}
	rule := func(k string, r ScoreRule, group bool) (scoreRule, bool) {
		w := cond(k, r.ID, r.When)
		ok := w != nil
		p, err := compilePoints(r.Points)
		if err != nil {
			add(k+".points", "%v", err)
			ok = false
		}
		if r.Group != "" && !group {
			add(k+".group", "only engagement rules have groups")
		}
		return scoreRule{id: r.ID, group: r.Group, when: w, points: p}, ok
	}
	for _, name := range names {
		f := files[name]
		if once(name, "version", f.Version != "") {
			m.Version = f.Version
		}
		if f.Fit != nil {
			for i, r := range f.Fit.Rules {
				if sr, ok := rule(ruleKey(name, "fit.rules", i, r.ID), r, false); ok {
					m.fit = append(m.fit, sr)
				}
			}
		}
		if f.Engagement != nil {
			e := f.Engagement
			if once(name, "engagement settings", e.HalfLife != 0 || e.Horizon != 0 || len(e.Groups) > 0) {
				eng = e
			}
			for i, r := range e.Rules {
				if sr, ok := rule(ruleKey(name, "engagement.rules", i, r.ID), r, true); ok {
					m.engagement = append(m.engagement, sr)
				}
			}
		}
		if f.Health != nil {
			h := f.Health
			if once(name, "health settings", h.Base != 0 || h.Red != 0 || h.Yellow != 0) {
				health = h
			}
			for i, r := range h.Rules {
				if sr, ok := rule(ruleKey(name, "health.rules", i, r.ID), r, false); ok {
					m.health = append(m.health, sr)
				}
			}
		}
		if f.Bands != nil && once(name, "bands", true) {
			bands = f.Bands
		}
		if f.Stages != nil {
			if once(name, "stages.ladder", len(f.Stages.Ladder) > 0) {
				for i, s := range f.Stages.Ladder {
					k := fmt.Sprintf("%s.yaml:stages.ladder[%d]", name, i)
					switch {
					case !isSimpleName(s.Name):
						add(k+".name", "must be a simple name")
					case s.Rank < 0:
						add(k+".rank", "must be 0 (unranked) or more")
					case !slices.Contains([]string{"", PhaseAcquisition, PhaseQualification, PhaseConversion, PhaseRetention, PhaseAdvocacy}, s.Phase):
						add(k+".phase", "must be acquisition, qualification, conversion, retention or advocacy; got %q", s.Phase)
					}
					if _, dup := m.ladder[s.Name]; dup {
						add(k+".name", "%q is on the ladder twice", s.Name)
					}
					m.ladder[s.Name] = s
				}
			}
			for i, r := range f.Stages.Rules {
				k := ruleKey(name, "stages.rules", i, r.ID)
				w := cond(k, r.ID, r.When)
				if r.Backward && r.Reason == "" {
					add(k+".reason", "a rule that may move back must say why")
				}
				if _, ok := m.ladder[r.To]; !ok && r.To != "" {
					toCheck = append(toCheck, [2]string{k + ".to", r.To})
				} else if r.To == "" {
					add(k+".to", "must name a stage")
				}
				m.stageRules = append(m.stageRules, stageRule{StageRule: r, when: w})
			}
		}
		if f.Status != nil {
			for i, r := range f.Status.Rules {
				k := ruleKey(name, "status.rules", i, r.ID)
				w := cond(k, r.ID, r.When)
				if !slices.Contains([]string{StatusActive, StatusAtRisk, StatusChurned}, r.To) {
					add(k+".to", "must be active, at_risk or churned; got %q", r.To)
				}
				m.status = append(m.status, statusRule{StatusRule: r, when: w})
			}
		}
	}
	// The ladder may come from a later file.
	for _, c := range toCheck {
		if _, ok := m.ladder[c[1]]; !ok {
			add(c[0], "%q is not on the ladder", c[1])
		}
	}
	if len(m.ladder) == 0 {
		add("stages.ladder", "must list the stages")
	}
	if m.Version == "" {
		add("version", "must be set (it rides on every score and stage change)")
	}
	if eng == nil || eng.Horizon <= 0 {
		add("engagement.horizon", "must be set (contributions older than it are dropped)")
	} else {
		m.halfLife, m.horizon, m.groups = eng.HalfLife, eng.Horizon, eng.Groups
		if eng.HalfLife < 0 {
			add("engagement.half_life", "must not be negative")
		}
	}
	if health == nil || health.Red <= 0 || health.Yellow <= health.Red {
		add("health", "base, red and yellow must be set, with 0 < red < yellow")
	} else {
		m.healthBase, m.healthRed, m.healthYel = health.Base, health.Red, health.Yellow
	}
	if bands == nil || len(bands.Fit) == 0 || len(bands.Engagement) == 0 {
		add("bands", "fit grades and engagement levels must be set")
	} else {
		m.fitBands, m.engBands, m.thresholds = sortedBands(bands.Fit), sortedBands(bands.Engagement), bands.Thresholds
		for k := range bands.Thresholds {
			if !slices.Contains([]string{"fit", "engagement", "health"}, k) {
				add("bands.thresholds."+k, "must be fit, engagement or health")
			}
		}
	}
	return m, errs
}

// sortedBands orders steps by descending minimum (the first reached wins).
func sortedBands(steps []BandStep) []BandStep {
	out := slices.Clone(steps)
	slices.SortStableFunc(out, func(a, b BandStep) int {
		switch {
		case a.Min > b.Min:
			return -1
		case a.Min < b.Min:
			return 1
		}
		return 0
	})
	return out
}

// ruleEnv is what rule expressions read.
type ruleEnv struct {
	Event    eventEnv    `expr:"event"`
	Customer customerEnv `expr:"customer"`
	Scores   scoresEnv   `expr:"scores"`
	Now      time.Time   `expr:"now"`
}

// eventEnv is the triggering event (empty in a time-based re-evaluation).
type eventEnv struct {
	Type       string         `expr:"type"`
	Source     string         `expr:"source"`
	Provider   string         `expr:"provider"`
	Properties map[string]any `expr:"properties"`
	Traits     map[string]any `expr:"traits"`
	// Matched lists the engagement rules the event matched so far (stage
	// rules see all of them).
	Matched []string `expr:"matched"`
}

// customerEnv is the customer as rules see it.
type customerEnv struct {
	ID               string         `expr:"id"`
	Stage            string         `expr:"stage"`
	Status           string         `expr:"status"`
	Traits           map[string]any `expr:"traits"`
	DaysSinceCreated float64        `expr:"days_since_created"`
	DaysSinceSeen    float64        `expr:"days_since_seen"`
	DaysInStage      float64        `expr:"days_in_stage"`
	ReferralCount    int            `expr:"referral_count"`
	Referred         bool           `expr:"referred"`
	Tickets90d       int            `expr:"tickets_90d"`
	UrgentTickets90d int            `expr:"urgent_tickets_90d"`
	OpenTickets      int            `expr:"open_tickets"`
	NPS              float64        `expr:"nps"`
	HasNPS           bool           `expr:"has_nps"`
	CSAT             float64        `expr:"csat"`
	HasCSAT          bool           `expr:"has_csat"`
}

// scoresEnv are the scores as rules see them (those computed before).
type scoresEnv struct {
	Fit         float64 `expr:"fit"`
	Engagement  float64 `expr:"engagement"`
	Health      float64 `expr:"health"`
	HealthZone  string  `expr:"health_zone"`
	Band        string  `expr:"band"`
	NPSCategory string  `expr:"nps_category"`
}

var exprOptions = []expr.Option{expr.Env(ruleEnv{}), expr.DisableBuiltin("now"), expr.DisableBuiltin("date")}

func compileCond(src string) (*vm.Program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("must be an expression (true for always)")
	}
	return expr.Compile(src, append(exprOptions, expr.AsBool())...)
}

func compilePoints(src string) (*vm.Program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("must be a number or an expression")
	}
	return expr.Compile(src, append(exprOptions, expr.AsFloat64())...)
}

// traitValues gives rules the traits as a map of any, so a missing trait
// is nil and `??` falls back on the next (a map of strings would give "").
func traitValues(t map[string]string) map[string]any {
	out := make(map[string]any, len(t))
	for k, v := range t {
		out[k] = v
	}
	return out
}

// plainProperties turns exact numbers into float64 so rules can compare
// them (nps_score >= 9).
func plainProperties(p map[string]any) map[string]any {
	out := make(map[string]any, len(p))
	for k, v := range p {
		if n, ok := v.(json.Number); ok {
			if f, err := strconv.ParseFloat(string(n), 64); err == nil {
				out[k] = f
				continue
			}
		}
		out[k] = v
	}
	return out
}

// StageRank returns a stage's rank (0 for unknown or unranked stages).
func (m *Model) StageRank(stage string) int { return m.ladder[stage].Rank }

// HasStage reports whether stage is on the ladder.
func (m *Model) HasStage(stage string) bool {
	_, ok := m.ladder[stage]
	return ok
}

// Phase returns a stage's lifecycle phase.
func (m *Model) Phase(stage string) string { return m.ladder[stage].Phase }
