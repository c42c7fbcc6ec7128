package importer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"

	"github.com/cyclehub/cyclehub/mapping"
)

// MappingDigest identifies what a mapping does to a row: its compiled spec
// (comments and layout do not count) and the default region national
// phone numbers are read in. Rows imported under another digest are
// imported again.
func MappingDigest(c *mapping.Compiled, defaultRegion string) (string, error) {
	spec, err := json.Marshal(c.Spec())
	if err != nil {
		return "", fmt.Errorf("mapping digest: %w", err)
	}
	h := sha256.New()
	h.Write(spec)
	h.Write([]byte{0})
	h.Write([]byte(defaultRegion))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// FileDigest is the sha256 of a file's content: an import of the same
// content resumes, whatever the file is called.
func FileDigest(src io.ReaderAt, size int64) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(src, 0, size)); err != nil {
		return "", fmt.Errorf("read the file: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// keyer derives row keys: "import:" and 128 bits of the sha256 of the
// mapping digest and the row's canonical content. The inbox deduplicates
// by (source, key), so a row is stored once per source and mapping
// however often, and wherever in a file, it appears.
type keyer struct {
	prefix []byte
	h      hash.Hash
	sum    []byte
}

func newKeyer(mappingDigest string) *keyer {
	return &keyer{prefix: append([]byte(mappingDigest), 0), h: sha256.New()}
}

// RowKey is the dedup key of a row's canonical content under a mapping
// digest.
func RowKey(mappingDigest string, content []byte) string {
	return newKeyer(mappingDigest).key(content)
}

func (k *keyer) key(content []byte) string {
	k.h.Reset()
	k.h.Write(k.prefix)
	k.h.Write(content)
	k.sum = k.h.Sum(k.sum[:0])
	var out [7 + 32]byte
	copy(out[:], "import:")
	hex.Encode(out[7:], k.sum[:16])
	return string(out[:])
}
