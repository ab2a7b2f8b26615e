package router

import gojson "github.com/goccy/go-json"

// The conversation state and the transcript entries are encoded, and the
// state decoded, on every turn: with encoding/json that was about a sixth of
// the gateway's CPU in the oabench profile. github.com/goccy/go-json does
// the same work in a third of the time, and for these types writes the
// bytes encoding/json writes and reads what it reads (codec_test.go and
// FuzzStateCodec check both), so stored states and transcripts stay
// readable by either.
var (
	encodeJSON = gojson.Marshal
	decodeJSON = gojson.Unmarshal
)
