// Package webhooks is CycleHub's HTTP edge for providers: the /hooks/{source}
// routes, per-source rate limits, body limits, authentication of each
// source, and the durable write of the raw request before any 2xx.
//
// What belongs here: everything that decides the HTTP answer to a provider.
// What does not: understanding the payload beyond "is it well formed"
// (mapping, in the pipeline) or SQL (the Inbox interface is satisfied by
// the store). webhooks imports mapping only.
package webhooks
