package main

import (
	"encoding/json"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"

	"github.com/cyclehub/cyclehub/mapping"
)

func TestTemplates(t *testing.T) {
	var vals values
	vals[varEmail] = `ana"lima\@example.com`
	vals[varFullName] = "Ana\nConceição 👏"
	vals[varSeq] = "4503599627370497"
	vals[varNPS] = "7"

	t.Run("JSON fields take escaped strings and bare numbers", func(t *testing.T) {
		tpl, err := jsonTemplate([]byte(`{"a":{"email":"x","n":1,"list":[{"id":0}]},"name":"y","keep":"z"}`), []patch{
			{"a.email", "{email}"}, {"a.n", "{#nps}"}, {"a.list.0.id", "{#seq}"}, {"name", "Dr. {full_name} ({seq})"},
		})
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			A struct {
				Email string
				N     json.Number
				List  []struct{ ID json.Number }
			}
			Name, Keep string
		}
		body := tpl.render(nil, &vals)
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.UseNumber()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		if got.A.Email != vals[varEmail] || got.A.N != "7" || got.A.List[0].ID != "4503599627370497" ||
			got.Name != "Dr. "+vals[varFullName]+" (4503599627370497)" || got.Keep != "z" {
			t.Fatalf("rendered %s", body)
		}
	})
	t.Run("form fields are query-escaped, and absent ones added", func(t *testing.T) {
		tpl, err := formTemplate("email=x&utm_source=google", []patch{{"email", "{email}"}, {"message", "{full_name}"}})
		if err != nil {
			t.Fatal(err)
		}
		q, err := url.ParseQuery(string(tpl.render(nil, &vals)))
		if err != nil || q.Get("email") != vals[varEmail] || q.Get("message") != vals[varFullName] || q.Get("utm_source") != "google" {
			t.Fatalf("rendered %v, %v", q, err)
		}
	})
	for _, tc := range []struct {
		name    string
		patches []patch
		want    string
	}{
		{"a path missing from the sample is an error", []patch{{"a.nope", "{email}"}}, "no a.nope"},
		{"an index past the end is an error", []patch{{"list.3", "{email}"}}, "no list.3"},
		{"an unknown variable is an error", []patch{{"a", "{nosuch}"}}, "unknown variable"},
		{"a number must be the whole value", []patch{{"a", "n{#seq}"}}, "whole value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jsonTemplate([]byte(`{"a":"x","list":[1]}`), tc.patches)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// People have valid, unique identifiers, and repeats come at about the
// share asked for.
func TestPeople(t *testing.T) {
	ps := newPeople(3, 0.25)
	r := rand.New(rand.NewPCG(1, 1))
	emails, phones := map[string]bool{}, map[string]bool{}
	repeats := 0
	const n = 20000
	for range n {
		p, repeat := ps.pick(r)
		if repeat {
			repeats++
			if q := ps.get(p.Index); q != p {
				t.Fatalf("a repeat differs from its person: %+v vs %+v", p, q)
			}
			continue
		}
		if emails[p.Email] || phones[p.Phone] {
			t.Fatalf("person %d shares an email or phone: %s %s", p.Index, p.Email, p.Phone)
		}
		emails[p.Email], phones[p.Phone] = true, true
		if ph, ok := mapping.NormalizePhone(p.Phone, ""); !ok || ph.E164 != p.Phone || ph.Type != "mobile" {
			t.Fatalf("phone %s: %+v %v", p.Phone, ph, ok)
		}
		if p.ID >= 1<<53 {
			t.Fatalf("id %d is not exact as a JSON number", p.ID)
		}
	}
	if share := float64(repeats) / n; share < 0.23 || share > 0.27 {
		t.Fatalf("repeat share %.3f, want about 0.25", share)
	}
	if other := newPeople(4, 0); other.get(0).Email == ps.get(0).Email {
		t.Fatal("two runs share an email")
	}
}
