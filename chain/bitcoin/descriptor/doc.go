// Package descriptor parses Bitcoin output script descriptors (BIP-380) and
// derives the scripts they describe, for the script types an airlock vault
// uses, and converts BIP-388 wallet policies to and from descriptors.
//
// A signer station uses it to prove, rather than believe, that a PSBT's
// inputs and change outputs belong to the vault. A PSBT carries claims
// ("this pubkey is [d34db33f/48'/1'/0'/2'/1/7]"); MatchPubKey finds the
// branch and index such a claim points to by re-deriving the key, and Derive
// gives the scripts the descriptor produces there, to compare byte for byte
// with the transaction. A hostile coordinator that slips in a foreign change
// output, a 2-of-3 whose "three" keys are one signer, or a key derived on a
// path the signer would not expect is refused rather than signed.
//
// # Grammar
//
// The supported language, with the BIP that defines each part:
//
//	DESCRIPTOR = SCRIPT [ "#" CHECKSUM ]                       BIP-380
//	SCRIPT     = "pk(" KEY ")" | "pkh(" KEY ")"                BIP-381
//	           | "sh(" SCRIPT ")"           top level only     BIP-381
//	           | "wpkh(" KEY ")"            top level or sh()  BIP-382
//	           | "wsh(" SCRIPT ")"          top level or sh()  BIP-382
//	           | "multi(" K 1*( "," KEY ) ")"                  BIP-383
//	           | "sortedmulti(" K 1*( "," KEY ) ")"            BIP-383
//	           | "raw(" HEX ")" | "addr(" ADDRESS ")"  top only BIP-385
//	           | "tr(" KEY [ "," TREE ] ")" | "rawtr(" KEY ")"  BIP-386
//	TREE       = LEAF | "{" TREE "," TREE "}"              at most 128 deep
//	LEAF       = "pk(" KEY ")" | "pkh(" KEY ")"                BIP-386
//	           | "multi_a(" K 1*( "," KEY ) ")"                BIP-387, ≤ 999 keys
//	           | "sortedmulti_a(" K 1*( "," KEY ) ")"          BIP-387
//	KEY        = [ ORIGIN ] ( HEXPUB | WIF | XKEY *( "/" STEP ) [ "/*" [ HARD ] ] )
//	ORIGIN     = "[" 8HEXDIG *( "/" NUM ) "]"                  BIP-380
//	STEP       = NUM | "<" NUM 1*( ";" NUM ) ">"               BIP-389, one "<…>" per key
//	NUM        = decimal below 2^31, no leading zeros [ HARD ]
//	HARD       = "h" | "'"
//	CHECKSUM   = 8 characters of "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
//
// HEXPUB is 66 hex digits (02/03…) or, outside segwit, 130 (04…); in tr()
// and its leaves also 64 (x-only), and never 130. Keys there go into
// scripts x-only (BIP-340), and sortedmulti_a sorts the x-only keys. A pkh()
// leaf hashes the x-only key, as miniscript's pkh() does in tapscript. WIF is a
// mainnet or testnet private key. XKEY is an xpub, xprv, tpub or tprv; its
// version bytes set the descriptor's network, and SLIP-132 variants (ypub,
// zpub…) are refused.
//
// What else BIP-380 allows — combo (BIP-384), musig (BIP-390), and
// miniscript inside wsh() or a tapscript leaf — is refused with an error
// wrapping ErrUnsupported wherever it would be valid, and with an ordinary
// error where its own BIP forbids it. The parser builds a tree of script
// expressions (the expr interface, one type per function) over key
// expressions (Key), and context rules live in one table.
//
// # Taproot
//
// Derive gives for tr() the output script OP_1 <Q>, the x-only internal
// key, the merkle root and, per leaf, its script, leaf version 0xc0, leaf
// hash and control block (BIP-341), built on the tree as written. Each
// derived key carries its x-only form and the hashes of the leaves holding
// it, as PSBT_IN_TAP_BIP32_DERIVATION needs; MatchPubKey takes x-only
// claims. NewSortedMultiTaproot builds tr(NUMS,sortedmulti_a(...)) on
// BIP-341's unspendable point H, and Threshold reports k-of-n for such a
// descriptor only when the internal key is H (or an xpub over H), so that
// no key path bypasses the threshold.
//
// # Wallet policies
//
// NewWalletPolicy checks a BIP-388 template ("wsh(sortedmulti(2,@0/**,@1/**))")
// and key information vector as text, so that policies with miniscript or
// musig() convert to their descriptor (DescriptorText) and back
// (WalletPolicyFromDescriptor) even where Parse refuses them as
// unsupported.
//
// # Stricter than BIP-380
//
// The package fails closed where the BIPs are silent or lenient:
//
//   - "H" as a hardened marker is refused. BIP-380's text allows it but its
//     own test vectors list "0H" as invalid, as Bitcoin Core does.
//   - A public extended key followed by a hardened step cannot derive
//     anything; Parse refuses it (ParseKey, which checks syntax alone,
//     accepts it as BIP-380's vectors require).
//   - Within one multi(), sortedmulti(), multi_a() or sortedmulti_a(): the
//     same extended key twice (even on different paths), two keys giving
//     the same public key at child 0 of any multipath branch, or two
//     different keys claiming the same key origin are refused; Derive also
//     refuses any child whose derived keys repeat. The same point written
//     compressed and uncompressed is allowed, as BIP-383's vectors require.
//     In multi_a(), keys are compared x-only: 02… and 03… keys with one X
//     are one signer.
//   - Mainnet and test keys may not be mixed; Address refuses a network the
//     keys are not for.
//   - addr() takes an address in its canonical encoding only (bech32 in
//     lower case), for mainnet, testnet/signet or regtest.
//   - Input is bounded: MaxLength characters, MaxPathLength path elements
//     per key, MaxAlternatives per multipath group, MaxTreeDepth levels of
//     script tree. Numbers with leading zeros, whitespace and anything
//     after the expression are refused, not skipped.
//
// String gives the descriptor as written (hardened markers as the author
// chose them: "h" and "'" are both kept) followed by its checksum. Rewriting
// "h" to "'" would change the text and with it the checksum that users and
// other wallets carry, and BIP-389's expansion vectors keep "h"; so nothing
// is normalised.
//
// # Worked example
//
// A 2-of-3 vault built by NewSortedMultiWSH from three account keys
// (abbreviated):
//
//	wsh(sortedmulti(2,[01010101/48'/1'/0'/2']tpubA/<0;1>/*,[02020202/48'/1'/0'/2']tpubB/<0;1>/*,[03030303/48'/1'/0'/2']tpubC/<0;1>/*))#checksum
//
// has two BIP-389 branches: 0 for receiving, 1 for change. A PSBT output
// claiming "03ab… is [02020202/48'/1'/0'/2'/1/7]" is checked by:
//
//	key, mp, i, ok := d.MatchPubKey(pub, fp, path) // key 1 (tpubB), branch 1, index 7: tpubB/1/7 is 03ab…
//	x, _ := d.Derive(mp, i)                        // derive all three keys at 1/7
//	// x.WitnessScript = OP_2 <k1> <k2> <k3> OP_3 OP_CHECKMULTISIG, keys sorted
//	// x.ScriptPubKey  = OP_0 SHA256(x.WitnessScript): must equal the output's script
//
// See the package examples for the same with real keys.
package descriptor
