package store

// ScriptFlag is a boolean as kefu's Lua scripts take it: "1" or "0".
func ScriptFlag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
