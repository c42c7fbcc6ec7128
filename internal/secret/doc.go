// Package secret provides [Secret], a string type for credentials that
// redacts itself whenever it is printed, logged or serialised.
//
// A Secret decodes from a YAML (or JSON) scalar like any string, so config
// structs can declare
//
//	APIKey secret.Secret `yaml:"api_key"`
//
// and read the value with [Secret.Reveal] only where it is actually needed,
// such as when building an Authorization header. Comparisons against
// values supplied by clients, such as webhook tokens, should use
// [Secret.Equal], which runs in constant time.
package secret
