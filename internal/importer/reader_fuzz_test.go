package importer

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"testing"
)

// csvRecordsOf reads every record of data with the importer's splitter.
type parsedRecord struct {
	line   int64
	fields []string
	err    error
}

func csvRecordsOf(data []byte, comma byte) []parsedRecord {
	sp := csvSplitter{lr: newLineReader(bytes.NewReader(data), int64(len(data)), Position{}, 1<<30), comma: comma}
	var out []parsedRecord
	for {
		rec, err := sp.next()
		if err != nil {
			return out
		}
		f, err := splitCSV(rec.raw, comma, nil)
		out = append(out, parsedRecord{line: rec.line, fields: f, err: err})
	}
}

var csvSeeds = []string{
	"email,name\na@example.com,Ann\n",
	"a,b\r\n1,2\r\n",
	"a,b\n\"x, y\",\"he said \"\"hi\"\"\"\n",
	"a,b\n\"multi\nline\",2\n3,4",
	"a,b\n\"multi\r\nline\",2\r\n",
	"a\n\n\n1\n",
	"a,b\n1,\"unterminated\n2,3\n",
	"a,b\n5\" screen,2\n",
	"a,b\n\"x\"y,2\n",
	"a,b,\n1,2,\n",
	"\"\"\n",
	"a\r",
	"a,b\n,\n",
	"\xef\xbb\xbfemail\nx@example.com\n",
	"a;b\n1;2\n",
	"x\n\"a\"\"\n",
}

// On every input encoding/csv accepts, the importer's CSV parser returns
// the same records on the same lines; where encoding/csv fails, the
// importer reports that record as bad too.
func FuzzCSVAgainstEncodingCSV(f *testing.F) {
	for _, s := range csvSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
			return // the importer drops a byte order mark; encoding/csv keeps it
		}
		ours := csvRecordsOf(data, ',')
		r := csv.NewReader(bytes.NewReader(data))
		r.FieldsPerRecord = -1
		for i := 0; ; i++ {
			want, err := r.Read()
			if errors.Is(err, io.EOF) {
				if i != len(ours) {
					t.Fatalf("encoding/csv has %d records, the importer %d: %q", i, len(ours), data)
				}
				return
			}
			if i >= len(ours) {
				t.Fatalf("record %d: encoding/csv read %q (err %v), the importer nothing: %q", i, want, err, data)
			}
			if err != nil {
				if ours[i].err == nil {
					t.Fatalf("record %d: encoding/csv: %v; the importer read %q: %q", i, err, ours[i].fields, data)
				}
				return // after an error the two resume differently
			}
			if ours[i].err != nil {
				t.Fatalf("record %d: encoding/csv read %q; the importer: %v: %q", i, want, ours[i].err, data)
			}
			if !slices.Equal(want, ours[i].fields) {
				t.Fatalf("record %d: encoding/csv read %q, the importer %q: %q", i, want, ours[i].fields, data)
			}
			if line, _ := r.FieldPos(0); int64(line) != ours[i].line {
				t.Fatalf("record %d: encoding/csv says line %d, the importer %d: %q", i, line, ours[i].line, data)
			}
		}
	})
}

// Reading from any row's end position gives exactly the rows after it:
// what makes a checkpoint safe. Every row is read once, bad ones with a
// reason, and positions only move forward.
func FuzzReaderResume(f *testing.F) {
	for _, s := range csvSeeds {
		f.Add([]byte(s), false)
	}
	for _, s := range []string{
		"{\"email\":\"a@example.com\"}\n{\"b\":1}\n",
		"{\"a\":1}\r\n\r\nnot json\n[1,2]\n{\"a\":1} {}\n",
		"{\"a\":\"\xff\"}\n{\"z\":1,\"a\":{\"y\":2,\"b\":3}}",
	} {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, jsonl bool) {
		opts := ReaderOptions{Format: CSV, MaxRowBytes: 64}
		if jsonl {
			opts.Format = JSONL
		}
		src, size := bytes.NewReader(data), int64(len(data))
		all, err := readAll(src, size, opts, Position{})
		if err != nil {
			return // a bad CSV header: nothing is read
		}
		prev := Position{}
		for i, row := range all {
			if row.End.Offset <= prev.Offset || row.End.Offset > size || row.Line < prev.Line || row.End.Line <= row.Line {
				t.Fatalf("row %d: line %d, end %+v after %+v (size %d): %q", i, row.Line, row.End, prev, size, data)
			}
			if row.Reason == "" && !row.Blank && !jsonValidObject(row.Content) {
				t.Fatalf("row %d: content %q is not a JSON object: %q", i, row.Content, data)
			}
			prev = row.End
			rest, err := readAll(src, size, opts, row.End)
			if err != nil {
				t.Fatalf("resume after row %d: %v", i, err)
			}
			if len(rest) != len(all)-i-1 {
				t.Fatalf("resume after row %d: %d rows, want %d: %q", i, len(rest), len(all)-i-1, data)
			}
			for j, r := range rest {
				w := all[i+1+j]
				if r.Line != w.Line || r.Reason != w.Reason || !bytes.Equal(r.Body, w.Body) || r.End != w.End {
					t.Fatalf("resume after row %d: row %+v, want %+v: %q", i, r, w, data)
				}
			}
		}
	})
}

func readAll(src io.ReaderAt, size int64, opts ReaderOptions, from Position) ([]Row, error) {
	rd, err := NewReader(src, size, opts, from)
	if err != nil {
		return nil, err
	}
	var out []Row
	for {
		row, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, row)
	}
}

func jsonValidObject(b []byte) bool {
	_, reason := canonicalObject(b)
	return reason == "" && len(b) > 0 && b[0] == '{'
}
