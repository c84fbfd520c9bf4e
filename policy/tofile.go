package policy

import (
	"bytes"
	"fmt"
	"math/big"
	"time"

	"gopkg.in/yaml.v3"
)

// ToFile writes a policy version back in its source form, so a person
// can edit it into the next version (ParseFile and Next read it back;
// for a genesis, Genesis gives the same policy). Descriptors are left
// out: they are built from the signers' keys, so an edited signer list
// needs no hand-made descriptor.
func ToFile(p *Policy) *File {
	f := &File{
		Name: p.Name, Network: p.Network,
		MaxProposalLifetime: formatDuration(p.MaxProposalLifetime),
		PolicyThreshold:     p.PolicyThreshold,
	}
	if p.ChangeDelay != 0 {
		f.ChangeDelay = formatDuration(p.ChangeDelay)
	}
	if p.DefaultDeny {
		f.Default = "deny"
	}
	if p.ProposerCounts {
		no := false
		f.SeparationOfDuties = &no
	}
	for _, c := range p.Coordinators {
		f.Coordinators = append(f.Coordinators, FileCoordinator{ID: c.ID, Identity: EncodeIdentity(c.Identity)})
	}
	for _, part := range p.Participants {
		fp := FileParticipant{ID: part.ID, Name: part.Name, Roles: part.Roles, Identity: EncodeIdentity(part.Identity)}
		if part.Revoked != nil {
			fp.Revoked = part.Revoked.Reason
		}
		for _, d := range part.Devices {
			fd := FileDevice{ID: d.ID, Kind: d.Kind, Vendor: d.Vendor, Model: d.Model, Key: d.Key, Ethereum: d.Ethereum}
			if d.Revoked != nil {
				fd.Revoked = d.Revoked.Reason
			}
			fp.Devices = append(fp.Devices, fd)
		}
		f.Participants = append(f.Participants, fp)
	}
	for _, a := range p.Assets {
		f.Assets = append(f.Assets, FileAsset{Symbol: a.Symbol, Chain: a.Chain, Token: a.Token, Decimals: a.Decimals})
	}
	for _, g := range p.Groups {
		f.Groups = append(f.Groups, FileGroup{Name: g.Name, Members: g.Members})
	}
	for _, a := range p.AddressBook {
		f.AddressBook = append(f.AddressBook, FileAddress{Label: a.Label, Chain: a.Chain, ChainID: a.ChainID, Address: a.Address, Vaults: a.Vaults})
	}
	f.TransactionRules = p.fileRules(p.TxRules)
	for i := range p.Vaults {
		v := &p.Vaults[i]
		fv := FileVault{
			Name: v.Name, Chain: v.Chain, Threshold: v.Threshold, Signers: v.Signers, Script: v.Script,
			Limits: FileLimits{MaxFee: v.Limits.MaxFee, MaxFeeRate: v.Limits.MaxFeeRate, MaxFeePercent: v.Limits.MaxFeePercent},
			Rules:  FileRules{MinVendors: v.Rules.MinVendors, MinKinds: v.Rules.MinKinds, ForbidSoftware: v.Rules.ForbidSoftware},
		}
		if v.Rules.HealthMaxAge != 0 {
			fv.Rules.HealthMaxAge = formatDuration(v.Rules.HealthMaxAge)
		}
		if r := v.Recovery; r != nil {
			fv.Recovery = &FileRecovery{Signer: r.Signer, AfterBlocks: r.After}
		}
		if s := v.Safe; s != nil {
			fv.Safe = &FileSafe{Address: s.Address, ChainID: s.ChainID, Version: s.Version, AllowEthSign: s.AllowEthSign, Severities: s.Severities}
			for _, t := range s.Trusted {
				fv.Safe.Trusted = append(fv.Safe.Trusted, FileTrusted{Name: t.Name, Address: t.Address, CodeHash: t.CodeHash})
			}
		}
		fv.TransactionRules = p.fileRules(v.TxRules)
		if e := v.Emergency; e != nil {
			fe := &FileEmergency{Delay: e.Delay, Target: e.Target, To: e.To}
			for _, a := range e.Actions {
				fe.Actions = append(fe.Actions, string(a))
			}
			fv.Emergency = fe
		}
		f.Vaults = append(f.Vaults, fv)
	}
	for _, t := range p.Templates {
		dec := 0
		if a, ok := p.asset(t.Asset); ok {
			dec = a.Decimals
		}
		amount := func(s string) string {
			n, ok := new(big.Int).SetString(s, 10)
			if s == "" || !ok {
				return s
			}
			return FormatAmount(n, dec)
		}
		ft := FileTemplate{Name: t.Name, Vault: t.Vault, Asset: t.Asset, To: t.To, Max: amount(t.Max),
			Rate:    &FileRate{Count: t.Rate.Count, Max: amount(t.Rate.Max), Period: formatDuration(t.Rate.Period)},
			Require: fileNeed(t.Require), Automated: t.Automated}
		if sc := t.Schedule; sc != nil {
			ft.Schedule = &FileSchedule{Zone: sc.Zone, Days: sc.Days, Hours: formatHours(sc.From, sc.Until)}
		}
		f.Templates = append(f.Templates, ft)
	}
	return f
}

// formatDuration writes seconds as a Go duration in whole hours ("72h"),
// minutes or seconds, as people write them.
func formatDuration(s int64) string {
	switch {
	case s%3600 == 0:
		return fmt.Sprintf("%dh", s/3600)
	case s%60 == 0:
		return fmt.Sprintf("%dm", s/60)
	}
	return (time.Duration(s) * time.Second).String()
}

func (p *Policy) fileRules(rules []TxRule) []FileRule {
	var out []FileRule
	for _, r := range rules {
		fr := FileRule{Name: r.Name, Kind: string(r.Kind), Asset: r.Asset, Zone: r.Zone, Days: r.Days, To: r.To}
		dec := 0
		if a, ok := p.asset(r.Asset); ok {
			dec = a.Decimals
		}
		amount := func(s string) string {
			n, ok := new(big.Int).SetString(s, 10)
			if s == "" || !ok {
				return s
			}
			return FormatAmount(n, dec)
		}
		fr.Max, fr.Above = amount(r.Max), amount(r.Above)
		if r.Period != 0 {
			fr.Period = formatDuration(r.Period)
		}
		if r.Kind == RuleWindow {
			fr.Hours = formatHours(r.From, r.Until)
		}
		for _, a := range r.Actions {
			fr.Actions = append(fr.Actions, string(a))
		}
		fr.Require = fileNeed(r.Require)
		out = append(out, fr)
	}
	return out
}

func fileNeed(n *Need) *FileNeed {
	if n == nil {
		return nil
	}
	out := &FileNeed{Group: n.Group, Count: n.Count}
	for i := range n.All {
		out.All = append(out.All, *fileNeed(&n.All[i]))
	}
	for i := range n.Any {
		out.Any = append(out.Any, *fileNeed(&n.Any[i]))
	}
	return out
}

// YAML writes the file as YAML, leaving out empty fields.
func (f *File) YAML() ([]byte, error) {
	var n yaml.Node
	if err := n.Encode(f); err != nil {
		return nil, err
	}
	prune(&n)
	vaultsLast(&n)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// prune drops mapping entries whose values are empty (but keeps
// separation_of_duties, whose false is meaningful).
func prune(n *yaml.Node) {
	for _, c := range n.Content {
		prune(c)
	}
	if n.Kind != yaml.MappingNode {
		return
	}
	var keep []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		empty := false
		switch v.Kind {
		case yaml.ScalarNode:
			empty = v.Tag == "!!null" || (v.Value == "" && v.Tag == "!!str") || (v.Value == "0" && v.Tag == "!!int") ||
				(v.Value == "false" && k.Value != "separation_of_duties")
		case yaml.SequenceNode, yaml.MappingNode:
			empty = len(v.Content) == 0
		}
		if !empty {
			keep = append(keep, k, v)
		}
	}
	n.Content = keep
}

// vaultsLast moves the vaults to the end of the document, as people
// write a policy: who, then what they guard.
func vaultsLast(n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "vaults" {
			k, v := n.Content[i], n.Content[i+1]
			n.Content = append(append(n.Content[:i:i], n.Content[i+2:]...), k, v)
			return
		}
	}
}
