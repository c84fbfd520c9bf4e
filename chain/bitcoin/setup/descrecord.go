package setup

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

// NoPathRestrictions is the path restrictions line of a record without a
// template.
const NoPathRestrictions = "No path restrictions"

// maxRestrictions bounds the restrictions of one template.
const maxRestrictions = descriptor.MaxAlternatives

// DescriptorRecord is the Coordinator's round-2 descriptor record
// (BIP-129).
type DescriptorRecord struct {
	Descriptor       string // a descriptor, or a template whose keys end in "/**"
	PathRestrictions string // e.g. "/0/*,/1/*", or NoPathRestrictions
	FirstAddress     string // index 0 of the first restriction
}

// ParseDescriptorRecord reads a descriptor record (decrypting it as
// ParseKeyRecord does) and checks it for network net: the template and
// restrictions expand to descriptors that parse (a checksum, if given,
// must be right), hold no private keys, and whose first address is the
// record's.
func ParseDescriptorRecord(data, token []byte, net *chaincfg.Params) (*DescriptorRecord, error) {
	text, err := open(data, token)
	if err != nil {
		return nil, err
	}
	l, err := lines(text, 4, "descriptor record")
	if err != nil {
		return nil, err
	}
	r := &DescriptorRecord{Descriptor: l[1], PathRestrictions: l[2], FirstAddress: l[3]}
	if _, err := r.check(net); err != nil {
		return nil, err
	}
	return r, nil
}

// Descriptors are the concrete descriptors the record stands for, one per
// path restriction (BIP-129 "Descriptor Template"), or the one descriptor.
func (r *DescriptorRecord) Descriptors() ([]*descriptor.Descriptor, error) {
	if len(r.Descriptor) > MaxInput {
		return nil, fmt.Errorf("setup: descriptor of %d bytes exceeds %d", len(r.Descriptor), MaxInput)
	}
	body, sum, hasSum := strings.Cut(r.Descriptor, "#")
	if r.PathRestrictions == NoPathRestrictions {
		if strings.Contains(body, "/**") {
			return nil, errors.New("setup: descriptor template without path restrictions")
		}
		d, err := descriptor.Parse(r.Descriptor)
		if err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
		return []*descriptor.Descriptor{d}, nil
	}
	paths, err := parseRestrictions(r.PathRestrictions)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(body, "/**") {
		return nil, errors.New("setup: path restrictions for a descriptor that is not a template (no /**)")
	}
	if hasSum {
		want, err := descriptor.Checksum(body)
		if err != nil || want != sum {
			return nil, errors.New("setup: descriptor template checksum mismatch")
		}
	}
	out := make([]*descriptor.Descriptor, len(paths))
	for i, p := range paths {
		d, err := descriptor.Parse(strings.ReplaceAll(body, "/**", p))
		if err != nil {
			return nil, fmt.Errorf("setup: template with %s: %w", p, err)
		}
		out[i] = d
	}
	return out, nil
}

// parseRestrictions reads "/0/*,/1/*": comma-separated paths that start
// with "/" and use unhardened steps, a final "/*" optional.
func parseRestrictions(s string) ([]string, error) {
	paths := strings.Split(s, ",")
	if len(paths) > maxRestrictions {
		return nil, fmt.Errorf("setup: %d path restrictions exceed %d", len(paths), maxRestrictions)
	}
	seen := map[string]bool{}
	for _, p := range paths {
		steps := strings.Split(p, "/")
		if p == "" || steps[0] != "" || len(steps) < 2 || len(steps) > descriptor.MaxPathLength {
			return nil, fmt.Errorf("setup: path restriction %q does not start with /", short(p))
		}
		for i, st := range steps[1:] {
			if st == "*" && i == len(steps)-2 {
				continue
			}
			if _, err := parseIndex(st, false); err != nil {
				return nil, fmt.Errorf("setup: path restriction %q: %v", short(p), err)
			}
		}
		if seen[p] {
			return nil, fmt.Errorf("setup: path restriction %s twice", p)
		}
		seen[p] = true
	}
	return paths, nil
}

// parseIndex reads one BIP-32 step; hardened ones ("'", "h" or "H") only
// if allowed.
func parseIndex(s string, allowHard bool) (uint32, error) {
	num, hard := s, false
	if n := len(s); n > 0 && (s[n-1] == '\'' || s[n-1] == 'h' || s[n-1] == 'H') {
		num, hard = s[:n-1], true
	}
	v, err := strconv.ParseUint(num, 10, 31)
	if err != nil || num == "" || num[0] == '+' || (len(num) > 1 && num[0] == '0') {
		return 0, fmt.Errorf("%q is not a derivation step", short(s))
	}
	if hard {
		if !allowHard {
			return 0, fmt.Errorf("hardened step %s", s)
		}
		v |= 1 << 31
	}
	return uint32(v), nil
}

// check expands the record and verifies the first address on net.
func (r *DescriptorRecord) check(net *chaincfg.Params) ([]*descriptor.Descriptor, error) {
	ds, err := r.Descriptors()
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if d.HasPrivateKeys() {
			return nil, errors.New("setup: descriptor record holds private keys")
		}
	}
	addr, err := ds[0].Address(0, 0, net)
	if err != nil {
		return nil, fmt.Errorf("setup: first address: %w", err)
	}
	if addr != r.FirstAddress {
		return nil, fmt.Errorf("setup: first address is %s, the record says %q", addr, short(r.FirstAddress))
	}
	return ds, nil
}

// Multipath is the record as one vault descriptor: the descriptor itself
// without restrictions, or, when every restriction is "/N/*", the template
// with "/**" replaced by "/<N1;N2;...>/*" (so "/0/*,/1/*" gives the
// vault's "/<0;1>/*").
func (r *DescriptorRecord) Multipath() (*descriptor.Descriptor, error) {
	if r.PathRestrictions == NoPathRestrictions {
		ds, err := r.Descriptors()
		if err != nil {
			return nil, err
		}
		return ds[0], nil
	}
	paths, err := parseRestrictions(r.PathRestrictions)
	if err != nil {
		return nil, err
	}
	alts := make([]string, len(paths))
	for i, p := range paths {
		n, ok := strings.CutSuffix(strings.TrimPrefix(p, "/"), "/*")
		if !ok || strings.Contains(n, "/") {
			return nil, fmt.Errorf("setup: path restriction %s is not /N/*, no multipath descriptor", p)
		}
		alts[i] = n
	}
	group := "/" + alts[0] + "/*"
	if len(alts) > 1 {
		group = "/<" + strings.Join(alts, ";") + ">/*"
	}
	body, _, _ := strings.Cut(r.Descriptor, "#")
	if _, err := r.Descriptors(); err != nil {
		return nil, err
	}
	d, err := descriptor.Parse(strings.ReplaceAll(body, "/**", group))
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	return d, nil
}

// NewDescriptorRecord writes a vault descriptor as a descriptor record for
// net: a "/<0;1>/*" multipath descriptor becomes the template "/**" with
// "/0/*,/1/*"; a descriptor without multipath is written as is, with its
// checksum and NoPathRestrictions.
func NewDescriptorRecord(d *descriptor.Descriptor, net *chaincfg.Params) (*DescriptorRecord, error) {
	if d.HasPrivateKeys() {
		return nil, errors.New("setup: descriptor holds private keys")
	}
	r := &DescriptorRecord{Descriptor: d.String(), PathRestrictions: NoPathRestrictions}
	switch d.PathCount() {
	case 1:
	case 2:
		body, _, _ := strings.Cut(d.String(), "#")
		tmpl := strings.ReplaceAll(body, "/<0;1>/*", "/**")
		if strings.Contains(tmpl, "<") || strings.Count(body, "**") > 0 {
			return nil, errors.New("setup: only /<0;1>/* multipath descriptors can be written as a BSMS template")
		}
		r.Descriptor, r.PathRestrictions = tmpl, "/0/*,/1/*"
	default:
		return nil, fmt.Errorf("setup: descriptor with %d multipath branches", d.PathCount())
	}
	ds, err := r.Descriptors()
	if err != nil {
		return nil, err
	}
	if r.FirstAddress, err = ds[0].Address(0, 0, net); err != nil {
		return nil, fmt.Errorf("setup: first address: %w", err)
	}
	return r, nil
}

// knownNets are the networks Encode accepts a record for.
var knownNets = []*chaincfg.Params{
	&chaincfg.MainNetParams, &chaincfg.TestNet3Params, &chaincfg.TestNet4Params,
	&chaincfg.SigNetParams, &chaincfg.RegressionNetParams,
}

// Encode writes the record, encrypted with token unless it is nil or 00.
// The record must check out on mainnet, testnet, signet or regtest.
func (r *DescriptorRecord) Encode(token []byte) ([]byte, error) {
	for _, s := range []string{r.Descriptor, r.PathRestrictions, r.FirstAddress} {
		if s == "" || strings.ContainsAny(s, "\r\n") {
			return nil, errors.New("setup: descriptor record field empty or with a line break")
		}
	}
	var err error
	for _, net := range knownNets {
		if _, err = r.check(net); err == nil {
			return seal(Version+"\n"+r.Descriptor+"\n"+r.PathRestrictions+"\n"+r.FirstAddress, token)
		}
	}
	return nil, err
}

// KeyPositions are the positions (from 0, in textual order) at which key,
// a KEY line "[fingerprint/path]xpub" or "[fingerprint/path]pubkey", occurs
// in the record's descriptor: same origin and same key, compared exactly,
// not by fingerprint alone (BIP-129 round 2). None is an error.
func (r *DescriptorRecord) KeyPositions(key string) ([]int, error) {
	want, err := descriptor.ParseKey(key)
	if err != nil || want.Origin == nil {
		return nil, fmt.Errorf("setup: %q is not a key with an origin", short(key))
	}
	ds, err := r.Descriptors()
	if err != nil {
		return nil, err
	}
	var pos []int
	for i, k := range ds[0].Keys() {
		if k.Origin != nil && k.Origin.Fingerprint == want.Origin.Fingerprint &&
			slices.Equal(k.Origin.Path, want.Origin.Path) &&
			k.IsExtended() == want.IsExtended() && k.ExtendedKey() == want.ExtendedKey() &&
			bytes.Equal(k.PubKey(), want.PubKey()) {
			pos = append(pos, i)
		}
	}
	if len(pos) == 0 {
		return nil, errors.New("setup: the key is not in the descriptor record")
	}
	return pos, nil
}
