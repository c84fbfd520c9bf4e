//go:build cgo

package pkcs11

import p11 "github.com/miekg/pkcs11"

// Destroy deletes every object labelled label from the token (a key pair
// airlock made and must take back, when creating a workspace failed half
// way). It reports how many objects it deleted.
func (t *Token) Destroy(label string) (int, error) {
	n := 0
	err := t.do("destroying key "+label, func(ctx *p11.Ctx, sh p11.SessionHandle) error {
		objs, err := findObjects(ctx, sh, []*p11.Attribute{p11.NewAttribute(p11.CKA_LABEL, label)})
		if err != nil {
			return err
		}
		for _, o := range objs {
			if err := ctx.DestroyObject(sh, o); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
