package evidence

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/workspace"
)

// maxBundle bounds the bytes a checker reads.
const maxBundle = 4 << 30

// Write stores a bundle as a folder (which must not exist yet) or, when
// out ends in .tar, as a tar file whose every header is fixed (mode 0644,
// owner 0, the period's end as the time) so that the same bundle gives
// the same bytes.
func Write(out string, files map[string][]byte, mtime time.Time) error {
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("evidence: %s exists; a bundle is never written over", out)
	}
	paths := sortedPaths(files)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if strings.HasSuffix(out, ".tar") {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, p := range paths {
			h := &tar.Header{Name: p, Mode: 0o644, Size: int64(len(files[p])), ModTime: mtime.UTC().Truncate(time.Second), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if _, err := tw.Write(files[p]); err != nil {
				return err
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		return workspace.WriteFileAtomic(out, buf.Bytes(), 0o644)
	}
	for _, p := range paths {
		dst := filepath.Join(out, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := workspace.WriteFileAtomic(dst, files[p], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Read loads a bundle from a folder or a .tar file, bounded: paths are
// clean, relative and slash-separated; no links; no file over
// MaxFileSize except the log's records; at most MaxFiles files.
func Read(src string) (map[string][]byte, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	total := int64(0)
	add := func(name string, r io.Reader, size int64) error {
		if !fs.ValidPath(name) || path.Clean(name) != name {
			return fmt.Errorf("evidence: bad path %q in the bundle", name)
		}
		if len(files) >= MaxFiles {
			return fmt.Errorf("evidence: more than %d files", MaxFiles)
		}
		limit := int64(MaxFileSize)
		if name == "log/records" {
			limit = maxBundle
		}
		if size > limit || total+size > maxBundle {
			return fmt.Errorf("evidence: %s is too large (%d bytes)", name, size)
		}
		b, err := io.ReadAll(io.LimitReader(r, limit+1))
		if err != nil {
			return err
		}
		if int64(len(b)) > limit {
			return fmt.Errorf("evidence: %s is too large", name)
		}
		if _, dup := files[name]; dup {
			return fmt.Errorf("evidence: %s twice in the bundle", name)
		}
		total += int64(len(b))
		files[name] = b
		return nil
	}
	if !fi.IsDir() {
		f, err := os.Open(src)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		tr := tar.NewReader(f)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("evidence: %s: %v", src, err)
			}
			if h.Typeflag == tar.TypeDir {
				continue
			}
			if h.Typeflag != tar.TypeReg {
				return nil, fmt.Errorf("evidence: %s in the bundle is not a regular file", h.Name)
			}
			if err := add(h.Name, tr, h.Size); err != nil {
				return nil, err
			}
		}
		return files, nil
	}
	root, err := filepath.Abs(src)
	if err != nil {
		return nil, err
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("evidence: %s is not a regular file", p)
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return add(filepath.ToSlash(rel), f, info.Size())
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}

func sortedPaths(files map[string][]byte) []string {
	out := make([]string, 0, len(files))
	for p := range files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
