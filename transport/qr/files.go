package qr

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/airlock-vault/airlock/envelope"
)

// What "airlock qr" does with files: an artifact told from its bytes,
// the images of a scan gathered from files and folders and read into a
// Reader, and the id an artifact is logged under.

// FileArtifact is what a file holds: an airlock envelope when its bytes
// decode as one, else a PSBT (surrounding white space trimmed).
func FileArtifact(b []byte) Artifact {
	if _, err := envelope.Decode(b); err == nil {
		return Artifact{Kind: "envelope", Data: b}
	}
	return Artifact{Kind: "psbt", Data: bytes.TrimSpace(b)}
}

// ImageFiles lists the images to read: each path that names a folder
// stands for its .png and .gif files (in name order), any other path for
// itself.
func ImageFiles(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, err
			}
			for _, de := range entries {
				if n := strings.ToLower(de.Name()); strings.HasSuffix(n, ".png") || strings.HasSuffix(n, ".gif") {
					files = append(files, filepath.Join(p, de.Name()))
				}
			}
			continue
		}
		files = append(files, p)
	}
	return files, nil
}

// AddFile feeds the frames of one image file (DecodeFile) until the
// artifact is complete; a refused frame is an error that names the file.
func (r *Reader) AddFile(path string) error {
	texts, err := DecodeFile(path)
	if err != nil {
		return err
	}
	for _, t := range texts {
		if err := r.Add(t); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if r.Complete() {
			break
		}
	}
	return nil
}

// ID is the id an artifact's transfer is logged under: an envelope's id,
// a PSBT's SHA-256.
func (a Artifact) ID() [32]byte {
	if env, err := envelope.Decode(a.Data); err == nil {
		return env.ID()
	}
	return sha256.Sum256(a.Data)
}
