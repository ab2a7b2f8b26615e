package wxcrypto

import (
	"encoding/base64"
	"fmt"
)

// EncodingAESKeyLen is the length of an EncodingAESKey: 43 characters of
// [A-Za-z0-9] (PROTOCOLS.md §0 "Key").
const EncodingAESKeyLen = 43

// ParseAESKey validates an EncodingAESKey and returns the 32-byte AES key it
// encodes: Base64_Decode(EncodingAESKey + "="). The error never contains the
// key itself, only what is wrong with it.
func ParseAESKey(encodingAESKey string) ([]byte, error) {
	if len(encodingAESKey) != EncodingAESKeyLen {
		return nil, fmt.Errorf("%w: must be %d characters, got %d", ErrInvalidAESKey, EncodingAESKeyLen, len(encodingAESKey))
	}
	for i := 0; i < len(encodingAESKey); i++ {
		if !isAlnum(encodingAESKey[i]) {
			return nil, fmt.Errorf("%w: character %d is not in [A-Za-z0-9]", ErrInvalidAESKey, i+1)
		}
	}
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%w: does not decode to a 32-byte key", ErrInvalidAESKey)
	}
	return key, nil
}

// ValidateAESKey reports whether encodingAESKey is usable; configuration
// Validate methods call it so a bad key fails at start-up, not on the first
// encrypted message.
func ValidateAESKey(encodingAESKey string) error {
	_, err := ParseAESKey(encodingAESKey)
	return err
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
