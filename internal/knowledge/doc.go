// Package knowledge is kefu's knowledge base: FAQ files (*.yaml) and documents
// (*.md) loaded from knowledge.dir, a retriever that works for Chinese without
// any model (BM25-style scoring over character bigrams and unigrams of
// normalized text, optionally blended with embedding similarity), and an
// answer policy that answers only when it is confident, asks a clarifying
// question on a close call, and otherwise says it does not know so the router
// can try the LLM or offer a human. It never guesses.
//
// The router's fallback chain calls it like this:
//
//	if p := state.KBPending; p != nil {          // a clarifying question is open
//		if d, ok := svc.Resolve(ctx, p, text); ok { ... answer d ... }
//	}
//	d := svc.Ask(ctx, text)
//	switch d.Outcome {
//	case knowledge.OutcomeAnswer:  // send d.Answer verbatim; reset the miss count
//	case knowledge.OutcomeClarify: // send d.Question with d.Choices; store d.Pending
//	case knowledge.OutcomeUnknown: // try the LLM with svc.Grounding(ctx, text, d.Hits, n);
//		                       // else count a miss and use MissPolicy
//	}
package knowledge
