// Package workspace is one airlock workspace on disk: a coordinator's or a
// signer station's folder.
//
//	DIR/airlock.json   role, name, network and public keys (no secrets)
//	DIR/keystore.age   the age-encrypted keystore (package keystore)
//	DIR/state.db       bbolt: policy versions, proposals, approvals, final
//	                   transactions and the station's double-sign records
//	DIR/audit/         the append-only Merkle audit log (package audit)
//
// Every change to state.db is one bbolt transaction, so a refused or
// interrupted command leaves the store as it was.
package workspace

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
)

// Roles.
const (
	Station     = "station"
	Coordinator = "coordinator"
)

// Config is DIR/airlock.json: everything public about the workspace.
type Config struct {
	Format   int       `json:"format"`
	Role     string    `json:"role"`
	Name     string    `json:"name"`
	Network  string    `json:"network"`
	Created  time.Time `json:"created"`
	Identity string    `json:"identity"`         // ed25519:<base64>
	Key      string    `json:"key,omitempty"`    // station: [fp/path]xpub
	Device   string    `json:"device,omitempty"` // station: device id in the policy
	// Ethereum is the station's Safe owner key, [fp/44'/60'/0'/0/0]0xAddress.
	Ethereum string `json:"ethereum,omitempty"`
	// MediaAllow lists the folders exports may write to (absolute, with
	// symbolic links resolved).
	MediaAllow []string `json:"media_allow,omitempty"`
	// Token is set when the workspace's keys live on a PKCS#11 token
	// instead of in keystore.age.
	Token *Token `json:"token,omitempty"`
}

// Token says where a workspace's keys live on a PKCS#11 token. The keys
// never leave it; the workspace records only where to find them, and
// Identity and Key record what they must be, so a swapped token or a
// replaced key is refused.
type Token struct {
	Module      string `json:"module"`              // the PKCS#11 library
	Label       string `json:"label"`               // the token's label
	Serial      string `json:"serial,omitempty"`    // the token's serial number when the keys were made
	Vendor      string `json:"vendor,omitempty"`    // as the token reports it
	Model       string `json:"model,omitempty"`     // as the token reports it
	IdentityKey string `json:"identity_key"`        // label of the Ed25519 identity key
	ChainKey    string `json:"chain_key,omitempty"` // label of the secp256k1 chain key (stations)
}

// Origin names this workspace in manifests: "station/alice".
func (c Config) Origin() string { return c.Role + "/" + c.Name }

var (
	bPolicy    = []byte("policy")    // big-endian version → policy envelope
	bProposals = []byte("proposals") // proposal id → envelope
	bApprovals = []byte("approvals") // proposal id || participant → approval envelope
	bSpends    = []byte("spends")    // resource → proposal id (stations)
	bDecisions = []byte("decisions") // proposal id → own approval envelope (stations)
	bFinal     = []byte("final")     // proposal id → proof envelope
	bChannels  = []byte("channels")  // "out:"/"in:" + peer → last sequence number
	bWitness   = []byte("witness")   // stations: origin → last coordinator checkpoint seen; coordinators: "size:" + participant → cosignature record
	bHealth    = []byte("health")    // stations: device id → latest device check (CBOR)
	buckets    = [][]byte{bPolicy, bProposals, bApprovals, bSpends, bDecisions, bFinal, bChannels, bWitness, bHealth}
)

// Errors callers branch on.
var (
	ErrNotWorkspace = errors.New("workspace: not an airlock workspace")
	ErrDuplicate    = errors.New("workspace: duplicate")
	ErrConflict     = errors.New("workspace: conflicting proposal")
	ErrNotFound     = errors.New("workspace: not found")
)

// Workspace is an open workspace.
type Workspace struct {
	Dir    string
	Config Config
	db     *bolt.DB
}

// Init creates a workspace in dir (created if missing; it must hold no
// workspace yet).
func Init(dir string, cfg Config) (*Workspace, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("workspace: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "airlock.json")); err == nil {
		return nil, fmt.Errorf("workspace: %s already holds a workspace", dir)
	}
	cfg.Format = 1
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := WriteFileAtomic(filepath.Join(dir, "airlock.json"), append(b, '\n'), 0o600); err != nil {
		return nil, err
	}
	return Open(dir)
}

// Open opens the workspace in dir.
func Open(dir string) (*Workspace, error) {
	b, err := os.ReadFile(filepath.Join(dir, "airlock.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no airlock.json", ErrNotWorkspace, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("workspace: %v", err)
	}
	var cfg Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("workspace: %s/airlock.json: %v", dir, err)
	}
	if cfg.Format != 1 || (cfg.Role != Station && cfg.Role != Coordinator) {
		return nil, fmt.Errorf("workspace: %s/airlock.json: unknown format or role", dir)
	}
	db, err := bolt.Open(filepath.Join(dir, "state.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("workspace: open state: %v (is another airlock running here?)", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range buckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("workspace: %v", err)
	}
	return &Workspace{Dir: dir, Config: cfg, db: db}, nil
}

// Close closes the store.
func (w *Workspace) Close() error { return w.db.Close() }

// KeystorePath is where the workspace's keystore lives.
func (w *Workspace) KeystorePath() string { return filepath.Join(w.Dir, "keystore.age") }

// AuditDir is where the workspace's audit log lives.
func (w *Workspace) AuditDir() string { return filepath.Join(w.Dir, "audit") }

// SetDevice records the station's device id.
func (w *Workspace) SetDevice(id string) error {
	w.Config.Device = id
	return w.saveConfig()
}

// AllowMedia adds a folder to the export allowlist.
func (w *Workspace) AllowMedia(dir string) error {
	for _, d := range w.Config.MediaAllow {
		if d == dir {
			return nil
		}
	}
	w.Config.MediaAllow = append(w.Config.MediaAllow, dir)
	return w.saveConfig()
}

func (w *Workspace) saveConfig() error {
	b, err := json.MarshalIndent(w.Config, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(w.Dir, "airlock.json"), append(b, '\n'), 0o600)
}

// AddPolicy stores a complete policy version after checking that it
// follows the stored chain. Storing the same version again is a no-op.
func (w *Workspace) AddPolicy(e *envelope.Envelope, reg *chain.Registry) (*policy.Policy, error) {
	versions, err := w.Policies()
	if err != nil {
		return nil, err
	}
	p, err := policy.Open(e)
	if err != nil {
		return nil, err
	}
	for _, v := range versions {
		if v.ID() == e.ID() {
			return p, nil
		}
		if held, err := policy.Open(v); err == nil && held.Version == p.Version {
			return nil, fmt.Errorf("%w: this workspace already holds %s version %d with id %s, this one is %s: two different versions with one number (a fork); refused", policy.ErrBrokenChain, p.Name, p.Version, v.IDHex()[:16], e.IDHex()[:16])
		}
	}
	if _, err := policy.Verify(append(versions, e), reg); err != nil {
		return nil, err
	}
	raw, err := e.Encode()
	if err != nil {
		return nil, err
	}
	err = w.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bPolicy).Put(be64(p.Version), raw)
	})
	return p, err
}

// Policies returns the stored policy versions, oldest first.
func (w *Workspace) Policies() ([]*envelope.Envelope, error) {
	return w.list(bPolicy)
}

// Policy verifies the stored chain and returns its newest version and id.
func (w *Workspace) Policy(reg *chain.Registry) (*policy.Policy, [32]byte, error) {
	versions, err := w.Policies()
	if err != nil {
		return nil, [32]byte{}, err
	}
	if len(versions) == 0 {
		return nil, [32]byte{}, fmt.Errorf("%w: no policy in %s", ErrNotFound, w.Dir)
	}
	chainOut, err := policy.Verify(versions, reg)
	if err != nil {
		return nil, [32]byte{}, err
	}
	return chainOut[len(chainOut)-1], versions[len(versions)-1].ID(), nil
}

// PutProposal stores a proposal envelope under its id.
func (w *Workspace) PutProposal(e *envelope.Envelope) error {
	raw, err := e.Encode()
	if err != nil {
		return err
	}
	id := e.ID()
	return w.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bProposals).Put(id[:], raw)
	})
}

// Proposal finds a stored proposal by id or unique hex prefix (at least 4
// digits).
func (w *Workspace) Proposal(ref string) (*envelope.Envelope, error) {
	ref = strings.ToLower(ref)
	if len(ref) < 4 {
		return nil, fmt.Errorf("workspace: proposal reference %q is shorter than 4 hex digits", ref)
	}
	var found []byte
	n := 0
	err := w.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bProposals).ForEach(func(k, v []byte) error {
			if strings.HasPrefix(hex.EncodeToString(k), ref) {
				found, n = bytes.Clone(v), n+1
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	switch n {
	case 0:
		return nil, fmt.Errorf("%w: no proposal %s", ErrNotFound, ref)
	case 1:
		return envelope.Decode(found)
	}
	return nil, fmt.Errorf("workspace: %d proposals start with %s", n, ref)
}

// Proposals lists stored proposals, in id order.
func (w *Workspace) Proposals() ([]*envelope.Envelope, error) {
	return w.list(bProposals)
}

// list decodes every envelope in a bucket, in key order.
func (w *Workspace) list(bucket []byte) ([]*envelope.Envelope, error) {
	var out []*envelope.Envelope
	err := w.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			e, err := envelope.Decode(v)
			if err != nil {
				return fmt.Errorf("workspace: stored %s %x: %w", bucket, k, err)
			}
			out = append(out, e)
			return nil
		})
	})
	return out, err
}

// PutApproval stores a collected approval. A second decision by the same
// participant on the same proposal is refused with ErrDuplicate.
func (w *Workspace) PutApproval(proposalID [32]byte, participant string, e *envelope.Envelope) error {
	raw, err := e.Encode()
	if err != nil {
		return err
	}
	key := append(proposalID[:], []byte(participant)...)
	return w.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bApprovals)
		if prev := b.Get(key); prev != nil {
			pe, err := envelope.Decode(prev)
			if err == nil && pe.ID() == e.ID() {
				return fmt.Errorf("%w: this approval by %q was already collected", ErrDuplicate, participant)
			}
			return fmt.Errorf("%w: %q already decided on proposal %x", ErrDuplicate, participant, proposalID[:4])
		}
		return b.Put(key, raw)
	})
}

// Approvals returns the approvals stored for a proposal, by participant.
func (w *Workspace) Approvals(proposalID [32]byte) (map[string]*envelope.Envelope, error) {
	out := map[string]*envelope.Envelope{}
	err := w.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bApprovals).Cursor()
		for k, v := c.Seek(proposalID[:]); k != nil && bytes.HasPrefix(k, proposalID[:]); k, v = c.Next() {
			e, err := envelope.Decode(v)
			if err != nil {
				return err
			}
			out[string(k[32:])] = e
		}
		return nil
	})
	return out, err
}

// Conflict is a resource another proposal already spends.
type Conflict struct {
	Resource string
	Proposal [32]byte
}

// Decide records a station's decision on a proposal in one transaction:
// for an approval, it claims every resource the transaction spends. If any
// resource is already claimed by a different proposal, nothing is written
// and the conflicts are returned with ErrConflict — unless override is set.
// Deciding twice on one proposal is refused with ErrDuplicate.
func (w *Workspace) Decide(proposalID [32]byte, spends []string, approve, override bool, e *envelope.Envelope) ([]Conflict, error) {
	raw, err := e.Encode()
	if err != nil {
		return nil, err
	}
	var conflicts []Conflict
	err = w.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bDecisions).Get(proposalID[:]) != nil {
			return fmt.Errorf("%w: this station already decided on proposal %x", ErrDuplicate, proposalID[:4])
		}
		sb := tx.Bucket(bSpends)
		if approve {
			for _, s := range spends {
				if prev := sb.Get([]byte(s)); prev != nil && !bytes.Equal(prev, proposalID[:]) {
					var c Conflict
					c.Resource = s
					copy(c.Proposal[:], prev)
					conflicts = append(conflicts, c)
				}
			}
			if len(conflicts) > 0 && !override {
				return ErrConflict
			}
			for _, s := range spends {
				if err := sb.Put([]byte(s), proposalID[:]); err != nil {
					return err
				}
			}
		}
		return tx.Bucket(bDecisions).Put(proposalID[:], raw)
	})
	return conflicts, err
}

// Decision returns the station's own decision on a proposal, if any.
func (w *Workspace) Decision(proposalID [32]byte) (*envelope.Envelope, error) {
	var raw []byte
	w.db.View(func(tx *bolt.Tx) error {
		raw = bytes.Clone(tx.Bucket(bDecisions).Get(proposalID[:]))
		return nil
	})
	if raw == nil {
		return nil, ErrNotFound
	}
	return envelope.Decode(raw)
}

// PutFinal records the threshold proof of a finalized proposal. A proposal
// is finalized once.
func (w *Workspace) PutFinal(proposalID [32]byte, proof *envelope.Envelope) error {
	raw, err := proof.Encode()
	if err != nil {
		return err
	}
	return w.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bFinal)
		if b.Get(proposalID[:]) != nil {
			return fmt.Errorf("%w: proposal %x is already finalized", ErrDuplicate, proposalID[:4])
		}
		return b.Put(proposalID[:], raw)
	})
}

// PutHealth records a device's latest health check, replacing the last.
func (w *Workspace) PutHealth(device string, record []byte) error {
	return w.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bHealth).Put([]byte(device), record)
	})
}

// Health returns a device's latest health check, or ErrNotFound.
func (w *Workspace) Health(device string) ([]byte, error) {
	var raw []byte
	w.db.View(func(tx *bolt.Tx) error {
		raw = bytes.Clone(tx.Bucket(bHealth).Get([]byte(device)))
		return nil
	})
	if raw == nil {
		return nil, ErrNotFound
	}
	return raw, nil
}

// Final returns a proposal's threshold proof, if finalized.
func (w *Workspace) Final(proposalID [32]byte) (*envelope.Envelope, error) {
	var raw []byte
	w.db.View(func(tx *bolt.Tx) error {
		raw = bytes.Clone(tx.Bucket(bFinal).Get(proposalID[:]))
		return nil
	})
	if raw == nil {
		return nil, ErrNotFound
	}
	return envelope.Decode(raw)
}

// SortedKeys returns a map's keys in order.
func SortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func be64(v uint64) []byte {
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	return b
}

// WriteFileAtomic writes data to path through a synced temporary file and a
// rename, so readers see the old file or the new one, never half of one.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("workspace: %v", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("workspace: %v", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("workspace: %v", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("workspace: %v", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("workspace: %v", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("workspace: %v", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Conflicts lists the resources in spends that a different proposal the
// station approved already spends.
func (w *Workspace) Conflicts(proposalID [32]byte, spends []string) ([]Conflict, error) {
	var out []Conflict
	err := w.db.View(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bSpends)
		for _, s := range spends {
			if prev := sb.Get([]byte(s)); prev != nil && !bytes.Equal(prev, proposalID[:]) {
				c := Conflict{Resource: s}
				copy(c.Proposal[:], prev)
				out = append(out, c)
			}
		}
		return nil
	})
	return out, err
}

// NextSequence reserves the next sequence number on the channel to peer.
func (w *Workspace) NextSequence(peer string) (uint64, error) {
	var n uint64
	err := w.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bChannels)
		key := []byte("out:" + peer)
		if v := b.Get(key); v != nil {
			n = binary.BigEndian.Uint64(v)
		}
		n++
		return b.Put(key, be64(n))
	})
	return n, err
}

// ErrReplay is returned by Receive for a sequence number already seen.
var ErrReplay = errors.New("workspace: replayed sequence number")

// LastReceived is the last sequence number received from peer (0: none).
func (w *Workspace) LastReceived(peer string) uint64 {
	var n uint64
	w.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bChannels).Get([]byte("in:" + peer)); v != nil {
			n = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return n
}

// Receive records sequence number seq from peer, after the transfer it
// numbers has been kept. A number at or below the last one is a replay.
func (w *Workspace) Receive(peer string, seq uint64) error {
	return w.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bChannels)
		key := []byte("in:" + peer)
		if v := b.Get(key); v != nil && seq <= binary.BigEndian.Uint64(v) {
			return fmt.Errorf("%w: %d from %s, last was %d", ErrReplay, seq, peer, binary.BigEndian.Uint64(v))
		}
		return b.Put(key, be64(seq))
	})
}

// PutWitness stores a witness record under key.
func (w *Workspace) PutWitness(key string, value []byte) error {
	return w.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bWitness).Put([]byte(key), value) })
}

// Witness returns the witness record under key, or nil.
func (w *Workspace) Witness(key string) []byte {
	var v []byte
	w.db.View(func(tx *bolt.Tx) error {
		v = bytes.Clone(tx.Bucket(bWitness).Get([]byte(key)))
		return nil
	})
	return v
}

// Witnesses returns every witness record whose key starts with prefix.
func (w *Workspace) Witnesses(prefix string) map[string][]byte {
	out := map[string][]byte{}
	w.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bWitness).Cursor()
		for k, v := c.Seek([]byte(prefix)); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, v = c.Next() {
			out[string(k)] = bytes.Clone(v)
		}
		return nil
	})
	return out
}
