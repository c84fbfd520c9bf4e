package workspace

import (
	"errors"
	"fmt"
	"slices"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
)

// ErrNotMember: a policy does not list this workspace (its name with its
// identity key, and at a station a device holding its chain key).
var ErrNotMember = errors.New("workspace: not a member of the policy")

// memberError says how a policy fails to list the workspace.
type memberError struct{ msg string }

func (e *memberError) Error() string   { return e.msg }
func (e *memberError) Is(t error) bool { return t == ErrNotMember }

// Member finds this workspace in p: a station as a participant with its
// identity key and a device holding its chain key (it returns the
// participant and the device's id); a coordinator by name and identity
// key (it returns nil and ""). Anything else is ErrNotMember.
func (w *Workspace) Member(p *policy.Policy) (*policy.Participant, string, error) {
	if w.Config.Role != Station {
		if c, ok := p.Coordinator(w.Config.Name); !ok || policy.EncodeIdentity(c.Identity) != w.Config.Identity {
			return nil, "", &memberError{fmt.Sprintf("policy %s does not list this coordinator (%q with its identity key)", p.Name, w.Config.Name)}
		}
		return nil, "", nil
	}
	part, ok := p.Participant(w.Config.Name)
	if !ok {
		return nil, "", &memberError{fmt.Sprintf("policy %s version %d does not list participant %q", p.Name, p.Version, w.Config.Name)}
	}
	if policy.EncodeIdentity(part.Identity) != w.Config.Identity {
		return nil, "", &memberError{fmt.Sprintf("policy %s does not list this station (%q with its identity key)", p.Name, w.Config.Name)}
	}
	for _, d := range part.Devices {
		if d.Key == w.Config.Key {
			return part, d.ID, nil
		}
	}
	return nil, "", &memberError{fmt.Sprintf("policy %s records no device of %q with this station's key %s", p.Name, part.ID, w.Config.Key)}
}

// ImportPolicy adopts a fully signed policy version: it is authenticated
// first by the version that must approve it (the stored chain, verified;
// a genesis by its own participants), then this workspace must be a
// member of it, then it is stored with its audit entry. A station whose
// device id changed in the new version follows it.
func (w *Workspace) ImportPolicy(e *envelope.Envelope, reg *chain.Registry) (*policy.Policy, error) {
	return w.importPolicy(e, reg, true)
}

// ImportPolicies imports versions in order, as ImportPolicy does, but
// asks this workspace to be a member of the last one only: a participant
// who joins in version N holds the chain from the genesis on.
func (w *Workspace) ImportPolicies(es []*envelope.Envelope, reg *chain.Registry) ([]*policy.Policy, error) {
	if len(es) == 0 {
		return nil, fmt.Errorf("workspace: no policy to import")
	}
	if err := policy.SortVersions(es); err != nil {
		return nil, err
	}
	// All of it verifies, with what is held, and lists this workspace
	// at its end, before anything is stored.
	held, err := w.Policies()
	if err != nil {
		return nil, err
	}
	all := append([]*envelope.Envelope(nil), held...)
	for _, e := range es {
		if !slices.ContainsFunc(all, func(h *envelope.Envelope) bool { return h.ID() == e.ID() }) {
			all = append(all, e)
		}
	}
	if err := policy.SortVersions(all); err != nil {
		return nil, err
	}
	chainOut, err := policy.Verify(all, reg)
	if err != nil {
		return nil, err
	}
	if _, _, err := w.Member(chainOut[len(chainOut)-1]); err != nil {
		return nil, fmt.Errorf("%w; nothing imported", err)
	}
	var out []*policy.Policy
	for i, e := range es {
		p, err := w.importPolicy(e, reg, i == len(es)-1)
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (w *Workspace) importPolicy(e *envelope.Envelope, reg *chain.Registry, member bool) (*policy.Policy, error) {
	p, err := policy.Open(e)
	if err != nil {
		return nil, err
	}
	var prev *policy.Policy
	if p.Version > 1 {
		held, err := w.Policies()
		if err != nil {
			return nil, err
		}
		verified, err := policy.Verify(held, reg)
		if err != nil {
			return nil, fmt.Errorf("workspace: the policy chain this workspace holds does not verify: %w", err)
		}
		if len(verified) < int(p.Version)-1 {
			return nil, fmt.Errorf("workspace: policy %s version %d needs version %d first; this workspace holds %d versions", p.Name, p.Version, p.Version-1, len(verified))
		}
		prev = verified[p.Version-2]
	}
	if _, err := policy.Check(e, prev, reg); err != nil {
		return nil, err
	}
	if !member {
		return w.AddPolicy(e, reg, func(p *policy.Policy) (string, map[string]string) {
			return "policy.imported", map[string]string{"name": p.Name, "version": fmt.Sprint(p.Version)}
		})
	}
	_, dev, err := w.Member(p)
	if err != nil {
		return nil, fmt.Errorf("%w; not imported", err)
	}
	if w.Config.Role == Station && dev != w.Config.Device {
		if err := w.SetDevice(dev); err != nil {
			return nil, err
		}
	}
	return w.AddPolicy(e, reg, func(p *policy.Policy) (string, map[string]string) {
		return "policy.imported", map[string]string{"name": p.Name, "version": fmt.Sprint(p.Version)}
	})
}
