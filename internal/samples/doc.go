// Package samples reads sample requests in the format of the shared
// fixtures (../shared/fixtures) and of CycleHub's own mapping cases:
// their recorded provider API answers become a lookup table and a
// loopback API server, so id-only providers (Meta, HubSpot, LinkedIn,
// SurveyMonkey…) are tested through their real fetches, and
// `cyclehub mapping test` maps such a sample offline.
package samples
