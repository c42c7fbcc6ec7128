package main

import (
	"slices"
	"strings"
)

// providerSpec says how requests of one provider type are built from its
// shared sample: which fields change per request, which headers are set
// per request, and the provider's weight in the default mix.
type providerSpec struct {
	// family groups providers in --mix (forms, ads, support, surveys).
	family string
	// fixture is the sample's path under --fixtures.
	fixture string
	// form: the body is application/x-www-form-urlencoded.
	form bool
	// patches replace sample fields with the request's variables.
	patches []patch
	// headers are set per request, after the sample's own.
	headers map[string]string
	// weight is the provider's share in the default mix, in percent.
	weight int
}

// supported are the providers whose webhooks carry the lead inline (or,
// for Zendesk trigger webhooks, whose mapping fetches nothing), so the dev
// config processes them without calling a provider's API.
var supported = map[string]providerSpec{
	"form": {
		family: "forms", fixture: "web_forms/html-form-basic-utm.json", form: true, weight: 20,
		patches: []patch{
			{"first_name", "{first_name}"}, {"last_name", "{last_name}"}, {"email", "{email}"},
			{"phone", "{phone}"}, {"company", "{company}"}, {"message", "{message}"},
			{"utm_campaign", "{campaign}"}, {"gclid", "Cj0KCQjw-{uid}"},
		},
	},
	"webflow": {
		family: "forms", fixture: "web_forms/webflow-form_submission.json", weight: 8,
		patches: []patch{
			{"payload.id", "{uid}"}, {"payload.submittedAt", "{now_milli}"},
			{"payload.data.First Name", "{first_name}"}, {"payload.data.Last Name", "{last_name}"},
			{"payload.data.email", "{email}"}, {"payload.data.Phone Number", "{#phone_digits}"},
			{"payload.data.Company", "{company}"}, {"payload.data.utm_campaign", "{campaign}"},
		},
	},
	"tally": {
		family: "forms", fixture: "web_forms/tally-form_response.json", weight: 7,
		patches: []patch{
			{"eventId", "{uuid}"}, {"createdAt", "{now_milli}"},
			{"data.responseId", "{uid}"}, {"data.submissionId", "{uid}"}, {"data.respondentId", "r{person_id}"},
			{"data.createdAt", "{now_milli}"},
			{"data.fields.0.value", "{full_name}"}, {"data.fields.1.value", "{email}"},
			{"data.fields.2.value", "{phone}"}, {"data.fields.3.value", "{company}"},
			{"data.fields.4.value", "{#nps}"}, {"data.fields.7.value", "{campaign}"},
		},
	},
	"google_ads": {
		// google_key is set per source from its secret (source.go).
		family: "ads", fixture: "ads/google-ads-lead-basic.json", weight: 15,
		patches: []patch{
			{"lead_id", "TeSTleAD-{uid}"}, {"lead_submit_time", "{now}"}, {"gcl_id", "EAIaIQobChMI-{uid}"},
			{"user_column_data.0.string_value", "{full_name}"}, {"user_column_data.1.string_value", "{email}"},
			{"user_column_data.2.string_value", "{phone}"}, {"user_column_data.3.string_value", "{company}"},
		},
	},
	"zendesk": {
		// Trigger webhooks: the mapping's requester fetch applies only to
		// event subscriptions, so the fetcher passes them on without a call.
		family: "support", fixture: "support/zendesk-trigger-ticket-created.json", weight: 8,
		patches: []patch{
			{"ticket.id", "{seq}"}, {"requester.id", "{person_id}"}, {"requester.name", "{full_name}"},
			{"requester.email", "{email}"}, {"requester.phone", "{phone}"}, {"organization.name", "{company}"},
		},
		headers: map[string]string{"X-Zendesk-Webhook-Invocation-Id": "{seq}"},
	},
	"freshdesk": {
		family: "support", fixture: "support/freshdesk-ticket-created-json.json", weight: 6,
		patches: []patch{
			{"freshdesk_webhook.ticket_id", "{#seq}"},
			{"freshdesk_webhook.ticket_url", "https://acme.freshdesk.com/helpdesk/tickets/{seq}"},
			{"freshdesk_webhook.ticket_contact_name", "{full_name}"},
			{"freshdesk_webhook.ticket_contact_email", "{email}"},
			{"freshdesk_webhook.ticket_contact_phone", "{phone}"},
			{"freshdesk_webhook.ticket_company_name", "{company}"},
		},
	},
	"intercom": {
		family: "support", fixture: "support/intercom-conversation-user-created.json", weight: 8,
		patches: []patch{
			{"id", "notif_{uuid}"}, {"created_at", "{#now_unix}"}, {"first_sent_at", "{#now_unix}"},
			{"data.item.id", "{seq}"}, {"data.item.created_at", "{#now_unix}"}, {"data.item.updated_at", "{#now_unix}"},
			{"data.item.source.id", "{seq}"},
			{"data.item.source.author.id", "{contact_id}"}, {"data.item.source.author.name", "{full_name}"},
			{"data.item.source.author.email", "{email}"}, {"data.item.contacts.contacts.0.id", "{contact_id}"},
			{"data.item.custom_attributes.utm_campaign", "{campaign}"},
		},
	},
	"helpscout": {
		family: "support", fixture: "support/helpscout-convo-created.json", weight: 5,
		patches: []patch{
			{"id", "{#seq}"}, {"number", "{#seq}"}, {"createdAt", "{now}"}, {"userUpdatedAt", "{now}"},
			{"customerWaitingSince.time", "{now}"},
			{"createdBy.id", "{#person_id}"}, {"createdBy.first", "{first_name}"},
			{"createdBy.last", "{last_name}"}, {"createdBy.email", "{email}"},
			{"primaryCustomer.id", "{#person_id}"}, {"primaryCustomer.first", "{first_name}"},
			{"primaryCustomer.last", "{last_name}"}, {"primaryCustomer.email", "{email}"},
			{"primaryCustomer.phone", "{phone}"},
		},
	},
	"typeform": {
		family: "surveys", fixture: "surveys/typeform-form_response-nps.json", weight: 12,
		patches: []patch{
			{"event_id", "{uid}"}, {"form_response.token", "{uid}"},
			{"form_response.landed_at", "{now}"}, {"form_response.submitted_at", "{now}"},
			{"form_response.hidden.utm_campaign", "{campaign}"}, {"form_response.hidden.customer_id", "cus_{person_id}"},
			{"form_response.answers.0.text", "{first_name}"}, {"form_response.answers.1.text", "{last_name}"},
			{"form_response.answers.2.email", "{email}"}, {"form_response.answers.3.phone_number", "{phone}"},
			{"form_response.answers.4.number", "{#nps}"},
		},
	},
	"delighted": {
		family: "surveys", fixture: "surveys/delighted-survey_response-created.json", weight: 11,
		patches: []patch{
			{"event_id", "{uid}"}, {"event_data.id", "{seq}"},
			{"event_data.person.id", "{person_id}"}, {"event_data.person.email", "{email}"},
			{"event_data.person.name", "{full_name}"}, {"event_data.person.phone_number", "{phone}"},
			{"event_data.score", "{#nps}"}, {"event_data.created_at", "{#now_unix}"},
			{"event_data.updated_at", "{#now_unix}"}, {"event_data.person_properties.Company", "{company}"},
		},
	},
}

// needsFetch are the providers whose webhooks carry only ids: the dev
// config completes them from the providers' real APIs, so they are refused.
var needsFetch = []string{"meta", "linkedin", "hubspot", "surveymonkey", "qualtrics"}

// families lists the --mix family names.
var families = []string{"forms", "ads", "support", "surveys"}

// supportedNames lists the supported provider types, sorted.
func supportedNames() string {
	var out []string
	for name := range supported {
		out = append(out, name)
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}
