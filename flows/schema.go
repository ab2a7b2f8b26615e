package flows

import _ "embed"

//go:embed schema.json
var schemaJSON []byte

// Schema returns the JSON Schema (draft-07) of flow files, for editors: with
// the VS Code YAML extension, map it to configs/flows/*.yaml in
// yaml.schemas, or put "# yaml-language-server: $schema=PATH" on a file's
// first line.
func Schema() []byte { return append([]byte(nil), schemaJSON...) }
