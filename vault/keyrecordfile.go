package vault

import (
	"io"
	"os"
)

// AddFiles reads key record files and adds them (Add), verifying each in
// turn. One bad record fails them all. A file is read up to one byte more
// than a key record may hold: Add refuses a larger one.
func (s *KeyRecords) AddFiles(paths []string) error {
	for _, p := range paths {
		data, err := readKeyRecord(p)
		if err != nil {
			return err
		}
		if _, err := s.Add(p, data); err != nil {
			return err
		}
	}
	return nil
}

func readKeyRecord(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxKeyRecord+1))
}
