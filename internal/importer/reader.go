package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Format is a file format.
type Format string

// The formats an import reads.
const (
	// CSV has a header row naming the columns; each later row is one
	// object of strings.
	CSV Format = "csv"
	// JSONL has one JSON object per line.
	JSONL Format = "jsonl"
)

// FormatOf tells the format by the file's extension: .csv, .jsonl or
// .ndjson.
func FormatOf(name string) (Format, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return CSV, nil
	case ".jsonl", ".ndjson":
		return JSONL, nil
	}
	return "", fmt.Errorf("%s: cannot tell the format by the extension: name it .csv or .jsonl, or give the format", name)
}

// Position is where a row starts: its byte offset and line (1-based).
type Position struct {
	Offset int64
	Line   int64
}

// Row is one row read from a file.
type Row struct {
	// Line is the line the row starts on.
	Line int64
	// Body is the row as a JSON object (CSV: the named fields, keys
	// sorted; JSONL: the line as written). A bad row's body is its raw
	// text.
	Body []byte
	// Content is the row's canonical JSON (keys sorted, no insignificant
	// space): what its key is computed from.
	Content []byte
	// Reason, when set, says why the row could not be read.
	Reason string
	// Blank is a CSV row whose every field is empty (a spreadsheet's
	// trailing rows): it holds nothing to import.
	Blank bool
	// End is where the next row starts.
	End Position
}

// ReaderOptions configure a Reader.
type ReaderOptions struct {
	Format Format
	// Delimiter separates CSV fields (',' by default).
	Delimiter byte
	// MaxRowBytes bounds one row (1 MiB by default); a longer one is
	// rejected.
	MaxRowBytes int
}

// DefaultMaxRowBytes is the row size limit: the ingest body limit's
// default.
const DefaultMaxRowBytes = 1 << 20

func (o ReaderOptions) withDefaults() ReaderOptions {
	if o.Delimiter == 0 {
		o.Delimiter = ','
	}
	if o.MaxRowBytes <= 0 {
		o.MaxRowBytes = DefaultMaxRowBytes
	}
	return o
}

// Reader reads the rows of a CSV or JSONL file from a position, so that
// an import resumes at the row after its checkpoint.
type Reader struct {
	opts   ReaderOptions
	lr     *lineReader
	csv    *csvRows
	header []string
	line   []byte
}

// NewReader reads src (size bytes) from position from (the zero Position:
// from the start). A CSV header row is always read from the start of the
// file; an error in it is returned here.
func NewReader(src io.ReaderAt, size int64, opts ReaderOptions, from Position) (*Reader, error) {
	opts = opts.withDefaults()
	r := &Reader{opts: opts}
	switch opts.Format {
	case CSV:
		if opts.Delimiter == '"' || opts.Delimiter == '\n' || opts.Delimiter == '\r' || opts.Delimiter >= utf8.RuneSelf {
			return nil, fmt.Errorf("delimiter %q: must be one ASCII character other than a quote or a line break", opts.Delimiter)
		}
		hr := newLineReader(src, size, Position{}, opts.MaxRowBytes)
		c := &csvRows{sp: csvSplitter{lr: hr, comma: opts.Delimiter}}
		h, err := c.readHeader()
		if err != nil {
			return nil, err
		}
		r.header, r.csv = h, c
		if from.Offset > hr.offset {
			c.sp.lr = newLineReader(src, size, from, opts.MaxRowBytes)
		}
		r.lr = c.sp.lr
	case JSONL:
		r.lr = newLineReader(src, size, from, opts.MaxRowBytes)
	default:
		return nil, fmt.Errorf("unknown format %q (csv or jsonl)", opts.Format)
	}
	return r, nil
}

// Header returns a CSV file's column names ("" for an unnamed column).
func (r *Reader) Header() []string { return r.header }

// Pos returns where the next row starts (the bytes read so far).
func (r *Reader) Pos() Position { return r.lr.pos() }

// Read returns the next row, io.EOF after the last. A row that cannot be
// read is returned with its Reason (not as an error); errors are I/O
// errors.
func (r *Reader) Read() (Row, error) {
	if r.csv != nil {
		return r.csv.next()
	}
	return r.readJSONL()
}

func (r *Reader) readJSONL() (Row, error) {
	for {
		start := r.lr.pos()
		var (
			err  error
			long bool
		)
		r.line, long, err = r.lr.next(r.line[:0])
		if err != nil {
			return Row{}, err
		}
		row := Row{Line: start.Line, End: r.lr.pos()}
		text := bytes.TrimSpace(r.line)
		if long {
			row.Reason, row.Body = fmt.Sprintf("row longer than %d bytes", r.opts.MaxRowBytes), bytes.Clone(text)
			return row, nil
		}
		if len(text) == 0 {
			continue
		}
		row.Body = bytes.Clone(text)
		canon, reason := canonicalObject(row.Body)
		if reason != "" {
			row.Reason = reason
			return row, nil
		}
		row.Content = canon
		return row, nil
	}
}

// canonicalObject checks that text is one JSON object and returns it
// re-encoded with its keys sorted (numbers as written).
func canonicalObject(text []byte) ([]byte, string) {
	if !utf8.Valid(text) {
		return nil, "not UTF-8 (save the file as UTF-8)"
	}
	if text[0] != '{' {
		return nil, "not a JSON object (each line holds one {…})"
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, "not a JSON object: " + jsonReason(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, "text after the JSON object (each line holds one {…})"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, "not a JSON object: " + err.Error()
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), ""
}

func jsonReason(err error) string {
	var se *json.SyntaxError
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "the line ends inside the object"
	}
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
	}
	return err.Error()
}
