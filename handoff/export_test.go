package handoff

// SetAfterClaim installs a hook that runs after an assignment is claimed
// and before it is carried out (the crash test kills the process there).
func SetAfterClaim(s *Service, f func(conv string)) { s.afterClaim = f }

// SetAfterLeft installs a hook that runs after a leave-message step ended
// and before its owner is cleared.
func SetAfterLeft(s *Service, f func(conv string)) { s.afterLeft = f }

// SetAfterOwnerRead installs a hook that runs when clearOwner found a
// handoff owner with no handoff under way, before it clears the owner.
func SetAfterOwnerRead(s *Service, f func(conv string)) { s.afterOwnerRead = f }

// ParseCommand exposes the agent command parser with the default aliases.
func ParseCommand(text string, extra map[string][]string) (Parsed, bool) {
	return newCommandSet(extra).parse(text)
}

// ParseRating exposes the rating parser.
func ParseRating(text string) (int, bool) { return parseRating(text) }

// HelpText exposes the agents' help.
func HelpText() string { return helpText() }

// Usage exposes a command's usage line.
func Usage(c Command) string { return newCommandSet(nil).usage(c) }
