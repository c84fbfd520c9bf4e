// Package pkcs11 signs with keys held in a PKCS#11 hardware security module
// (HSM), so that an airlock vault participant's key never exists outside the
// device.
//
// # Static keys
//
// PKCS#11 has no BIP-32: a token can generate and use a secp256k1 key, but
// cannot derive child keys from it, and exporting a chain code and the key
// material to derive in software would defeat the purpose of the HSM. An
// HSM participant therefore contributes one static (non-derived)
// secp256k1 public key to a vault, produced by Token.GenerateSecp256k1 and
// read back with ECKey.PublicKey; every spend from the vault is signed by
// that same key with ECKey.SignDigest (Bitcoin, DER + low S) or
// ECKey.SignRecoverable (Ethereum, r || s || v). Ed25519 keys
// (Token.GenerateEd25519, EdKey implements crypto.Signer) serve non-chain
// signatures such as approvals and audit records.
//
// # Key attributes
//
// Keys are generated on the token and never leave it. The private key is
// created with CKA_TOKEN (persistent), CKA_PRIVATE (visible only after
// login), CKA_SENSITIVE (its value cannot be read) and CKA_EXTRACTABLE=false
// (it cannot be wrapped out), CKA_SIGN=true and CKA_DERIVE=false; the public
// key has CKA_VERIFY. Both share the key's CKA_LABEL and a random 16-byte
// CKA_ID. After generation the attributes are read back, including the
// device-maintained CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE, and a
// key that does not have them is destroyed; a lookup refuses such a key
// too, so keys imported into the token are not accepted. Labels are unique:
// generation refuses a label already used by any object (ErrKeyExists), and
// a lookup matching several keys fails.
//
// # Fail closed
//
// Every signature is verified against the public key before it is
// returned: a faulty or malicious device can fail, but cannot hand out a bad
// signature. ECDSA signatures are normalised to low S (BIP-62/146, EIP-2);
// the Ethereum recovery id is found by recovering the key with each
// candidate and comparing it with the token's public key. A new key must
// sign and verify once before generation returns, or it is destroyed.
//
// # PIN handling
//
// Open takes the user PIN as a byte slice, passes it to the module's
// C_Login and keeps no copy, so the caller may wipe it afterwards. The PIN
// never appears in errors. Login state in PKCS#11 belongs to the
// application and token, not the session, so a second Open of a token that
// is already open in the process would inherit the login without its PIN
// being checked; Open refuses it. A Token is safe for concurrent use (its
// session is guarded by a mutex), so share it instead. Closing the Token
// closes its session, which logs out.
//
// # Modules and lifetime
//
// C_Initialize may be called once per module per process, and C_Finalize
// ends every session. The package keeps a reference-counted registry of
// loaded modules: several Tokens, on one or several modules, can be open at
// once, and a module is finalised and unloaded when its last Token closes.
//
// # Errors
//
// Errors are prefixed "pkcs11: " and match sentinels with errors.Is; the
// underlying github.com/miekg/pkcs11 Error (the CKR_ value) stays reachable
// with errors.As.
//
//   - CKR_PIN_INCORRECT: ErrWrongPIN.
//   - CKR_PIN_LOCKED, or the token flagging its PIN locked: ErrPINLocked.
//   - CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT, CKR_SESSION_HANDLE_INVALID,
//     CKR_SESSION_CLOSED, CKR_DEVICE_ERROR, CKR_TOKEN_NOT_RECOGNIZED:
//     ErrTokenRemoved, saying e.g. `pkcs11: token "hsm1" is no longer
//     present (removed or reset) while signing with key "k"; reinsert it,
//     open it again and retry`. Some tokens (SoftHSM2 among them) report a
//     vanished token only as CKR_OBJECT_HANDLE_INVALID or
//     CKR_GENERAL_ERROR; after such errors the slot is probed and, if the
//     token is gone, ErrTokenRemoved is returned too. From then on the
//     Token fails every call with ErrTokenRemoved; Close it and Open again.
//   - No token with the label: ErrTokenNotFound (the error lists the
//     labels present). No key with the label: ErrKeyNotFound. Label in
//     use when generating: ErrKeyExists.
//
// # Tests
//
// The tests run against a real SoftHSM2 token, not a mock. Install the
// Debian/Ubuntu package softhsm2 (it provides softhsm2-util and
// /usr/lib/softhsm/libsofthsm2.so; set SOFTHSM2_MODULE to use another
// path). The tests fail, rather than skip, when it is missing. Each test
// creates a throw-away token store in a temporary directory with package
// softhsmtest.
//
//	go test -race ./keys/pkcs11/...
//	go test -run '^$' -bench . -benchtime 200x ./keys/pkcs11/
//
// Removal is simulated for real in two ways: another process deletes the
// token with softhsm2-util --delete-token while the Token is open, and
// C_CloseAllSessions is called on the slot, invalidating the session as a
// token reset does.
package pkcs11
