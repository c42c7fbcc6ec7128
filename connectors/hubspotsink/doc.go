// Package hubspotsink keeps HubSpot CRM contacts in sync with CycleHub's
// unified customers, over the CRM v3 objects API with a private app token.
//
// created, updated, stage_changed and score_changed events upsert the
// customer's contact (one batch upsert per Write, matched on id_property,
// email by default), writing the mapped contact fields and the customer id
// into customer_id_property. A backward stage move clears lifecyclestage
// first, since HubSpot refuses to move it backward otherwise. merged events
// merge the merged customer's contact into the survivor's (found by
// customer_id_property); erased events GDPR-delete the contact by email,
// then any contact still holding the customer id.
//
// The records of one Write are handled in their order: a run of upserts is
// one request, merges and erasures are handled one by one between runs, so
// an erasure never precedes an earlier update of the same person. A failure
// of the whole destination (refused token, rate limit, outage, cancel)
// stops the Write: the records not yet sent get the same error.
package hubspotsink
