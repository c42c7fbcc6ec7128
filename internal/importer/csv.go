package importer

import (
	"bytes"
	"fmt"
	"io"
	"unicode/utf8"
)

// CSV is read as RFC 4180 (what encoding/csv accepts without LazyQuotes):
// fields separated by the delimiter, optionally quoted, a quote inside a
// quoted field doubled, line breaks inside quoted fields kept (a "\r\n"
// read as "\n"), empty lines skipped. The records are found here rather
// than by encoding/csv so that each one's bytes, first line and end
// offset are known exactly (checkpoints, line numbers, rejected rows kept
// as they were), and so that a malformed record is one bad row: the next
// record is read as if nothing happened. The fuzz test holds the parser to
// encoding/csv on everything encoding/csv accepts.

// csvRecord is one logical record: possibly several physical lines.
type csvRecord struct {
	line int64
	// raw is the record as read (line breaks normalized, its last one
	// removed), cut at the row size limit when long is set.
	raw  []byte
	long bool
	end  Position
}

// csvSplitter cuts a file into records.
type csvSplitter struct {
	lr    *lineReader
	comma byte
	buf   []byte
}

// next returns the next record, skipping empty lines; io.EOF at the end.
func (s *csvSplitter) next() (csvRecord, error) {
	for {
		start := s.lr.pos()
		var (
			err  error
			long bool
		)
		s.buf, long, err = s.lr.next(s.buf[:0])
		if err != nil {
			return csvRecord{}, err
		}
		if !long && (len(s.buf) == 0 || len(s.buf) == 1 && s.buf[0] == '\n') {
			continue
		}
		inQuotes := scanQuotes(s.buf, s.comma, false)
		for inQuotes {
			var more bool
			n := len(s.buf)
			s.buf, more, err = s.lr.next(s.buf)
			if err == io.EOF {
				break // unterminated quoted field: the split reports it
			}
			if err != nil {
				return csvRecord{}, err
			}
			inQuotes = scanQuotes(s.buf[n:], s.comma, true)
			if len(s.buf) > s.lr.max {
				s.buf, long = s.buf[:s.lr.max], true
			}
			long = long || more
		}
		raw := s.buf
		if !long && len(raw) > 0 && raw[len(raw)-1] == '\n' {
			raw = raw[:len(raw)-1]
		}
		return csvRecord{line: start.Line, raw: raw, long: long, end: s.lr.pos()}, nil
	}
}

// scanQuotes follows the quoting of one physical line of a record and
// reports whether a quoted field is still open at its end. inQuotes says
// whether the line continues an open quoted field.
func scanQuotes(line []byte, comma byte, inQuotes bool) bool {
	fieldStart := !inQuotes
	for i := 0; i < len(line); i++ {
		c := line[i]
		if inQuotes {
			if c == '"' {
				if i+1 < len(line) && line[i+1] == '"' {
					i++
					continue
				}
				inQuotes = false
			}
			continue
		}
		switch {
		case c == comma:
			fieldStart = true
			continue
		case c == '"' && fieldStart:
			inQuotes = true
		}
		fieldStart = false
	}
	return inQuotes
}

// splitCSV cuts a record (without its final line break) into fields. The
// error names the field (1-based) and what is wrong with it.
func splitCSV(rec []byte, comma byte, fields []string) ([]string, error) {
	fields = fields[:0]
	var quoted []byte
	for i := 0; ; {
		n := len(fields) + 1
		if i < len(rec) && rec[i] == '"' {
			quoted = quoted[:0]
			i++
			for {
				j := bytes.IndexByte(rec[i:], '"')
				if j < 0 {
					return fields, fmt.Errorf("field %d: quoted field not closed", n)
				}
				quoted = append(quoted, rec[i:i+j]...)
				i += j + 1
				if i < len(rec) && rec[i] == '"' {
					quoted = append(quoted, '"')
					i++
					continue
				}
				break
			}
			fields = append(fields, string(quoted))
			if i == len(rec) {
				return fields, nil
			}
			if rec[i] != comma {
				return fields, fmt.Errorf(`field %d: text after the closing quote (a quote inside a quoted field is written "")`, n)
			}
			i++
			continue
		}
		j := bytes.IndexByte(rec[i:], comma)
		f := rec[i:]
		if j >= 0 {
			f = rec[i : i+j]
		}
		if bytes.IndexByte(f, '"') >= 0 {
			return fields, fmt.Errorf(`field %d: a quote in a field that is not quoted (quote the field and double the quote: "5"" screen")`, n)
		}
		fields = append(fields, string(f))
		if j < 0 {
			return fields, nil
		}
		i += j + 1
	}
}

// csvRows turns records into JSON objects named by the header row.
type csvRows struct {
	sp      csvSplitter
	columns int
	// order lists the named columns by name; names holds each column's
	// name, JSON-encoded with its colon ("" for unnamed columns, which
	// are ignored).
	order  []int
	names  [][]byte
	fields []string
}

// readHeader reads the header row: the field names, trimmed. A column
// without a name is ignored; two columns with one name are an error.
func (c *csvRows) readHeader() ([]string, error) {
	rec, err := c.sp.next()
	if err == io.EOF {
		return nil, fmt.Errorf("the file is empty: a CSV file starts with a header row naming its columns")
	}
	if err != nil {
		return nil, err
	}
	if rec.long {
		return nil, fmt.Errorf("line %d: the header row is longer than %d bytes", rec.line, c.sp.lr.max)
	}
	if !utf8.Valid(rec.raw) {
		return nil, fmt.Errorf("line %d: the header row is not UTF-8 (save the file as UTF-8)", rec.line)
	}
	fields, err := splitCSV(rec.raw, c.sp.comma, nil)
	if err != nil {
		return nil, fmt.Errorf("line %d: header row: %v", rec.line, err)
	}
	seen := map[string]int{}
	c.columns = len(fields)
	c.names = make([][]byte, len(fields))
	for i, f := range fields {
		name := string(bytes.TrimSpace([]byte(f)))
		fields[i] = name
		if name == "" {
			continue
		}
		if j, dup := seen[name]; dup {
			return nil, fmt.Errorf("line %d: columns %d and %d are both named %q", rec.line, j+1, i+1, name)
		}
		seen[name] = i
		c.names[i] = append(appendJSONString(nil, name), ':')
		c.order = append(c.order, i)
	}
	if len(c.order) == 0 {
		return nil, fmt.Errorf("line %d: the header row names no column", rec.line)
	}
	sortColumns(c.order, fields)
	return fields, nil
}

func sortColumns(order []int, names []string) {
	// insertion sort: headers are short
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && names[order[j]] < names[order[j-1]]; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
}

// next reads the next row. Its body is the JSON object of its named
// fields, keys sorted, so the same values give the same bytes whatever
// the column order.
func (c *csvRows) next() (Row, error) {
	rec, err := c.sp.next()
	if err != nil {
		return Row{}, err
	}
	row := Row{Line: rec.line, End: rec.end}
	bad := func(format string, a ...any) (Row, error) {
		row.Reason = fmt.Sprintf(format, a...)
		row.Body = append([]byte(nil), rec.raw...)
		return row, nil
	}
	if rec.long {
		return bad("row longer than %d bytes", c.sp.lr.max)
	}
	if !utf8.Valid(rec.raw) {
		return bad("not UTF-8 (save the file as UTF-8)")
	}
	c.fields, err = splitCSV(rec.raw, c.sp.comma, c.fields)
	if err != nil {
		return bad("%v", err)
	}
	if len(c.fields) != c.columns {
		return bad("%d fields, the header row has %d", len(c.fields), c.columns)
	}
	empty := true
	body := make([]byte, 0, len(rec.raw)+len(c.order)*16)
	body = append(body, '{')
	for k, i := range c.order {
		if k > 0 {
			body = append(body, ',')
		}
		body = append(body, c.names[i]...)
		body = appendJSONString(body, c.fields[i])
		empty = empty && c.fields[i] == ""
	}
	body = append(body, '}')
	if empty {
		row.Blank = true
	}
	row.Body, row.Content = body, body
	return row, nil
}

// appendJSONString appends s (valid UTF-8) as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
