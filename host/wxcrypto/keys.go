package wxcrypto

import (
	"errors"
	"fmt"
)

// Keys are the ciphers of an Official Account while its EncodingAESKey is
// being rotated: WeChat's console changes the key at once, but requests
// already under way (and WeChat's retries of them) still carry the old
// one. Decrypt tries the current key, then the previous one, and tells
// which opened the message, so that the reply goes back under the key its
// request used. It is safe for concurrent use.
type Keys struct {
	current, previous *Cipher
}

// NewKeys returns the Keys for the current EncodingAESKey and, when
// previous is not empty, the one it replaced.
func NewKeys(current, previous, appID string) (*Keys, error) {
	c, err := NewCipher(current, appID)
	if err != nil {
		return nil, err
	}
	k := &Keys{current: c}
	if previous != "" {
		if previous == current {
			return nil, errors.New("wxcrypto: the previous encoding_aes_key is the current one")
		}
		if k.previous, err = NewCipher(previous, appID); err != nil {
			return nil, fmt.Errorf("previous key: %w", err)
		}
	}
	return k, nil
}

// Current returns the Cipher of the current key.
func (k *Keys) Current() *Cipher { return k.current }

// Decrypt opens an Encrypt value with the current key or, failing that,
// the previous one, and returns the XML with the Cipher that opened it.
// Verify the msg_signature first, as for Cipher.Decrypt: with it, a
// second attempt tells an attacker nothing.
//
// When no key opens the message, the error is the current key's (wrapping
// the same sentinels as Cipher.Decrypt). A wrong key practically never
// opens a message: its padding, length field and AppID would all have to
// come out right.
func (k *Keys) Decrypt(encrypt string) ([]byte, *Cipher, error) {
	plain, err := k.current.Decrypt(encrypt)
	if err == nil {
		return plain, k.current, nil
	}
	if k.previous == nil || errors.Is(err, ErrBadBase64) || errors.Is(err, ErrBadBlockSize) {
		// Not a key problem: the other key would fail the same way.
		return nil, nil, err
	}
	if plain, perr := k.previous.Decrypt(encrypt); perr == nil {
		return plain, k.previous, nil
	}
	return nil, nil, err
}
