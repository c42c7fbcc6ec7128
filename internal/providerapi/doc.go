// Package providerapi reads the documents a webhook only names by id from
// the provider's API (a Meta lead, a HubSpot contact, a SurveyMonkey
// response): one GET per mapping.FetchRequest, against the source's API
// base with its API token.
//
// It is an adapter: it knows HTTP and the providers' status codes, and
// classifies every failure (retryable, retry-after, not found, permanent)
// for the pipeline's fetcher, which owns the durable retry schedule. Short
// in-call retries (a 502, a reset connection) happen here, in
// go-retryablehttp under resty, and only here. Tokens never appear in
// errors or logs. It does not map, store or log anything.
package providerapi
