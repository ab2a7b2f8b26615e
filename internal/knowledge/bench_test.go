package knowledge

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// synthWords are content words for generated FAQs.
var synthWords = []string{
	"退货", "换货", "退款", "发票", "专票", "快递", "物流", "运费", "包邮", "顺丰", "地址", "电话", "订单", "取消", "付款",
	"支付宝", "微信", "信用卡", "分期", "花呗", "尺码", "颜色", "面料", "保修", "维修", "质保", "破损", "漏发", "赠品", "门店",
	"会员", "积分", "优惠券", "价保", "补货", "预售", "定金", "尾款", "发货", "签收", "拒收", "退回", "售后", "客服", "人工",
	"营业", "自提", "批发", "定制", "刻字", "包装", "礼盒", "贺卡", "保价", "运费险", "押金", "租赁", "安装", "上门", "配送",
	"冷链", "生鲜", "保质期", "过敏", "成分", "产地", "认证", "正品", "假货", "投诉", "评价", "晒单", "返现", "红包", "抽奖",
	"直播", "秒杀", "拼团", "砍价", "预约", "到货", "缺货", "断码", "加急", "延迟", "海外", "港澳", "关税", "清关", "报关",
	"电池", "充电器", "耳机", "屏幕", "手表", "鞋子", "外套", "裤子", "裙子", "背包", "眼镜", "口罩", "茶叶", "咖啡", "奶粉",
}

var synthForms = []string{"怎么%s%s", "%s%s怎么办", "能%s%s吗", "%s的%s是多少", "%s和%s有什么区别", "为什么%s%s不行", "%s%s要多久", "在哪里%s%s"}

func synthFAQs(n int, rng *rand.Rand) []*FAQ {
	word := func() string { return synthWords[rng.IntN(len(synthWords))] }
	out := make([]*FAQ, n)
	for i := range out {
		a, b, c := word(), word(), word()
		q := fmt.Sprintf(synthForms[rng.IntN(len(synthForms))], a, b)
		out[i] = &FAQ{
			ID:       fmt.Sprintf("faq-%d", i),
			Question: q,
			Similar: []string{
				fmt.Sprintf(synthForms[rng.IntN(len(synthForms))], b, a),
				fmt.Sprintf(synthForms[rng.IntN(len(synthForms))], a, c),
				a + b + c,
			},
			Answer: "示例回答" + q,
		}
	}
	return out
}

func synthQueries(faqs []*FAQ, n int, rng *rand.Rand) []string {
	fillers := []string{"请问", "你好，", "那个", "我想问下", ""}
	out := make([]string, n)
	for i := range out {
		f := faqs[rng.IntN(len(faqs))]
		out[i] = fillers[rng.IntN(len(fillers))] + f.Similar[rng.IntN(len(f.Similar))] + "，" + synthWords[rng.IntN(len(synthWords))] + "吗？"
	}
	return out
}

// BenchmarkSearch measures one retrieval (normalize, tokenize, score, rank)
// over knowledge bases of 100, 1,000 and 10,000 synthetic FAQs (4 indexed
// texts each) and reports the 99th percentile per query besides ns/op.
func BenchmarkSearch(b *testing.B) {
	pol, _ := NewPolicy(PolicyConfig{})
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("faqs=%d", n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, uint64(n)))
			base := NewBase(synthFAQs(n, rng), nil)
			queries := synthQueries(base.FAQs, 512, rng)
			durations := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				q := queries[i%len(queries)]
				start := time.Now()
				pol.Decide(q, base.Search(q, DefaultTopK))
				durations = append(durations, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(durations)
			b.ReportMetric(float64(durations[len(durations)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}

// BenchmarkLoadDemo measures loading and indexing the demo knowledge base,
// the cost of one hot reload.
func BenchmarkLoadDemo(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := LoadDir("../../configs/knowledge"); err != nil {
			b.Fatal(err)
		}
	}
}
