// Package fixturetest is test support for the shared sample requests
// (../shared/fixtures) and CycleHub's own mapping cases: it turns their
// recorded provider API answers into a lookup table and a loopback API
// server, so id-only providers (Meta, HubSpot, LinkedIn, SurveyMonkey…)
// are tested through their real fetches. Only tests import it.
package fixturetest
