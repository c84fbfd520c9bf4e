set -e
A=/tmp/airlock-v1
echo "fixture passphrase" > pass
$A -C coord key new --role coordinator --name coord --passphrase-file pass --work-factor 10 >/dev/null
for w in alice bob carol; do $A -C $w key new --name $w --passphrase-file pass --work-factor 10 >/dev/null; done
{ printf 'name: treasury\nnetwork: regtest\nmax_proposal_lifetime: 2160h\npolicy_threshold: 2\ncoordinators:\n'; $A -C coord key show --yaml; printf 'participants:\n'; for w in alice bob carol; do $A -C $w key show --yaml; done; printf 'vaults:\n  - name: ops\n    chain: bitcoin\n    threshold: 2\n    signers: [alice/keystore, bob/keystore, carol/keystore]\n'; } > policy.yaml
$A -C coord policy init policy.yaml --out treasury.policy >/dev/null
for w in alice bob carol; do $A -C $w policy sign treasury.policy --passphrase-file pass >/dev/null; done
for w in coord alice bob carol; do $A -C $w policy import treasury.policy >/dev/null; done
$A -C coord psbt synth --vault ops --seed 1 --out spend.psbt >/dev/null
$A -C coord propose --vault ops --psbt spend.psbt --lifetime 2160h --out spend.proposal --passphrase-file pass
$A -C alice sign spend.proposal --approve --out alice.approval --passphrase-file pass
$A -C bob sign spend.proposal --reject --reason "wrong invoice" --out bob.approval --passphrase-file pass
$A -C carol sign spend.proposal --approve --out carol.approval --passphrase-file pass
$A -C coord collect alice.approval bob.approval
$A -C coord status
rm -f */audit/lock
