package host

import (
	"crypto/rand"
	"encoding/binary"
	"strconv"
)

// newNonce returns a random decimal nonce for the encrypted reply envelope.
func newNonce() string {
	var b [8]byte
	rand.Read(b[:])
	return strconv.FormatUint(binary.LittleEndian.Uint64(b[:])%1e10, 10)
}
