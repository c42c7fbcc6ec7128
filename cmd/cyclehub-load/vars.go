package main

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// varName names a per-request value a template can use.
type varName int

// The variables of a request. Ids marked unique are unique to the request
// across runs; the person's are shared by that person's requests.
const (
	varEmail       varName = iota // the person's email, as a provider might send it
	varFirstName                  // the person's names
	varLastName                   //
	varFullName                   //
	varPhone                      // E.164
	varPhoneDigits                // E.164 without "+" (Webflow posts a number)
	varCompany                    //
	varPersonID                   // the person's numeric id at the provider
	varContactID                  // a 24-hex contact id derived from it (Intercom)
	varSeq                        // unique number
	varUID                        // unique 32-hex string
	varUUID                       // unique UUID
	varNow                        // RFC 3339, seconds, UTC
	varNowMilli                   // RFC 3339 with milliseconds, UTC
	varNowUnix                    // Unix seconds
	varNowMillis                  // Unix milliseconds
	varCampaign                   // a utm_campaign of a small set
	varNPS                        // 0–10
	varMessage                    // free text naming the request
	numVars
)

// numberVar flags a template slot written as a bare number.
const numberVar varName = 1 << 10

var varByName = map[string]varName{
	"email": varEmail, "first_name": varFirstName, "last_name": varLastName, "full_name": varFullName,
	"phone": varPhone, "phone_digits": varPhoneDigits, "company": varCompany, "person_id": varPersonID,
	"contact_id": varContactID, "seq": varSeq, "uid": varUID, "uuid": varUUID, "now": varNow,
	"now_milli": varNowMilli, "now_unix": varNowUnix, "now_millis": varNowMillis, "campaign": varCampaign,
	"nps": varNPS, "message": varMessage,
}

// values holds one request's variables.
type values [numVars]string

var campaigns = []string{"spring_launch_2025", "br_precos", "nps_marco_2025", "de_beta", "ie_launch", "pl_q1", "retargeting_q2", "webinar_crm"}

// fill sets every variable for a request about p, numbered seq (unique
// in the run, offset by the run's id base), at now.
func (v *values) fill(p person, seq uint64, now time.Time, r *rand.Rand) {
	var uid [16]byte
	for i := range 2 {
		x := r.Uint64()
		for j := range 8 {
			uid[i*8+j] = byte(x >> (8 * j))
		}
	}
	v[varEmail] = asSent(p.Email, r)
	v[varFirstName] = p.First
	v[varLastName] = p.Last
	v[varFullName] = p.Full()
	v[varPhone] = p.Phone
	v[varPhoneDigits] = p.Phone[1:]
	v[varCompany] = p.Company
	v[varPersonID] = strconv.FormatUint(p.ID, 10)
	v[varContactID] = fmt.Sprintf("%024x", mix64(p.ID))
	v[varSeq] = strconv.FormatUint(seq, 10)
	v[varUID] = hex.EncodeToString(uid[:])
	uid[6] = uid[6]&0x0f | 0x40 // version 4
	uid[8] = uid[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(uid[:])
	v[varUUID] = h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	now = now.UTC()
	v[varNow] = now.Format(time.RFC3339)
	v[varNowMilli] = now.Format("2006-01-02T15:04:05.000Z07:00")
	v[varNowUnix] = strconv.FormatInt(now.Unix(), 10)
	v[varNowMillis] = strconv.FormatInt(now.UnixMilli(), 10)
	v[varCampaign] = campaigns[r.IntN(len(campaigns))]
	v[varNPS] = strconv.Itoa(r.IntN(11))
	v[varMessage] = "Load test request " + v[varSeq] + ": quero uma demonstração do produto."
}
