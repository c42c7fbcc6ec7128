// Package slacksink posts lifecycle events to a Slack incoming webhook, one
// message per event, for the sales team: "*Ana Lima* (Lima Consultoria) is
// now *salesqualifiedlead* (from marketingqualifiedlead, rule sql)".
//
// Messages are Go text/template texts chosen by event type (a per-stage
// template for stage changes wins over the generic one), rendered from the
// CloudEvent and the person's contact. Values are escaped for Slack (&, <,
// >) before rendering, so a name or company cannot mention @channel or
// forge a link; the templates' own text is sent as written.
//
// The webhook URL holds a token: it is a secret.Secret, revealed only to
// send the request, and never part of an error or a log line. Slack's
// plain-text error answers are classified: a removed webhook, team or
// archived channel disables the destination, a refused payload or token is
// dead-lettered, 429 and 5xx are retried (after Retry-After).
package slacksink
