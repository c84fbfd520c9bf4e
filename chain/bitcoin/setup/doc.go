// Package setup registers an airlock vault with hardware signers: it
// speaks BSMS (BIP-129, "Bitcoin Secure Multisig Setup") in both rounds and
// all three encryption modes, the Coldcard multisig setup file, and plain
// descriptor or BIP-388 wallet policy import.
//
// # BSMS
//
// Round 1: each Signer sends a key record,
//
//	BSMS 1.0
//	TOKEN (hex, "00" without encryption)
//	[fingerprint/path]KEY
//	DESCRIPTION (at most 80 characters)
//	SIG (legacy Bitcoin signed message over the first four lines, base64)
//
// ParseKeyRecord decrypts it when the token says so, verifies the MAC, and
// verifies SIG against KEY itself (for an xpub, its own public key).
// SignKeyRecord and Encode make one.
//
// Round 2: the Coordinator sends a descriptor record,
//
//	BSMS 1.0
//	DESCRIPTOR or DESCRIPTOR TEMPLATE (keys ending in "/**")
//	PATH RESTRICTIONS ("/0/*,/1/*", or "No path restrictions")
//	FIRST ADDRESS
//
// ParseDescriptorRecord expands the template, parses every concrete
// descriptor and recomputes the first address (index 0 of the first
// restriction); a record whose address differs is refused.
// NewDescriptorRecord writes a vault's "<0;1>/*" descriptor as the template
// with "/0/*,/1/*", and Multipath reads it back. A Signer finds its own KEY
// with KeyPositions, which compares keys exactly, not by fingerprint.
//
// The token selects the mode: 0x00 (or nil) NO_ENCRYPTION, 8 bytes
// STANDARD, 16 bytes EXTENDED. Encrypted records are the hex text of
// MAC || ciphertext, with
//
//	ENCRYPTION_KEY = PBKDF2-HMAC-SHA512(password "No SPOF", salt TOKEN, 2048, 32 bytes)
//	MAC            = HMAC-SHA256(SHA256(ENCRYPTION_KEY), hex(TOKEN) || plaintext)
//	ciphertext     = AES-256-CTR(ENCRYPTION_KEY, IV = MAC[:16], plaintext)
//
// and decryption fails closed: a wrong MAC yields no plaintext.
//
// # Coldcard
//
// ExportColdcard and ImportColdcard write and read Coldcard's multisig
// setup text file (Name, Policy, Derivation, Format and "XFP: xpub" lines)
// for sortedmulti vaults in P2WSH, P2SH-P2WSH and P2SH, with SLIP-132 keys
// (ypub, Zpub, vpub...) converted to xpub or tpub by ConvertSLIP132.
//
// All inputs are bounded by MaxInput and every error starts "setup: ".
package setup
