package mapping

import "time"

// RuleFile is one file of the scoring and lifecycle model
// (configs/rules/*.yaml). A model is the union of its directory's files:
// rule lists are concatenated in file-name order; each setting may be set
// in one file only.
type RuleFile struct {
	// Version names the model; it rides on every score and stage change.
	Version    string          `yaml:"version"`
	Fit        *FitSpec        `yaml:"fit"`
	Engagement *EngagementSpec `yaml:"engagement"`
	Health     *HealthSpec     `yaml:"health"`
	Bands      *BandsSpec      `yaml:"bands"`
	Stages     *StagesSpec     `yaml:"stages"`
	Status     *StatusSpec     `yaml:"status"`
}

// ScoreRule gives points when its condition holds. When and Points are
// expressions (expr-lang) over event, customer, scores and now; Points may
// be a plain number.
type ScoreRule struct {
	ID     string `yaml:"id"`
	When   string `yaml:"when"`
	Points string `yaml:"points"`
	// Group names an engagement group whose caps apply.
	Group string `yaml:"group"`
}

// FitSpec scores who the person is (0–100, no decay): the sum of the
// points of every rule that holds on the customer now.
type FitSpec struct {
	Rules []ScoreRule `yaml:"rules"`
}

// EngagementSpec scores what the person does (0–100): each event earns
// the points of the rules it matches; points fade with age.
type EngagementSpec struct {
	// HalfLife halves a contribution's points every period (DOMAIN.md:
	// 30 days); zero means no decay: with Horizon, a rolling window.
	HalfLife time.Duration `yaml:"half_life"`
	// Horizon drops contributions older than this (90 days): with no
	// half-life it is a rolling window.
	Horizon time.Duration `yaml:"horizon"`
	// Groups cap the points of a group of rules (page views: 10 a day).
	Groups map[string]GroupCap `yaml:"groups"`
	Rules  []ScoreRule         `yaml:"rules"`
}

// GroupCap bounds a group's points per day and in total (0: no cap).
type GroupCap struct {
	PerDay float64 `yaml:"per_day"`
	Total  float64 `yaml:"total"`
}

// HealthSpec scores how a customer is doing (0–100): Base plus the points
// of every rule that holds (support load, NPS/CSAT, recency).
type HealthSpec struct {
	Base float64 `yaml:"base"`
	// Red and Yellow are the upper bounds of those zones (≤ 50 red, ≤ 75
	// yellow, above green): scores.health_zone, and a zone change
	// publishes score_changed.
	Red    float64     `yaml:"red"`
	Yellow float64     `yaml:"yellow"`
	Rules  []ScoreRule `yaml:"rules"`
}

// BandsSpec grades fit (A, B, C) and engagement (1, 2, 3) into a band
// (A1 … C3): the first grade or level whose minimum the score reaches.
type BandsSpec struct {
	Fit        []BandStep `yaml:"fit"`
	Engagement []BandStep `yaml:"engagement"`
	// Thresholds are score values whose crossing publishes score_changed
	// (besides a band or health zone change): {fit: [50], engagement: [40]}.
	Thresholds map[string][]float64 `yaml:"thresholds"`
}

// BandStep is a grade and the minimum score that earns it.
type BandStep struct {
	Name string  `yaml:"name"`
	Min  float64 `yaml:"min"`
}

// StagesSpec is the lifecycle ladder and the rules that move people on it.
type StagesSpec struct {
	// Ladder lists the stages with their rank (higher is further) and
	// phase; rank 0 is unranked (other): no rule moves a person out of it
	// automatically.
	Ladder []StageDef  `yaml:"ladder"`
	Rules  []StageRule `yaml:"rules"`
}

// StageDef is one stage of the ladder.
type StageDef struct {
	Name  string `yaml:"name"`
	Rank  int    `yaml:"rank"`
	Phase string `yaml:"phase"`
}

// StageRule moves a person to a stage when it holds. Automatic moves go
// forward only; a rule marked Backward may move back, and says why.
type StageRule struct {
	ID       string `yaml:"id"`
	To       string `yaml:"to"`
	When     string `yaml:"when"`
	Backward bool   `yaml:"backward"`
	Reason   string `yaml:"reason"`
}

// StatusSpec sets customer_status (active, at_risk, churned): the first
// rule that holds wins; customers no rule matches are active.
type StatusSpec struct {
	Rules []StatusRule `yaml:"rules"`
}

// StatusRule sets a status when it holds.
type StatusRule struct {
	ID   string `yaml:"id"`
	To   string `yaml:"to"`
	When string `yaml:"when"`
}
