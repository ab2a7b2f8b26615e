package router

import gojson "github.com/goccy/go-json"

// The conversation state and the transcript entries are encoded, and the
// state decoded, on every turn: with encoding/json that was about a sixth of
// the gateway's CPU in the oabench profile. github.com/goccy/go-json decodes
// a state in a quarter of the time and encodes an entry in 40%
// (BenchmarkCodec); encoding a state gains little, its omitzero times
// costing the codec a reflection call each. For these types it writes the
// bytes encoding/json writes and reads what it reads (codec_test.go and
// FuzzStateCodec check both), so stored states and transcripts stay
// readable by either.
var (
	encodeJSON = gojson.Marshal
	decodeJSON = gojson.Unmarshal
)
