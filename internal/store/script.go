package store

import "github.com/redis/go-redis/v9"

// ScriptFlag is a boolean as kefu's Lua scripts take it: "1" or "0".
func ScriptFlag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// IsNoScript reports whether err says Redis does not have a script sent
// by its hash (EVALSHA after a restart or SCRIPT FLUSH): load it, or send
// its source, and try again.
func IsNoScript(err error) bool { return err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") }
