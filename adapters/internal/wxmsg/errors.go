package wxmsg

import "errors"

// Errors returned by the parsers. Each is wrapped with what was being parsed;
// callers answer a malformed payload with 400.
var (
	// ErrMalformed means the payload is not well-formed XML/JSON of the
	// expected shape.
	ErrMalformed = errors.New("malformed payload")
	// ErrMissingField means a field every payload of this kind must carry
	// (such as FromUserName or MsgType) is empty.
	ErrMissingField = errors.New("missing required field")
	// ErrTooLarge means the payload exceeds the parser's size limit.
	ErrTooLarge = errors.New("payload too large")
)

// Size limits. A single push is a few kilobytes; a sync_msg page holds up to
// 1000 messages of up to 2048 bytes of text each (PROTOCOLS.md §3.3).
const (
	// MaxPayloadLen bounds one callback payload (CONTRACT.md's 1 MiB body limit).
	MaxPayloadLen = 1 << 20
	// MaxKFSyncLen bounds one sync_msg response.
	MaxKFSyncLen = 16 << 20
	// maxIDLen bounds message ids and user ids kept from a payload.
	maxIDLen = 256
)
