package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
)

// person is who a request is about. Everything is derived from the run and
// the person's index, so a repeat carries the same identifiers as the
// first request (and resolves to the same customer), while two people
// share none: not the email, the phone, nor any provider's contact id.
type person struct {
	// Index numbers the people of this run from 0.
	Index int
	First string
	Last  string
	// Email is unique to the person and the run, lowercase.
	Email string
	// Phone is a valid Brazilian mobile number in E.164, unique in the run.
	Phone   string
	Company string
	// ID is the person's numeric id at the providers (Zendesk requester,
	// Help Scout customer, Delighted person, …), unique across runs.
	ID uint64
}

// Full is the name as one string.
func (p person) Full() string { return p.First + " " + p.Last }

// name is one name of the pool, with the ASCII form used in emails.
type name struct{ first, last, asciiFirst, asciiLast string }

// names are the locales of the shared samples and a few more.
var names = []name{
	{"Ana", "Lima", "ana", "lima"},
	{"Maria", "da Conceição Souza", "maria", "souza"},
	{"João Pedro", "Araújo", "joao.pedro", "araujo"},
	{"Letícia", "Magalhães", "leticia", "magalhaes"},
	{"Chloé", "Dubois", "chloe", "dubois"},
	{"Jürgen", "Weiß", "juergen", "weiss"},
	{"Aoife", "Ní Bhriain", "aoife", "nibhriain"},
	{"Ingrid", "Björk", "ingrid", "bjork"},
	{"Mehmet", "Yılmaz", "mehmet", "yilmaz"},
	{"Beatriz", "Gonçalves", "beatriz", "goncalves"},
	{"Marta", "Kowalska", "marta", "kowalska"},
	{"Kenji", "Watanabe", "kenji", "watanabe"},
	{"Thị Hoa", "Nguyễn", "hoa", "nguyen"},
	{"Priya", "Sharma", "priya", "sharma"},
	{"Lucas", "Martins", "lucas", "martins"},
	{"Sofia", "Rossi", "sofia", "rossi"},
}

var companies = []string{
	"Lima Consultoria Ltda", "Souza & Filhos Comércio", "Araújo Transportes", "Ceol Labs",
	"Björk Design AB", "Yılmaz Lojistik A.Ş.", "Nordlys AB", "Sen Vàng Co.", "Wróbel & Syn Sp. z o.o.",
	"Watanabe Kenji Design", "Rossi Meccanica S.r.l.", "Martins Agro",
}

// domains are reserved example domains (RFC 2606), so no mail can leave.
var domains = []string{"example.com", "example.org", "example.net"}

// people hands out the people of one run: new ones in order, and repeats
// of those already handed out.
type people struct {
	// tag makes emails unique to the run; idBase and phoneBase offset the
	// numeric ids and phone numbers of the run.
	tag       string
	idBase    uint64
	phoneBase uint64
	// repeatShare is the share of picks that return an earlier person.
	repeatShare float64
	next        atomic.Int64
}

// newPeople returns the people of a run seeded by seed.
func newPeople(seed uint64, repeatShare float64) *people {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	return &people{
		tag: fmt.Sprintf("%05x", r.Uint64N(1<<20)),
		// 2^31 runs of 2^21 ids each, below 2^53 (exact as JSON numbers).
		idBase:      (r.Uint64N(1<<31) + 1) << 21,
		phoneBase:   r.Uint64N(90_000_000),
		repeatShare: repeatShare,
	}
}

// pick returns the person for the next request: an earlier one with
// probability repeatShare (when there is one), else a new one.
func (ps *people) pick(r *rand.Rand) (p person, repeat bool) {
	if n := ps.next.Load(); n > 0 && r.Float64() < ps.repeatShare {
		return ps.get(int(r.Int64N(n))), true
	}
	return ps.get(int(ps.next.Add(1) - 1)), false
}

// get returns person i of the run.
func (ps *people) get(i int) person {
	h := mix64(ps.idBase ^ uint64(i))
	n := names[h%uint64(len(names))]
	return person{
		Index:   i,
		First:   n.first,
		Last:    n.last,
		Email:   fmt.Sprintf("%s.%s.%s%d@%s", n.asciiFirst, n.asciiLast, ps.tag, i, domains[(h>>8)%uint64(len(domains))]),
		Phone:   fmt.Sprintf("+55119%08d", 10_000_000+(ps.phoneBase+uint64(i))%90_000_000),
		Company: companies[(h>>16)%uint64(len(companies))],
		ID:      ps.idBase + uint64(i),
	}
}

// created is how many people were handed out.
func (ps *people) created() int { return int(ps.next.Load()) }

// asSent is the email as a provider might send it: sometimes with capitals
// or stray spaces, which the daemon normalizes.
func asSent(email string, r *rand.Rand) string {
	switch r.IntN(8) {
	case 0:
		local, domain, _ := strings.Cut(email, "@")
		return strings.ToUpper(local[:1]) + local[1:] + "@" + strings.ToUpper(domain[:1]) + domain[1:]
	case 1:
		return " " + email
	default:
		return email
	}
}

// mix64 is SplitMix64's finalizer: a cheap, well-spread hash.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
