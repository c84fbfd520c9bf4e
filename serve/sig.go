package serve

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The subset of RFC 9421 (HTTP Message Signatures) and RFC 9530
// (Digest Fields) the service speaks: one signature, labelled sig1 by
// the client (any label is read), algorithm ed25519, over exactly the
// components "@method" "@target-uri" "content-digest", with the
// parameters created, expires, nonce, keyid and alg, and a Content-Digest
// of the body with sha-256.

// Components are the covered components, in order.
var Components = []string{"@method", "@target-uri", "content-digest"}

// Bounds of the parsers.
const (
	maxHeader = 1024 // Signature-Input, Signature, Content-Digest
	maxNonce  = 64
)

// sigParams is a parsed Signature-Input member.
type sigParams struct {
	Label   string
	Created int64
	Expires int64
	Nonce   string
	KeyID   string
	// Raw is the member's value, the signature base's "@signature-params".
	Raw string
}

var (
	errNoSignature = errors.New("serve: the request is not signed (Signature-Input, Signature)")
	errSigSyntax   = errors.New("serve: malformed signature header")
)

// parseSignatureInput reads a Signature-Input field of one member,
// strictly: it must be exactly what Sign writes (parameters in any of its
// orders are refused unless serialized canonically as read).
func parseSignatureInput(v string) (*sigParams, error) {
	if len(v) > maxHeader {
		return nil, fmt.Errorf("%w: Signature-Input longer than %d bytes", errSigSyntax, maxHeader)
	}
	label, rest, ok := strings.Cut(v, "=")
	if !ok || !isToken(label) {
		return nil, fmt.Errorf("%w: Signature-Input wants one member label=(...)", errSigSyntax)
	}
	p := &sigParams{Label: label, Raw: rest}
	if !strings.HasPrefix(rest, "(") {
		return nil, fmt.Errorf("%w: Signature-Input wants an inner list", errSigSyntax)
	}
	end := strings.IndexByte(rest, ')')
	if end < 0 {
		return nil, fmt.Errorf("%w: unterminated inner list", errSigSyntax)
	}
	var comps []string
	for _, c := range strings.Split(rest[1:end], " ") {
		s, err := unquote(c)
		if err != nil {
			return nil, err
		}
		comps = append(comps, s)
	}
	if strings.Join(comps, " ") != strings.Join(Components, " ") {
		return nil, fmt.Errorf("%w: the signature must cover exactly %q", errSigSyntax, Components)
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(rest[end+1:], ";")[1:] {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || seen[k] {
			return nil, fmt.Errorf("%w: parameter %q", errSigSyntax, kv)
		}
		seen[k] = true
		var err error
		switch k {
		case "created", "expires":
			var n int64
			n, err = strconv.ParseInt(val, 10, 64)
			if err != nil || n <= 0 || strconv.FormatInt(n, 10) != val {
				return nil, fmt.Errorf("%w: %s=%q is not a time", errSigSyntax, k, val)
			}
			if k == "created" {
				p.Created = n
			} else {
				p.Expires = n
			}
		case "nonce":
			p.Nonce, err = unquote(val)
		case "keyid":
			p.KeyID, err = unquote(val)
		case "alg":
			var alg string
			if alg, err = unquote(val); err == nil && alg != "ed25519" {
				err = fmt.Errorf("%w: alg %q (want ed25519)", errSigSyntax, alg)
			}
		default:
			return nil, fmt.Errorf("%w: unknown parameter %q", errSigSyntax, k)
		}
		if err != nil {
			return nil, err
		}
	}
	for _, k := range []string{"created", "expires", "nonce", "keyid"} {
		if !seen[k] {
			return nil, fmt.Errorf("%w: parameter %s is required", errSigSyntax, k)
		}
	}
	if p.Nonce == "" || len(p.Nonce) > maxNonce {
		return nil, fmt.Errorf("%w: a nonce of 1 to %d characters is required", errSigSyntax, maxNonce)
	}
	if p.KeyID == "" {
		return nil, fmt.Errorf("%w: empty keyid", errSigSyntax)
	}
	return p, nil
}

// parseSignature reads a Signature field: label=:base64:, one member.
func parseSignature(v, label string) ([]byte, error) {
	if len(v) > maxHeader {
		return nil, fmt.Errorf("%w: Signature longer than %d bytes", errSigSyntax, maxHeader)
	}
	l, rest, ok := strings.Cut(v, "=")
	if !ok || l != label {
		return nil, fmt.Errorf("%w: Signature wants one member labelled %q as in Signature-Input", errSigSyntax, label)
	}
	b, err := byteSeq(rest)
	if err != nil {
		return nil, err
	}
	if len(b) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: an ed25519 signature is %d bytes", errSigSyntax, ed25519.SignatureSize)
	}
	return b, nil
}

// parseContentDigest reads a Content-Digest field of one member, sha-256.
func parseContentDigest(v string) ([]byte, error) {
	if len(v) > maxHeader {
		return nil, fmt.Errorf("%w: Content-Digest longer than %d bytes", errSigSyntax, maxHeader)
	}
	alg, rest, ok := strings.Cut(v, "=")
	if !ok || alg != "sha-256" {
		return nil, fmt.Errorf("%w: Content-Digest wants sha-256=:base64:", errSigSyntax)
	}
	b, err := byteSeq(rest)
	if err != nil {
		return nil, err
	}
	if len(b) != sha256.Size {
		return nil, fmt.Errorf("%w: a sha-256 digest is %d bytes", errSigSyntax, sha256.Size)
	}
	return b, nil
}

// ContentDigest is the Content-Digest field of body.
func ContentDigest(body []byte) string {
	h := sha256.Sum256(body)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(h[:]) + ":"
}

func byteSeq(s string) ([]byte, error) {
	if len(s) < 2 || s[0] != ':' || s[len(s)-1] != ':' {
		return nil, fmt.Errorf("%w: want a byte sequence :base64:", errSigSyntax)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s[1 : len(s)-1])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errSigSyntax, err)
	}
	return b, nil
}

// unquote reads an RFC 8941 string: printable ASCII in double quotes,
// with \" and \\ escaped.
func unquote(s string) (string, error) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", fmt.Errorf("%w: want a quoted string, got %q", errSigSyntax, s)
	}
	var b strings.Builder
	in := s[1 : len(s)-1]
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch {
		case c == '\\':
			if i+1 == len(in) || (in[i+1] != '"' && in[i+1] != '\\') {
				return "", fmt.Errorf("%w: bad escape in %q", errSigSyntax, s)
			}
			i++
			b.WriteByte(in[i])
		case c == '"' || c < 0x20 || c > 0x7e:
			return "", fmt.Errorf("%w: bad character in %q", errSigSyntax, s)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func quote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

func isToken(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '-' && c != '.' && c != '*' {
			return false
		}
	}
	return true
}

// signatureBase is RFC 9421's signature base for the covered components.
func signatureBase(method, targetURI, digest, params string) []byte {
	return []byte(fmt.Sprintf("\"@method\": %s\n\"@target-uri\": %s\n\"content-digest\": %s\n\"@signature-params\": %s",
		method, targetURI, digest, params))
}

// targetURI is the request's absolute URI as the server sees it.
func targetURI(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

// Sign signs req, whose body is body, with key (an Ed25519 identity),
// valid from created for window: it sets Content-Digest,
// Signature-Input and Signature.
func Sign(req *http.Request, body []byte, key crypto.Signer, created time.Time, window time.Duration) error {
	pub, ok := key.Public().(ed25519.PublicKey)
	if !ok {
		return errors.New("serve: requests are signed with an Ed25519 identity key")
	}
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		return err
	}
	digest := ContentDigest(body)
	params := fmt.Sprintf(`("@method" "@target-uri" "content-digest");created=%d;expires=%d;nonce=%s;keyid=%s;alg="ed25519"`,
		created.Unix(), created.Add(window).Unix(), quote(base64.RawURLEncoding.EncodeToString(n[:])), quote(keyID(pub)))
	u := *req.URL
	target := u.Scheme + "://" + u.Host + u.RequestURI()
	sig, err := key.Sign(nil, signatureBase(req.Method, target, digest, params), crypto.Hash(0))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Digest", digest)
	req.Header.Set("Signature-Input", "sig1="+params)
	req.Header.Set("Signature", "sig1=:"+base64.StdEncoding.EncodeToString(sig)+":")
	return nil
}
