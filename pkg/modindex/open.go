package modindex

import (
	"fmt"
	"path/filepath"
)

// Path returns where a kernel release's index lives under root: root/lib/modules/<release>/meta.pb.
func Path(root, release string) string {
	return filepath.Join(root, "lib", "modules", release, "meta.pb")
}

// OpenRelease opens the index the commands use by default: meta when it is not empty, else
// Path(root, release); an empty release means the running kernel's. It returns the release it
// settled on, which the loader checks against the index's own.
func OpenRelease(root, release, meta string) (*Index, string, error) {
	if release == "" {
		r, err := RunningRelease()
		if err != nil {
			return nil, "", fmt.Errorf("find the kernel release: %w (pass -S RELEASE or -meta FILE)", err)
		}
		release = r
	}
	if meta == "" {
		meta = Path(root, release)
	}
	ix, err := Open(meta)
	return ix, release, err
}
