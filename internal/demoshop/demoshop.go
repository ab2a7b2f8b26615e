// Package demoshop is a tiny fake shop API that kefu serves in demo mode so
// the demo flows (configs/flows) can show an http step working end to end.
// Everything it returns is DEMO DATA: fixed made-up orders, no storage, no
// real customers. Mount it with
//
//	mux.Handle(demoshop.Prefix+"/", demoshop.NewHandler(demoshop.Prefix))
//
// and point the flows at it with the flows var shop_api =
// "{{vars.self_url}}/demo/shop".
package demoshop

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// Prefix is where kefu mounts the demo shop.
const Prefix = "/demo/shop"

// Notice is carried by every response so nobody mistakes it for real data.
const Notice = "演示数据 demo data — not a real shop"

// Order is a demo order.
type Order struct {
	OrderID    string   `json:"order_id"`
	Status     string   `json:"status"`
	StatusText string   `json:"status_text"`
	Carrier    string   `json:"carrier,omitempty"`
	TrackingNo string   `json:"tracking_no,omitempty"`
	ETA        string   `json:"eta,omitempty"`
	Items      []string `json:"items"`
	Demo       bool     `json:"demo"`
	Notice     string   `json:"notice"`
}

// Orders are the fixed demo orders, by id.
var Orders = map[string]Order{
	"100001": {OrderID: "100001", Status: "shipped", StatusText: "已发货", Carrier: "顺丰速运", TrackingNo: "SF1234567890", ETA: "预计2天内送达", Items: []string{"纯棉T恤 白色 L"}},
	"100002": {OrderID: "100002", Status: "processing", StatusText: "待发货", ETA: "预计24小时内发货", Items: []string{"帆布包 卡其色"}},
	"100003": {OrderID: "100003", Status: "delivered", StatusText: "已签收", Carrier: "中通快递", TrackingNo: "ZT9876543210", Items: []string{"保温杯 500ml", "杯套"}},
}

// ReturnRequest is the body of POST /returns.
type ReturnRequest struct {
	OrderID string `json:"order_id"`
	Reason  string `json:"reason"`
	Phone   string `json:"phone"`
}

// ReturnReceipt answers a return request.
type ReturnReceipt struct {
	ReturnID string `json:"return_id"`
	Status   string `json:"status"`
	Demo     bool   `json:"demo"`
	Notice   string `json:"notice"`
}

const maxBody = 64 << 10

// NewHandler serves the demo shop under prefix:
//
//	GET  {prefix}/orders/{id}  -> 200 Order | 404
//	POST {prefix}/returns      -> 201 ReturnReceipt | 400 | 404
func NewHandler(prefix string) http.Handler {
	prefix = strings.TrimRight(prefix, "/")
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+prefix+"/orders/{id}", getOrder)
	mux.HandleFunc("POST "+prefix+"/returns", postReturn)
	return mux
}

func getOrder(w http.ResponseWriter, r *http.Request) {
	o, ok := Orders[r.PathValue("id")]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "order not found", "demo": true, "notice": Notice})
		return
	}
	o.Demo, o.Notice = true, Notice
	writeJSON(w, http.StatusOK, o)
}

func postReturn(w http.ResponseWriter, r *http.Request) {
	var req ReturnRequest
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": "body too large", "demo": true})
		return
	}
	if err := json.Unmarshal(data, &req); err != nil || req.OrderID == "" || req.Reason == "" || req.Phone == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "order_id, reason and phone are required", "demo": true})
		return
	}
	if _, ok := Orders[req.OrderID]; !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "order not found", "demo": true, "notice": Notice})
		return
	}
	writeJSON(w, http.StatusCreated, ReturnReceipt{ReturnID: "RT" + req.OrderID, Status: "received", Demo: true, Notice: Notice})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Demo-Data", "true")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
