package enroll

import "github.com/airlock-vault/airlock/workspace"

// Info is a workspace's public keys as JSON (docs/schemas/key-show):
// what "airlock key show", "key new" and "key restore" print under
// --json; created, when set, says what the command just made.
func Info(c workspace.Config, created string) any {
	type token struct {
		Label  string `json:"label"`
		Vendor string `json:"vendor"`
		Model  string `json:"model"`
		Serial string `json:"serial"`
		Module string `json:"module"`
	}
	var tok *token
	if c.Token != nil {
		tok = &token{c.Token.Label, c.Token.Vendor, c.Token.Model, c.Token.Serial, c.Token.Module}
	}
	return struct {
		Created     string `json:"created,omitempty"`
		Role        string `json:"role"`
		Name        string `json:"name"`
		Device      string `json:"device,omitempty"`
		Network     string `json:"network"`
		Identity    string `json:"identity"`
		Key         string `json:"key,omitempty"`
		Ethereum    string `json:"ethereum,omitempty"`
		Token       *token `json:"token,omitempty"`
		Drill       bool   `json:"drill"`
		PolicyEntry string `json:"policyEntry"`
	}{created, c.Role, c.Name, c.Device, c.Network, c.Identity, c.Key, c.Ethereum, tok, c.Drill, PolicyEntry(c)}
}
