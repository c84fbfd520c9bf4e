package serve

import (
	"encoding/json"
	"time"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/policy"
)

// ProposeRequest is the body of POST /v1/proposals.
type ProposeRequest struct {
	Vault string `json:"vault"`
	// PSBT is an unsigned PSBT in base64; SafeTx, instead, a Safe
	// transaction as the Safe Transaction Service's JSON names its fields.
	PSBT   string          `json:"psbt,omitempty"`
	SafeTx json.RawMessage `json:"safe_tx,omitempty"`
	Intent string          `json:"intent,omitempty"`
	// Lifetime is a Go duration ("24h"); empty: the policy's maximum.
	Lifetime string `json:"lifetime,omitempty"`
	// Template names the policy's template the payment is made under.
	// With a PSBT it constrains it; with To, Amount and Nonce instead,
	// the service builds the Safe payment itself (as "propose --template
	// --to --amount --nonce"), and Vault may be left out.
	Template string  `json:"template,omitempty"`
	To       string  `json:"to,omitempty"`
	Amount   string  `json:"amount,omitempty"`
	Nonce    *uint64 `json:"nonce,omitempty"`
	// Urgent marks an emergency: every station shows it.
	Urgent bool `json:"urgent,omitempty"`
}

// Proposal is a proposal as the API shows it.
type Proposal struct {
	ID         string            `json:"id"`
	Vault      string            `json:"vault"`
	Chain      string            `json:"chain"`
	TxID       string            `json:"txid"`
	State      string            `json:"state"`
	Intent     string            `json:"intent,omitempty"`
	Created    time.Time         `json:"created"`
	Expires    time.Time         `json:"expires"`
	Threshold  int               `json:"threshold"`
	Signers    int               `json:"signers"`
	Tally      string            `json:"tally"`
	Approvals  []string          `json:"approvals"`
	Rejections map[string]string `json:"rejections"`
	WaitingFor []string          `json:"waiting_for"`
	Note       string            `json:"note,omitempty"`
	Duplicates []string          `json:"duplicates,omitempty"`
	// Only for one proposal:
	Decisions    []Decision      `json:"decisions,omitempty"`
	Review       *Review         `json:"review,omitempty"`
	Verdict      *policy.Verdict `json:"verdict,omitempty"`
	VerdictError string          `json:"verdict_error,omitempty"`
}

// Decision is one participant's stored decision.
type Decision struct {
	Participant string `json:"participant"`
	Decision    string `json:"decision"`
	Reason      string `json:"reason,omitempty"`
	Approval    string `json:"approval"` // the envelope id
}

// Review is the coordinator's decoding of the payload.
type Review struct {
	Lines   []string     `json:"lines"`
	Flags   []chain.Flag `json:"flags"`
	Spends  []string     `json:"spends"`
	Details any          `json:"details,omitempty"`
}

// HandIn is the answer to a hand-in: the decisions it recorded (several
// for a PSBT signed by several external devices).
type HandIn struct {
	Proposal  string     `json:"proposal"`
	Decisions []Decision `json:"decisions"`
}

// Finalized is the answer to finalize.
type Finalized struct {
	Proposal    string `json:"proposal"`
	TxID        string `json:"txid"`
	Transaction string `json:"transaction"` // hex
	Proof       string `json:"proof"`       // the threshold proof envelope, base64
	ProofID     string `json:"proof_id"`
	Again       bool   `json:"again"`
}

// WithdrawRequest is the body of withdraw.
type WithdrawRequest struct {
	Reason string `json:"reason"`
}

// Withdrawn is the answer to withdraw.
type Withdrawn struct {
	Proposal string `json:"proposal"`
	State    string `json:"state"`
	Release  string `json:"release"` // the signed release envelope, base64
}

// Entry is one audit log entry.
type Entry struct {
	Index   int64             `json:"index"`
	Time    time.Time         `json:"time"`
	Kind    string            `json:"kind"`
	Subject string            `json:"subject,omitempty"`
	Detail  map[string]string `json:"detail,omitempty"`
}

// Entries is a page of the audit log.
type Entries struct {
	Size    int64   `json:"size"`
	Entries []Entry `json:"entries"`
	// Next is the index to ask for next; absent at the end.
	Next *int64 `json:"next,omitempty"`
}

// Page is a page of proposals.
type Page struct {
	Proposals []Proposal `json:"proposals"`
	// NextPageToken, when set, asks for the next page (page_token).
	NextPageToken string `json:"next_page_token,omitempty"`
}
