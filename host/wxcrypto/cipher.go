package wxcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Sizes of WeChat's message encryption (消息加解密).
const (
	// EncodingAESKeyLength is the length of the EncodingAESKey set in the
	// Official Account's console: 43 base64 characters, 32 bytes once "="
	// is appended.
	EncodingAESKeyLength = 43
	// PrefixSize is the number of random bytes before the length field.
	PrefixSize = 16
	// padBlock is the PKCS#7 block size of the sample code: 32, not AES's
	// 16, so the pad value is 1..32.
	padBlock = 32
	// headerSize is the random prefix plus the 4-byte big-endian length.
	headerSize = PrefixSize + 4
)

var (
	// ErrBadAESKey: NewCipher was given an EncodingAESKey of the wrong
	// length or alphabet.
	ErrBadAESKey = errors.New("wxcrypto: bad encoding_aes_key")
	// ErrBadBase64: the Encrypt value is not standard base64.
	ErrBadBase64 = errors.New("wxcrypto: encrypt is not base64")
	// ErrBadBlockSize: the ciphertext is empty or not a multiple of the AES
	// block size.
	ErrBadBlockSize = errors.New("wxcrypto: bad ciphertext size")
	// ErrBadPadding: the PKCS#7 padding is out of range or inconsistent;
	// usually the wrong EncodingAESKey.
	ErrBadPadding = errors.New("wxcrypto: bad padding")
	// ErrBadLength: the plaintext is too short for its header, or its
	// length field runs past the end.
	ErrBadLength = errors.New("wxcrypto: bad length field")
	// ErrAppIDMismatch: the message was encrypted for another AppID.
	ErrAppIDMismatch = errors.New("wxcrypto: app id mismatch")
)

// Cipher encrypts and decrypts the Encrypt values of one Official Account.
// It is safe for concurrent use.
type Cipher struct {
	block cipher.Block // expanded once: key expansion is a third of a small message's cost
	iv    [aes.BlockSize]byte
	appID string
}

// NewCipher returns the Cipher for an EncodingAESKey (43 characters, from the
// Official Account's console) and the AppID that every message must carry.
func NewCipher(encodingAESKey, appID string) (*Cipher, error) {
	if len(encodingAESKey) != EncodingAESKeyLength {
		return nil, fmt.Errorf("%w: encoding_aes_key must be %d characters, got %d",
			ErrBadAESKey, EncodingAESKeyLength, len(encodingAESKey))
	}
	// The 43 characters carry 258 bits; the "=" makes a complete quantum
	// whose last two bits are dropped. Go's decoder skips '\r' and '\n',
	// so a key holding one decodes short and is caught by the length test.
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil {
		return nil, fmt.Errorf("%w: encoding_aes_key is not base64: %v", ErrBadAESKey, err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("%w: encoding_aes_key is not base64: decodes to %d bytes, want 32",
			ErrBadAESKey, len(key))
	}
	if appID == "" {
		// Decrypt compares the AppID at the end of every message; an
		// empty one would refuse every message with a confusing error.
		return nil, errors.New("wxcrypto: app id is empty (AES mode needs the Official Account's AppID)")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("wxcrypto: %v", err) // unreachable: the key is 32 bytes
	}
	c := &Cipher{block: block, appID: appID}
	copy(c.iv[:], key[:aes.BlockSize])
	return c, nil
}

// AppID returns the AppID the Cipher was made with: the one Decrypt demands
// and Encrypt appends.
func (c *Cipher) AppID() string { return c.appID }

// Decrypt decodes and decrypts an Encrypt value and returns the XML message
// inside, after checking that it was encrypted for this AppID. Verify the
// msg_signature first (see the package documentation).
//
// The error wraps ErrBadBase64, ErrBadBlockSize, ErrBadPadding, ErrBadLength
// or ErrAppIDMismatch. The returned slice is the caller's.
func (c *Cipher) Decrypt(encrypt string) ([]byte, error) {
	buf := make([]byte, base64.StdEncoding.DecodedLen(len(encrypt)))
	n, err := base64.StdEncoding.Decode(buf, []byte(encrypt))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadBase64, err)
	}
	ct := buf[:n]
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not a positive multiple of %d",
			ErrBadBlockSize, len(ct), aes.BlockSize)
	}
	cipher.NewCBCDecrypter(c.block, c.iv[:]).CryptBlocks(ct, ct)

	pad := int(ct[len(ct)-1])
	if pad < 1 || pad > padBlock || pad > len(ct) {
		return nil, fmt.Errorf("%w: pad value %d out of range 1..%d", ErrBadPadding, pad, min(padBlock, len(ct)))
	}
	for _, b := range ct[len(ct)-pad:] {
		if int(b) != pad {
			return nil, fmt.Errorf("%w: pad bytes are not all %d", ErrBadPadding, pad)
		}
	}
	plain := ct[:len(ct)-pad]

	if len(plain) < headerSize {
		return nil, fmt.Errorf("%w: plaintext is %d bytes, shorter than its %d-byte header",
			ErrBadLength, len(plain), headerSize)
	}
	rest := plain[headerSize:]
	size := binary.BigEndian.Uint32(plain[PrefixSize:headerSize])
	if uint64(size) > uint64(len(rest)) {
		return nil, fmt.Errorf("%w: it declares %d bytes of XML, only %d follow",
			ErrBadLength, size, len(rest))
	}
	xml, appID := rest[:size], rest[size:]
	if string(appID) != c.appID {
		return nil, fmt.Errorf("%w: got %q, want %q", ErrAppIDMismatch, clip(string(appID)), c.appID)
	}
	return xml[:len(xml):len(xml)], nil
}

// Encrypt encrypts an XML reply for this AppID behind 16 bytes from
// crypto/rand, and returns the base64 Encrypt value.
func (c *Cipher) Encrypt(plain []byte) (string, error) {
	var prefix [PrefixSize]byte
	if _, err := rand.Read(prefix[:]); err != nil {
		return "", fmt.Errorf("wxcrypto: reading random prefix: %w", err)
	}
	if uint64(len(plain)) > math.MaxUint32 {
		return "", fmt.Errorf("wxcrypto: %d bytes is too large to encrypt (the length field has 32 bits)", len(plain))
	}
	return c.EncryptWithPrefix(prefix, plain), nil
}

// EncryptWithPrefix is Encrypt with the 16 "random" bytes given: the output
// is deterministic, for test vectors. Replies to WeChat use Encrypt.
// It panics if plain is 4 GiB or more, which the length field cannot hold.
func (c *Cipher) EncryptWithPrefix(prefix [PrefixSize]byte, plain []byte) string {
	if uint64(len(plain)) > math.MaxUint32 {
		panic("wxcrypto: plaintext too large for the 32-bit length field")
	}
	n := headerSize + len(plain) + len(c.appID)
	pad := padBlock - n%padBlock // 1..32: a full block when n is aligned
	total := n + pad
	// One allocation holds the plaintext (encrypted in place) and its base64.
	buf := make([]byte, total+base64.StdEncoding.EncodedLen(total))
	pt, enc := buf[:total], buf[total:]
	copy(pt, prefix[:])
	binary.BigEndian.PutUint32(pt[PrefixSize:], uint32(len(plain)))
	copy(pt[headerSize:], plain)
	copy(pt[headerSize+len(plain):], c.appID)
	for i := n; i < total; i++ {
		pt[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(c.block, c.iv[:]).CryptBlocks(pt, pt)
	base64.StdEncoding.Encode(enc, pt)
	return string(enc)
}
