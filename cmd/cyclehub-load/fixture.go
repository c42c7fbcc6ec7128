package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// fixture is one shared sample request (/work/shared/fixtures): the
// headers and body exactly as the provider sends them. Signature headers
// read "<computed>"; they are computed per request instead.
type fixture struct {
	Provider    string            `json:"provider"`
	Method      string            `json:"method"`
	Headers     map[string]string `json:"headers"`
	ContentType string            `json:"content_type"`
	Body        json.RawMessage   `json:"body"`
}

// readFixture reads the sample file rel under dir.
func readFixture(dir, rel string) (*fixture, error) {
	data, err := os.ReadFile(filepath.Join(dir, rel))
	if err != nil {
		return nil, fmt.Errorf("read sample: %w", err)
	}
	var f fixture
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("sample %s: %w", rel, err)
	}
	if f.Method != "POST" || len(f.Body) == 0 {
		return nil, fmt.Errorf("sample %s: not a POST with a body", rel)
	}
	return &f, nil
}

// formBody returns the body of a urlencoded sample, stored as a JSON string.
func (f *fixture) formBody() (string, error) {
	var s string
	if err := json.Unmarshal(f.Body, &s); err != nil {
		return "", fmt.Errorf("sample body of %s is not a string: %w", f.Provider, err)
	}
	return s, nil
}
