package followup

// Outcomes of an attempt to reach a customer.
const (
	OutcomeSent     = "sent"
	OutcomeSkipped  = "skipped"
	OutcomeFailed   = "failed"
	OutcomeDeferred = "deferred"
)

// Reasons a message was skipped, deferred or failed. They are stable codes:
// campaign progress counts by them and the operator API shows them.
const (
	// ReasonOptedOut: the customer opted out (退订).
	ReasonOptedOut = "opted_out"
	// ReasonQuietHours: it fell in the contact's quiet hours (deferred).
	ReasonQuietHours = "quiet_hours"
	// ReasonWindowClosed: the platform's reply window or quota does not
	// allow a message now (WeChat 45015/45047) and there is no fallback.
	ReasonWindowClosed = "window_closed"
	// ReasonHumanOwned: an agent is serving the customer.
	ReasonHumanOwned = "human_owned"
	// ReasonNoIdentity: the contact has no identity on the channel.
	ReasonNoIdentity = "no_identity"
	// ReasonNoChannel: the channel account is not configured (any more).
	ReasonNoChannel = "no_channel"
	// ReasonNoActiveAPI: the account cannot send on its own initiative
	// (an unverified official account).
	ReasonNoActiveAPI = "no_active_api"
	// ReasonReplied: the customer wrote before a cancel-on-reply follow-up.
	ReasonReplied = "customer_replied"
	// ReasonCancelled: cancelled by a flow, an operator or a campaign cancel.
	ReasonCancelled = "cancelled"
	// ReasonPlatform: the platform refused the message for good.
	ReasonPlatform = "platform_refused"
	// ReasonError: retries ran out on a temporary failure.
	ReasonError = "error"
	// ReasonInterrupted: the worker stopped in the middle of this send; it
	// is not sent again because it may have reached the customer.
	ReasonInterrupted = "interrupted"
	// ReasonNoFlows: a flow was to start but no FlowStarter is configured.
	ReasonNoFlows = "flows_unavailable"
)
