// Package archtest holds no code: its test checks the dependency direction
// of DESIGN.md §4, so the layout cannot drift silently.
package archtest
