package importer

import (
	"strings"
	"testing"
)

type wantRow struct {
	line   int64
	body   string // for good rows
	reason string // a substring, for bad rows
}

func TestReader(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format Format
		in     string
		want   []wantRow
	}{
		{
			name: "a CSV row becomes an object named by the header, keys sorted", format: CSV,
			in:   "email,first_name,Last Name\nann@example.com,Ann,Lee\n",
			want: []wantRow{{line: 2, body: `{"Last Name":"Lee","email":"ann@example.com","first_name":"Ann"}`}},
		},
		{
			name: "quoted fields keep delimiters, quotes and line breaks; the next row's line counts them", format: CSV,
			in: "a,b\r\n\"x, y\",\"he said \"\"hi\"\"\"\r\n\"two\r\nlines\",\"<&>\t\\\"\r\n3,4",
			want: []wantRow{
				{line: 2, body: `{"a":"x, y","b":"he said \"hi\""}`},
				{line: 3, body: `{"a":"two\nlines","b":"<&>\t\\"}`},
				{line: 5, body: `{"a":"3","b":"4"}`},
			},
		},
		{
			name: "a byte order mark, empty lines, blank rows and unnamed columns hold no data", format: CSV,
			in:   "\xef\xbb\xbfemail, ,name\n\n,,\nann@example.com,x,Ann\n",
			want: []wantRow{{line: 3, body: "blank"}, {line: 4, body: `{"email":"ann@example.com","name":"Ann"}`}},
		},
		{
			name: "bad CSV rows are rows with a reason, and the next row reads normally", format: CSV,
			in: "a,b\n1,2,3\n5\" screen,2\n\"x\"y,2\n\xff,1\nok,ok\n\"open,1\n",
			want: []wantRow{
				{line: 2, reason: "3 fields, the header row has 2"},
				{line: 3, reason: "field 1: a quote in a field that is not quoted"},
				{line: 4, reason: "field 1: text after the closing quote"},
				{line: 5, reason: "not UTF-8"},
				{line: 6, body: `{"a":"ok","b":"ok"}`},
				{line: 7, reason: "field 1: quoted field not closed"},
			},
		},
		{
			name: "another delimiter", format: CSV,
			in:   "a;b\n1;\"x;y\"\n",
			want: []wantRow{{line: 2, body: `{"a":"1","b":"x;y"}`}},
		},
		{
			name: "a JSONL row is the line as written; blank lines are skipped", format: JSONL,
			in: "{\"b\": 1, \"a\": {\"y\": 2.50, \"x\": \"<\"}}\r\n\n   \n{\"email\":\"a@example.com\"}",
			want: []wantRow{
				{line: 1, body: `{"b": 1, "a": {"y": 2.50, "x": "<"}}`},
				{line: 4, body: `{"email":"a@example.com"}`},
			},
		},
		{
			name: "bad JSONL rows", format: JSONL,
			in: "[1]\n{\"a\":\n{\"a\":1} {}\n{\"a\":\"\xff\"}\n" + `{"a":"` + strings.Repeat("x", 100) + `"}` + "\n{}\n",
			want: []wantRow{
				{line: 1, reason: "not a JSON object"},
				{line: 2, reason: "not a JSON object: the line ends inside the object"},
				{line: 3, reason: "text after the JSON object"},
				{line: 4, reason: "not UTF-8"},
				{line: 5, reason: "row longer than 64 bytes"},
				{line: 6, body: `{}`},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := ReaderOptions{Format: tc.format, MaxRowBytes: 64}
			if strings.Contains(tc.name, "another delimiter") {
				opts.Delimiter = ';'
			}
			rows, err := readAll(strings.NewReader(tc.in), int64(len(tc.in)), opts, Position{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(tc.want) {
				t.Fatalf("%d rows, want %d: %+v", len(rows), len(tc.want), rows)
			}
			for i, w := range tc.want {
				r := rows[i]
				if r.Line != w.line {
					t.Errorf("row %d: line %d, want %d", i, r.Line, w.line)
				}
				switch {
				case w.reason != "":
					if !strings.Contains(r.Reason, w.reason) {
						t.Errorf("row %d: reason %q, want one containing %q", i, r.Reason, w.reason)
					}
				case w.body == "blank":
					if !r.Blank {
						t.Errorf("row %d: %q not blank", i, r.Body)
					}
				default:
					if r.Reason != "" || string(r.Body) != w.body {
						t.Errorf("row %d: body %s (reason %q), want %s", i, r.Body, r.Reason, w.body)
					}
				}
			}
		})
	}
}

func TestCSVHeaderErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "the file is empty",
		"\n\n":                   "the file is empty",
		"email,Email,email\n1,2": `columns 1 and 3 are both named "email"`,
		" , \n1,2":               "names no column",
		"a,\"b\n":                "header row: field 2: quoted field not closed",
	} {
		_, err := NewReader(strings.NewReader(in), int64(len(in)), ReaderOptions{Format: CSV}, Position{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want one containing %q", in, err, want)
		}
	}
}

// The key is the content's: column order, JSON key order and spacing do
// not change it; a value or the mapping does.
func TestRowKeys(t *testing.T) {
	key := func(format Format, in, digest string) string {
		t.Helper()
		rows, err := readAll(strings.NewReader(in), int64(len(in)), ReaderOptions{Format: format}, Position{})
		if err != nil || len(rows) != 1 || rows[0].Reason != "" {
			t.Fatalf("%q: %v %+v", in, err, rows)
		}
		return RowKey(digest, rows[0].Content)
	}
	base := key(CSV, "email,name\na@example.com,Ann\n", "m1")
	for _, same := range []string{
		key(CSV, "name,email\nAnn,a@example.com\n", "m1"),
		key(JSONL, `{"name": "Ann",   "email":"a@example.com"}`, "m1"),
	} {
		if same != base {
			t.Errorf("key %s, want %s", same, base)
		}
	}
	for _, other := range []string{
		key(CSV, "email,name\na@example.com,Anna\n", "m1"),
		key(CSV, "email,name\na@example.com,Ann\n", "m2"),
	} {
		if other == base {
			t.Errorf("different content or mapping, same key %s", base)
		}
	}
	if !strings.HasPrefix(base, "import:") || len(base) != len("import:")+32 {
		t.Errorf("key %q", base)
	}
}

func TestFormatOf(t *testing.T) {
	for name, want := range map[string]Format{"a.csv": CSV, "B.CSV": CSV, "x.jsonl": JSONL, "x.ndjson": JSONL} {
		if got, err := FormatOf(name); err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", name, got, err, want)
		}
	}
	if _, err := FormatOf("contacts.xlsx"); err == nil {
		t.Error("xlsx: no error")
	}
}
