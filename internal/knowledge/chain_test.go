package knowledge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	openai "github.com/sashabaranov/go-openai"

	"github.com/kefu-gateway/kefu/internal/knowledge"
	"github.com/kefu-gateway/kefu/internal/llm"
)

// The llm client is the knowledge base's embedder.
var _ knowledge.Embedder = (*llm.Client)(nil)

// bigramVector is a deterministic stand-in embedding: hashed character
// bigrams.
func bigramVector(s string) []float32 {
	v := make([]float32, 32)
	rs := []rune(s)
	for i := 0; i+1 < len(rs); i++ {
		h := fnv.New32a()
		h.Write([]byte(string(rs[i : i+2])))
		v[h.Sum32()%32]++
	}
	v[0] += 0.1
	return v
}

// fakeOpenAI answers embeddings and chat completions; chat answers come from
// answer, given the system message.
type fakeOpenAI struct {
	mu     sync.Mutex
	chats  []openai.ChatCompletionRequest
	embeds int
	answer func(system string) string
}

func (f *fakeOpenAI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/v1/embeddings":
		var req struct{ Input []string }
		json.Unmarshal(body, &req)
		f.mu.Lock()
		f.embeds++
		f.mu.Unlock()
		resp := openai.EmbeddingResponse{}
		for i, in := range req.Input {
			resp.Data = append(resp.Data, openai.Embedding{Index: i, Embedding: bigramVector(in)})
		}
		json.NewEncoder(w).Encode(resp)
	case "/v1/chat/completions":
		var req openai.ChatCompletionRequest
		json.Unmarshal(body, &req)
		f.mu.Lock()
		f.chats = append(f.chats, req)
		f.mu.Unlock()
		fmt.Fprintf(w, `{"choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":5}}`, f.answer(req.Messages[0].Content))
	default:
		http.NotFound(w, r)
	}
}

// TestFallbackChain walks the router's fallback chain with the real packages:
// knowledge base first, then the LLM grounded in the knowledge base's own
// passages, then the miss policy and the gap record.
func TestFallbackChain(t *testing.T) {
	api := &fakeOpenAI{answer: func(system string) string {
		if strings.Contains(system, "海外") {
			return "抱歉，我们暂不支持发往海外。"
		}
		return llm.NoAnswerMarker
	}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	ctx := context.Background()
	client, err := llm.New(llm.Config{BaseURL: srv.URL + "/v1", EmbeddingModel: "test-embed"}, llm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	kb, err := knowledge.New(ctx, knowledge.Config{Dir: "../../configs/knowledge", ReloadInterval: -1}, knowledge.Options{Embedder: client})
	if err != nil {
		t.Fatal(err)
	}
	api.mu.Lock()
	embeds := api.embeds
	api.mu.Unlock()
	if embeds == 0 {
		t.Fatal("the knowledge base was not embedded through the llm client")
	}

	// 1. A question the FAQ covers: answered verbatim, no LLM call.
	d := kb.Ask(ctx, "请问怎么开发票？")
	api.mu.Lock()
	chats := len(api.chats)
	api.mu.Unlock()
	if d.Outcome != knowledge.OutcomeAnswer || d.FAQ.ID != "invoice" || chats != 0 {
		t.Fatalf("FAQ question: %s %v, %d chat calls", d.Outcome, d.FAQ, chats)
	}

	// 2. Not an FAQ, but the documents cover it: the LLM answers from them.
	answer := func(question string) (llm.Answer, error) {
		var ps []llm.Passage
		for _, p := range kb.Grounding(ctx, question, kb.Ask(ctx, question).Hits, 4) {
			ps = append(ps, llm.Passage{ID: p.ID, Title: p.Title, Text: p.Text})
		}
		return client.Answer(ctx, llm.GroundedRequest{Question: question, Passages: ps,
			History: []llm.Turn{{Role: "customer", Text: "你好"}, {Role: "bot", Text: "您好！"}}})
	}
	const q = "你们能发货到海外吗"
	if d := kb.Ask(ctx, q); d.Outcome == knowledge.OutcomeAnswer {
		t.Fatalf("the FAQ answered %q with %s", q, d.FAQ.ID)
	}
	ans, err := answer(q)
	if err != nil || ans.NoAnswer || !strings.Contains(ans.Text, "海外") {
		t.Fatalf("grounded answer %+v err %v", ans, err)
	}

	// 3. Nothing covers it: the LLM declines, the router counts a miss,
	// offers a human and records the gap.
	ans, err = answer("你们老板是谁")
	if err != nil || !ans.NoAnswer {
		t.Fatalf("uncovered question: %+v err %v", ans, err)
	}
	act := kb.Misses().Next(1)
	if len(act.Choices) != 1 || act.StartHandoff {
		t.Fatalf("first miss action %+v", act)
	}
}
