package knowledge

import (
	"fmt"
	"os"
	"strings"
)

// fingerprint summarizes the knowledge files in dir (names, sizes and
// modification times) so that a poll notices an edit, an added or a removed
// file without reading any content.
func fingerprint(dir string) (string, error) {
	paths, err := knowledgeFiles(dir)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			continue // removed between listing and stat; the next poll sees it
		}
		fmt.Fprintf(&b, "%s\x00%d\x00%d\n", p, fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String(), nil
}
