// Command gendocs writes the reference pages generated from code under the
// repository root given by -root (the current directory by default):
// docs/connectors.md, and the schema section of docs/events.md. `make docs`
// runs it; the docgen tests fail while a checked-in page differs from its
// output.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cyclehub/cyclehub/internal/docgen"
)

func main() {
	root := flag.String("root", ".", "the repository root")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

func run(root string) error {
	connectors, err := docgen.ConnectorReference()
	if err != nil {
		return err
	}
	if err := write(filepath.Join(root, docgen.ConnectorsPath), connectors); err != nil {
		return err
	}
	section, err := docgen.EventSchemas(root)
	if err != nil {
		return err
	}
	eventsPath := filepath.Join(root, docgen.EventsPath)
	page, err := os.ReadFile(eventsPath) // #nosec G304 -- a page of the repository given by -root
	if err != nil {
		return err
	}
	page, err = docgen.SpliceEventSchemas(page, section)
	if err != nil {
		return err
	}
	return write(eventsPath, page)
}

func write(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o644); err != nil { // #nosec G306 G703 -- a documentation page of the checkout named by -root, world-readable like the rest of it
		return err
	}
	fmt.Println("gendocs: wrote", path)
	return nil
}
