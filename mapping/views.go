package mapping

import (
	"slices"
	"sort"
	"strconv"
	"strings"
)

// viewFunc computes a document from fetched ones (nil when absent). Views
// exist where a provider splits one answer across two API responses (an
// answer names a question id, the form names the question), which paths
// alone cannot join.
type viewFunc func(docs ...any) any

var viewFuncs = map[string]viewFunc{
	"linkedin_answers":     linkedInAnswers,
	"surveymonkey_answers": surveyMonkeyAnswers,
	"qualtrics_answers":    qualtricsAnswers,
}

// ViewFuncs lists the view functions a spec may use.
func ViewFuncs() []string {
	names := make([]string, 0, len(viewFuncs))
	for k := range viewFuncs {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func str(v any) string {
	if v == nil {
		return ""
	}
	if _, isObj := v.(map[string]any); isObj {
		return ""
	}
	return CleanText(ScalarString(v))
}

// linkedInAnswers joins a LinkedIn lead form response
// (GET /rest/leadFormResponses/{id}) to its versioned form
// (GET /rest/leadForms/{id}): {"EMAIL": "…", "FIRST_NAME": "…", "<custom
// question name>": "…"}. Predefined fields are keyed by predefinedField,
// custom questions by their name; a multiple-choice answer gives its
// options' text joined with ", ". Without the form, answers are keyed by
// question id.
func linkedInAnswers(docs ...any) any {
	resp, form := obj(at(docs, 0)), obj(at(docs, 1))
	if resp == nil {
		return nil
	}
	type question struct {
		key     string
		options map[string]string
	}
	questions := map[string]question{}
	content := obj(form["content"])
	for _, q := range list(content["questions"]) {
		qm := obj(q)
		id := str(qm["questionId"])
		if id == "" {
			continue
		}
		key := str(qm["predefinedField"])
		if key == "" {
			key = str(qm["name"])
		}
		if key == "" {
			key = id
		}
		opts := map[string]string{}
		details := obj(qm["questionDetails"])
		for _, kind := range []string{"multipleChoiceQuestionDetails", "textQuestionDetails"} {
			for _, o := range list(obj(details[kind])["options"]) {
				om := obj(o)
				opts[str(om["id"])] = localized(om["text"])
			}
		}
		questions[id] = question{key: key, options: opts}
	}
	out := map[string]any{}
	answers := list(obj(resp["formResponse"])["answers"])
	for _, a := range answers {
		am := obj(a)
		id := str(am["questionId"])
		q, ok := questions[id]
		if !ok {
			q = question{key: id}
		}
		details := obj(am["answerDetails"])
		if t := str(obj(details["textQuestionAnswer"])["answer"]); t != "" {
			out[q.key] = t
			continue
		}
		var chosen []string
		for _, o := range list(obj(details["multipleChoiceAnswer"])["options"]) {
			if text := q.options[str(o)]; text != "" {
				chosen = append(chosen, text)
			} else {
				chosen = append(chosen, str(o))
			}
		}
		if len(chosen) > 0 {
			out[q.key] = strings.Join(chosen, ", ")
		}
	}
	return out
}

// localized reads LinkedIn's {"localized": {"en_US": "…"}} text (the
// first locale, by name, for a stable answer).
func localized(v any) string {
	if s := str(v); s != "" {
		return s
	}
	loc := obj(obj(v)["localized"])
	keys := make([]string, 0, len(loc))
	for k := range loc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if s := str(loc[k]); s != "" {
			return s
		}
	}
	return ""
}

// surveyMonkeyAnswers joins a SurveyMonkey response
// (GET /v3/surveys/{id}/responses/{id}/details) to the survey
// (GET /v3/surveys/{id}/details):
//
//	{"questions": {"<heading>": "<answer>"}, "rows": {"<row text>": "<answer>"},
//	 "nps": "<0–10>", "nps_question": "<heading>", "comment": "<first essay answer>"}
//
// A choice answer gives the choice's text (simple_text when the response
// has it); the NPS question is the first whose choices are exactly 0–10.
func surveyMonkeyAnswers(docs ...any) any {
	resp, survey := obj(at(docs, 0)), obj(at(docs, 1))
	if resp == nil {
		return nil
	}
	type question struct {
		heading, family, subtype string
		choices, rows            map[string]string
		nps                      bool
	}
	questions := map[string]*question{}
	for _, p := range list(survey["pages"]) {
		for _, q := range list(obj(p)["questions"]) {
			qm := obj(q)
			sq := &question{family: str(qm["family"]), subtype: str(qm["subtype"]), choices: map[string]string{}, rows: map[string]string{}}
			for _, h := range list(qm["headings"]) {
				if sq.heading = str(obj(h)["heading"]); sq.heading != "" {
					break
				}
			}
			ans := obj(qm["answers"])
			var texts []string
			for _, c := range list(ans["choices"]) {
				cm := obj(c)
				sq.choices[str(cm["id"])] = str(cm["text"])
				texts = append(texts, str(cm["text"]))
			}
			for _, r := range list(ans["rows"]) {
				rm := obj(r)
				sq.rows[str(rm["id"])] = str(rm["text"])
			}
			sq.nps = isZeroToTen(texts)
			questions[str(qm["id"])] = sq
		}
	}
	byHeading, rows := map[string]any{}, map[string]any{}
	out := map[string]any{"questions": byHeading, "rows": rows}
	for _, p := range list(resp["pages"]) {
		for _, q := range list(obj(p)["questions"]) {
			qm := obj(q)
			sq := questions[str(qm["id"])]
			if sq == nil {
				sq = &question{}
			}
			var texts []string
			for _, a := range list(qm["answers"]) {
				am := obj(a)
				text := str(am["simple_text"])
				if text == "" && str(am["choice_id"]) != "" {
					text = sq.choices[str(am["choice_id"])]
				}
				if text == "" {
					text = str(am["text"])
				}
				if text == "" {
					continue
				}
				if row := sq.rows[str(am["row_id"])]; row != "" && str(am["choice_id"]) == "" {
					rows[row] = text
					continue
				}
				texts = append(texts, text)
			}
			if len(texts) == 0 {
				continue
			}
			answer := strings.Join(texts, ", ")
			if sq.heading != "" {
				byHeading[sq.heading] = answer
			}
			switch {
			case sq.nps && out["nps"] == nil:
				out["nps"], out["nps_question"] = texts[0], sq.heading
			case sq.family == "open_ended" && sq.subtype == "essay" && out["comment"] == nil:
				out["comment"] = answer
			}
		}
	}
	return out
}

// isZeroToTen reports choices that are exactly the numbers 0 to 10.
func isZeroToTen(texts []string) bool {
	if len(texts) != 11 {
		return false
	}
	var nums []int
	for _, t := range texts {
		n, err := strconv.Atoi(strings.TrimSpace(t))
		if err != nil {
			return false
		}
		nums = append(nums, n)
	}
	slices.Sort(nums)
	for i, n := range nums {
		if n != i {
			return false
		}
	}
	return true
}

// qualtricsAnswers reads a Qualtrics response
// (GET /API/v3/surveys/{sid}/responses/{rid}): its result.values (embedded
// data, recipientEmail, QIDs…) with each QID's label where one exists,
// plus "nps" and "nps_question": the first question Qualtrics groups as NPS
// (it adds <QID>_NPS_GROUP beside an NPS answer).
func qualtricsAnswers(docs ...any) any {
	result := obj(obj(at(docs, 0))["result"])
	if result == nil {
		return nil
	}
	values, labels := obj(result["values"]), obj(result["labels"])
	out := map[string]any{}
	keys := make([]string, 0, len(values))
	for k, v := range values {
		out[k] = v
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if qid, ok := strings.CutSuffix(k, "_NPS_GROUP"); ok {
			if v := str(values[qid]); v != "" {
				out["nps"], out["nps_question"] = v, qid
				break
			}
		}
	}
	for k, v := range labels {
		if s := str(v); s != "" {
			out[k+"_label"] = s
		}
	}
	return out
}

func at(docs []any, i int) any {
	if i < len(docs) {
		return docs[i]
	}
	return nil
}
