package importer

import (
	"bufio"
	"errors"
	"io"
)

// lineReader reads physical lines, keeping the byte offset and the line
// number of the next line: a file's position is where its next row
// starts, and a row's line is where it starts.
type lineReader struct {
	br *bufio.Reader
	// offset and line are those of the next unread byte.
	offset int64
	line   int64
	// max bounds what is kept of one line; the rest is read and dropped.
	max int
	eof bool
}

func newLineReader(src io.ReaderAt, size int64, from Position, max int) *lineReader {
	line := from.Line
	if line < 1 {
		line = 1
	}
	lr := &lineReader{
		br:     bufio.NewReaderSize(io.NewSectionReader(src, from.Offset, size-from.Offset), 64<<10),
		offset: from.Offset,
		line:   line,
		max:    max,
	}
	if from.Offset == 0 {
		// A UTF-8 byte order mark (spreadsheet exports) is not data.
		if b, err := lr.br.Peek(3); err == nil && string(b) == "\xef\xbb\xbf" {
			_, _ = lr.br.Discard(3)
			lr.offset = 3
		}
	}
	return lr
}

func (l *lineReader) pos() Position { return Position{Offset: l.offset, Line: l.line} }

// next appends the next line to buf, with its "\n" (none at the end of the
// file), and reports whether it was longer than max (then only max bytes
// are appended). A line ending "\r\n" is appended ending "\n", and a "\r"
// just before the end of the file is dropped, as encoding/csv does. At the
// end of the file it returns io.EOF and appends nothing.
func (l *lineReader) next(buf []byte) ([]byte, bool, error) {
	if l.eof {
		return buf, false, io.EOF
	}
	start := len(buf)
	var n int64
	long := false
	for {
		chunk, err := l.br.ReadSlice('\n')
		n += int64(len(chunk))
		if room := l.max - (len(buf) - start); room > 0 {
			buf = append(buf, chunk[:min(len(chunk), room)]...)
		}
		if len(buf)-start < int(n) {
			long = true
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return buf[:start], false, err
		}
		if err != nil { // io.EOF
			l.eof = true
			if n == 0 {
				return buf, false, io.EOF
			}
		}
		break
	}
	l.offset += n
	l.line++ // the last line of a file may lack its "\n"; it is a line all the same
	line := buf[start:]
	switch k := len(line); {
	case long:
	case k >= 2 && line[k-2] == '\r' && line[k-1] == '\n':
		line[k-2] = '\n'
		buf = buf[:len(buf)-1]
	case l.eof && k >= 1 && line[k-1] == '\r':
		buf = buf[:len(buf)-1]
	}
	return buf, long, nil
}
