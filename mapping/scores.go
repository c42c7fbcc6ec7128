package mapping

import (
	"fmt"
	"strconv"
	"strings"
)

// NPSCategory classifies a valid 0–10 score: promoter (9–10), passive
// (7–8) or detractor (0–6).
func NPSCategory(score string) string {
	n, _ := strconv.Atoi(score)
	switch {
	case n >= 9:
		return "promoter"
	case n >= 7:
		return "passive"
	default:
		return "detractor"
	}
}

// scale checks that v is an integer within lo..hi. A value outside the
// scale is bad input (quarantined with the reason), never clamped.
func scale(v, name string, lo, hi int64) (string, error) {
	s, err := intTransform(v, nil)
	if err != nil || s == "" {
		return s, err
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	if n < lo || n > hi {
		return "", fmt.Errorf("%s score %d is outside its scale %d..%d", name, n, lo, hi)
	}
	return s, nil
}

// csatLabels maps the words, faces and thumbs of satisfaction surveys to
// the 1–5 CSAT scale (Help Scout ratings Great/Okay/Bad, faces
// Happy/Neutral/Sad, thumbs up/down).
var csatLabels = map[string]string{
	"very satisfied": "5", "excellent": "5", "great": "5", "amazing": "5", "awesome": "5", "very good": "5",
	"happy": "5", "thumbs up": "5", "👍": "5", "😀": "5", "😃": "5", "😄": "5", "😍": "5",
	"satisfied": "4", "good": "4", "🙂": "4",
	"neutral": "3", "okay": "3", "ok": "3", "average": "3", "😐": "3",
	"dissatisfied": "2", "unsatisfied": "2", "poor": "2", "😕": "2",
	"very dissatisfied": "1", "very unsatisfied": "1", "bad": "1", "very bad": "1", "terrible": "1",
	"awful": "1", "sad": "1", "thumbs down": "1", "👎": "1", "🙁": "1", "☹": "1", "😞": "1", "😠": "1", "😡": "1",
}

// CSATLabel turns a satisfaction label into a 1–5 score; a number passes
// through (for the csat transform to check); an unknown label gives "".
func CSATLabel(v string) string {
	s := strings.ToLower(strings.Join(strings.Fields(strings.ReplaceAll(v, "\ufe0f", "")), " "))
	if s == "" {
		return ""
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return s
	}
	return csatLabels[s]
}
