package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	openai "github.com/sashabaranov/go-openai"
)

// conceptVector embeds a text by the concepts it mentions.
func conceptVector(text string) []float32 {
	concepts := [][]string{{"订单", "快递", "物流", "到哪"}, {"退货", "退款", "不想要"}, {"发票", "开票"}}
	v := make([]float32, len(concepts)+1)
	v[len(concepts)] = 0.2 // a shared component, so unrelated texts are not orthogonal
	for i, words := range concepts {
		for _, w := range words {
			if strings.Contains(text, w) {
				v[i]++
			}
		}
	}
	return v
}

func embeddingsReply(t *testing.T, reverse bool) func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
	return func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		if r.URL.Path != "/v1/embeddings" {
			t.Errorf("unexpected path %s", r.URL.Path)
		}
		var req struct {
			Input []string `json:"input"`
			Model string   `json:"model"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			t.Errorf("embeddings request %s: %v", body, err)
		}
		resp := openai.EmbeddingResponse{Model: openai.EmbeddingModel(req.Model), Usage: openai.Usage{PromptTokens: len(req.Input)}}
		for i, in := range req.Input {
			resp.Data = append(resp.Data, openai.Embedding{Object: "embedding", Index: i, Embedding: conceptVector(in)})
		}
		if reverse {
			for i, j := 0, len(resp.Data)-1; i < j; i, j = i+1, j-1 {
				resp.Data[i], resp.Data[j] = resp.Data[j], resp.Data[i]
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(resp)
	}
}

func TestEmbed(t *testing.T) {
	env := newTestEnv(t, Config{EmbeddingModel: "text-embedding-3-small"}, embeddingsReply(t, true))
	vecs, err := env.client.Embed(context.Background(), []string{"我的快递到哪了", "怎么开发票"})
	if err != nil {
		t.Fatal(err)
	}
	if vecs[0][0] != 2 || vecs[1][2] != 1 {
		t.Fatalf("vectors %v not in input order", vecs)
	}
	if env.client.EmbeddingModel() != "text-embedding-3-small" {
		t.Error("EmbeddingModel")
	}

	short := newTestEnv(t, Config{EmbeddingModel: "m"}, func(w http.ResponseWriter, r *http.Request, n int, _ []byte) {
		fmt.Fprint(w, `{"data":[{"index":0,"embedding":[1,2]}]}`)
	})
	if _, err := short.client.Embed(context.Background(), []string{"a", "b"}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("one vector for two texts: %v", err)
	}
	none := newTestEnv(t, Config{}, embeddingsReply(t, false))
	if _, err := none.client.Embed(context.Background(), []string{"a"}); !errors.Is(err, ErrDisabled) || none.api.count() != 0 {
		t.Fatalf("embed without embedding_model: %v", err)
	}
}

var testIntents = []Intent{
	{ID: "order-status", Description: "查询订单物流", Examples: []string{"我的快递到哪了", "查一下物流"}},
	{ID: "refund", Examples: []string{"我要退款", "不想要了想退货"}},
}

func TestIntentByEmbeddings(t *testing.T) {
	env := newTestEnv(t, Config{EmbeddingModel: "m"}, embeddingsReply(t, false))
	ic, err := env.client.NewIntentClassifier(testIntents, IntentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if ic.Method() != IntentByEmbeddings {
		t.Fatalf("method %s", ic.Method())
	}
	ctx := context.Background()
	m, err := ic.Classify(ctx, "帮我看看物流到哪一步了")
	if err != nil || m.ID != "order-status" || m.Score < 0.75 {
		t.Fatalf("match %+v err %v", m, err)
	}
	m, err = ic.Classify(ctx, "今天天气不错")
	if err != nil || m.ID != "" || m.Best == "" {
		t.Fatalf("unrelated text: %+v err %v, want no intent but a best candidate", m, err)
	}
	// Examples are embedded once: 1 request for them + 1 per question.
	if env.api.count() != 3 {
		t.Errorf("%d embeddings requests, want 3", env.api.count())
	}
}

func TestIntentByChat(t *testing.T) {
	env := newTestEnv(t, Config{}, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		switch n {
		case 1:
			writeChat(w, "```json\n{\"intent\": \"refund\", \"confidence\": 0.92}\n```", 80, 12)
		case 2:
			writeChat(w, `{"intent":"refund","confidence":0.3}`, 80, 12)
		case 3:
			writeChat(w, `{"intent":"launch-missiles","confidence":1}`, 80, 12)
		default:
			writeChat(w, "I think it is refund", 80, 12)
		}
	})
	ic, err := env.client.NewIntentClassifier(testIntents, IntentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const text = "东西不想要了 INTENT-TEXT-7"
	if m, err := ic.Classify(ctx, text); err != nil || m.ID != "refund" || m.Score != 0.92 {
		t.Fatalf("match %+v err %v", m, err)
	}
	req := env.api.chatRequest(0)
	if strings.Contains(systemText(req), "INTENT-TEXT-7") || req.Messages[len(req.Messages)-1].Content != text {
		t.Errorf("customer text not confined to the user message: %+v", req.Messages)
	}
	if !strings.Contains(systemText(req), "order-status") || !strings.Contains(systemText(req), "不想要了想退货") {
		t.Errorf("intents missing from the prompt")
	}
	if m, _ := ic.Classify(ctx, text); m.ID != "" || m.Best != "refund" {
		t.Errorf("low confidence: %+v, want no intent", m)
	}
	if m, _ := ic.Classify(ctx, text); m.ID != "" {
		t.Errorf("an intent the classifier was not given: %+v", m)
	}
	if _, err := ic.Classify(ctx, text); !errors.Is(err, ErrMalformed) {
		t.Errorf("prose instead of JSON: %v", err)
	}
}

func TestIntentClassifierValidation(t *testing.T) {
	c, _ := New(Config{BaseURL: "http://127.0.0.1:1/v1"}, Options{})
	for _, bad := range [][]Intent{nil, {{ID: ""}}, {{ID: "a b", Examples: []string{"x"}}}, {{ID: "a"}}} {
		if _, err := c.NewIntentClassifier(bad, IntentConfig{}); err == nil {
			t.Errorf("intents %+v accepted", bad)
		}
	}
	ic, err := c.NewIntentClassifier([]Intent{{ID: "a", Examples: []string{"x"}}, {ID: "a", Description: "d", Examples: []string{"y"}}}, IntentConfig{})
	if err != nil || len(ic.intents) != 1 || len(ic.intents[0].Examples) != 2 || ic.intents[0].Description != "d" {
		t.Errorf("two flows sharing an intent: %+v, %v", ic, err)
	}
	if _, err := c.NewIntentClassifier(testIntents, IntentConfig{Method: IntentByEmbeddings}); err == nil {
		t.Error("embeddings method without embedding_model accepted")
	}
}
