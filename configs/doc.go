// Package configs holds CycleHub's configuration: the config types, loading
// them from the single YAML config file, and validating them.
//
// Loading is strict so that mistakes surface before the service starts, and
// every problem is reported at once as [Errors], each [FieldError] carrying
// the dotted path of the setting and its line, for example
//
//	sources.form: unknown field "providr" (line 12)
//	http.read_timeout: cannot parse "10 sec" as duration (line 4)
//
// Semantic validators append to the same [Errors] with [Errors.Add], so that
// check-config can print one complete list.
//
// # Environment references
//
// Scalar values (never keys or comments) may refer to the environment, see
// [ExpandEnv]: "${VAR}" is the value of VAR and an error when VAR is unset,
// "${VAR:-default}" falls back to default when VAR is unset or empty, and
// "$$" is a literal "$". A plain (unquoted, untagged) scalar is typed from
// its expanded text as if that had been written in the file, so
// "port: ${PORT}" fills an int, and an empty expansion is null; a quoted
// scalar stays a string. Error messages show the reference, not the value.
//
// # Decoding rules
//
// [Decode] walks the document against a struct:
//   - Struct fields are matched by the name in their `yaml:"name"` tag
//     (the lower-cased field name when the name is empty). Untagged fields
//     and fields tagged `yaml:"-"` are never set. `yaml:",inline"` on a
//     struct or struct pointer field reads its fields from the parent
//     mapping.
//   - A key that matches no field, a duplicate key, a merge key ("<<"), a
//     value of the wrong shape and a value that does not convert are errors
//     at the path and line where they occur; decoding goes on with the rest.
//   - Absent keys and null values ("key:", "key: ~") leave the field as it
//     was, so defaults set beforehand survive. Pointers are allocated when
//     their key is present. A mapping into map[string]T keeps existing
//     entries and decodes present keys over their existing value; a
//     sequence replaces a slice.
//   - Everything else is decoded by yaml.v3: scalars ("yes"/"on" are true,
//     "1_000" and "0x10" are integers), time.Duration from strings such as
//     "250ms" (a bare number is an error), types implementing
//     yaml.Unmarshaler or encoding.TextUnmarshaler, interface fields, and
//     maps with non-string keys. Floats into integer fields must be whole
//     and, for unsigned fields, not negative.
//   - Aliases are followed; an alias inside the node it refers to is an
//     error. A file must hold a single YAML document.
//
// Paths join mapping keys with "." and add "[i]" for sequence elements;
// keys containing ".", brackets, quotes or spaces are written as ["key"].
package configs
