package safe

import (
	"errors"
	"math/big"
)

// ParseGwei reads a decimal amount of gwei (at most 9 decimals: nothing
// below 1 wei) as wei, such as a fee cap given by a person.
func ParseGwei(s string) (*big.Int, error) {
	r, ok := new(big.Rat).SetString(s)
	if !ok || r.Sign() <= 0 {
		return nil, errors.New("want a positive number of gwei")
	}
	r.Mul(r, new(big.Rat).SetInt64(1e9))
	if !r.IsInt() {
		return nil, errors.New("more than 9 decimals (below 1 wei)")
	}
	return new(big.Int).Set(r.Num()), nil
}
