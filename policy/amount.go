package policy

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Amounts are integers in an asset's smallest unit (satoshi, wei, token
// units), held as *big.Int: wei overflow an int64 from 9.2 ETH on. People
// write them in whole units with the asset's decimals ("1.5" BTC); the
// policy stores them in smallest units as a decimal string. Neither form
// ever passes through a float.

// maxAmountDigits bounds an amount's text: 2^256 has 78 digits.
const maxAmountDigits = 78

// ParseAmount reads s, a non-negative decimal in whole units ("1.5",
// "100", "0.00000001"), as an integer in smallest units of an asset with
// the given decimals. It refuses a sign, an exponent, spaces, leading
// zeros ("01"), a trailing dot, and more fraction digits than the asset
// has: "1.123456789" BTC is refused, not rounded.
func ParseAmount(s string, decimals int) (*big.Int, error) {
	return parseAmount(s, decimals, "the asset")
}

// parseAmount is ParseAmount naming the asset in its errors.
func parseAmount(s string, decimals int, symbol string) (*big.Int, error) {
	if decimals < 0 || decimals > MaxDecimals {
		return nil, fmt.Errorf("%d decimals, want 0..%d", decimals, MaxDecimals)
	}
	if len(s) > 2*maxAmountDigits {
		return nil, fmt.Errorf("%q is too large", s)
	}
	if strings.HasPrefix(s, "-") {
		return nil, fmt.Errorf("%q is negative", s)
	}
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || !allDigits(whole) || (dot && (frac == "" || !allDigits(frac))) {
		return nil, fmt.Errorf("%q is not a decimal amount such as \"1.5\"", s)
	}
	if len(whole) > 1 && whole[0] == '0' {
		return nil, fmt.Errorf("%q has a leading zero", s)
	}
	if len(frac) > decimals {
		return nil, fmt.Errorf("%q has more decimals than %s (%d)", s, symbol, decimals)
	}
	digits := whole + frac + strings.Repeat("0", decimals-len(frac))
	if len(digits) > maxAmountDigits+1 {
		return nil, fmt.Errorf("%q is too large", s)
	}
	return parseUnits(strings.TrimLeft(digits, "0"))
}

// FormatAmount writes units (smallest units) in whole units with the
// given decimals, without trailing zeros: 150000000 with 8 gives "1.5".
func FormatAmount(units *big.Int, decimals int) string {
	if units == nil {
		return "?"
	}
	if decimals < 0 || decimals > MaxDecimals {
		return fmt.Sprintf("%se-%d", units, decimals)
	}
	neg := units.Sign() < 0
	s := new(big.Int).Abs(units).String()
	if decimals > 0 {
		if len(s) <= decimals {
			s = strings.Repeat("0", decimals-len(s)+1) + s
		}
		s = strings.TrimRight(s[:len(s)-decimals]+"."+s[len(s)-decimals:], "0")
		s = strings.TrimSuffix(s, ".")
	}
	if neg {
		s = "-" + s
	}
	return s
}

// parseUnits reads an amount in smallest units as the policy stores it:
// digits only, no leading zero ("" is zero, for ParseAmount's trimmed
// digits). Amounts of up to 19 digits, nearly every one, take a fast path.
func parseUnits(s string) (*big.Int, error) {
	if s == "" {
		return new(big.Int), nil
	}
	if len(s) > maxAmountDigits || !allDigits(s) {
		return nil, fmt.Errorf("%q is not an amount in smallest units", s)
	}
	if len(s) <= 19 {
		u, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an amount in smallest units", s)
		}
		return new(big.Int).SetUint64(u), nil
	}
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, fmt.Errorf("%q is not an amount in smallest units", s)
	}
	return n, nil
}

// storedUnits reads an amount field of a decoded policy, which must be
// canonical: digits, no leading zero, "0" for zero.
func storedUnits(s string) (*big.Int, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return nil, fmt.Errorf("%q is not an amount in smallest units", s)
	}
	if s == "0" {
		return new(big.Int), nil
	}
	return parseUnits(s)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
