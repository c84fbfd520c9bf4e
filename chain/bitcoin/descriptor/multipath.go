package descriptor

import "fmt"

// SingleMultipath returns the descriptor with every BIP-389 multipath group
// replaced by its alternative k: "the first descriptor uses the first NUM,
// and a second descriptor uses the second NUM, and so on". Without
// multipath, k must be 0 and the result is d.
func (d *Descriptor) SingleMultipath(k int) (*Descriptor, error) {
	if k < 0 || k >= d.paths {
		return nil, fmt.Errorf("descriptor: multipath branch %d, the descriptor has %d", k, d.paths)
	}
	if d.paths == 1 {
		return d, nil
	}
	// Parsing the expansion applies every rule to it on its own.
	return Parse(string(d.root.appendText(nil, k)))
}

// Expand returns every BIP-389 expansion, in order (one, d itself, without
// multipath). By convention branch 0 receives and branch 1 is change.
func (d *Descriptor) Expand() ([]*Descriptor, error) {
	out := make([]*Descriptor, d.paths)
	for k := range out {
		x, err := d.SingleMultipath(k)
		if err != nil {
			return nil, err
		}
		out[k] = x
	}
	return out, nil
}
