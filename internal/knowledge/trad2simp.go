package knowledge

// trad2simp maps common traditional characters to simplified ones: the
// characters of shopping and customer-service questions, so that a customer
// writing from Hong Kong or Taiwan matches the same FAQ. It is deliberately
// small (a full OpenCC table is megabytes and phrase-based); add characters
// as they turn up in `kefu kb gaps`.
var trad2simp = func() map[rune]rune {
	const pairs = "們们誰谁貨货郵邮運运費费發发開开號号碼码換换還还錢钱單单訂订麼么嗎吗樣样會会員员積积優优遞递時时間间幾几點点買买賣卖給给這这個个說说話话電电聯联繫系係系務务門门裡里裏里請请問问為为沒没實实體体價价補补壞坏維维質质褲裤長长東东損损辦办處处區区與与從从後后過过來来讓让見见現现頭头題题額额戶户對对應应該该帳账賬账無无專专業业書书標标籤签歡欢謝谢麗丽驗验證证碼码機机關关閉闭網网絡络線线離离達达擇择選选擴扩寬宽華华頁页項项範范圍围製制準准紅红綠绿藍蓝黃黄灣湾廣广顏颜氣气熱热涼凉鞋鞋雙双條条張张塊块隻只錯错誤误夠够減减滿满贈赠禮礼獎奖惠惠劵券卷卷預预約约記记錄录憑凭據据稅税額额據据贖赎擔担險险傳传輸输寫写讀读聽听聲声儲储紀纪級级鐘钟態态慢慢遲迟壓压爛烂髒脏舊旧簽签辭辞職职總总統统計计劃划鬆松緊紧漲涨鋪铺莊庄倉仓庫库戲戏歲岁產产貼贴適适碼码寬宽窄窄碼码車车輛辆飛飞鐵铁陸陆海海萬万億亿劃划撥拨盤盘庫库號号優优惠惠團团購购搶抢殺杀場场動动啟启閱阅讚赞種种類类彈弹燈灯爐炉鍋锅觀观視视頻频歷历鏈链接接則则規规權权憑凭據据攜携帶带簡简繁繁換换碼码"
	rs := []rune(pairs)
	m := make(map[rune]rune, len(rs)/2)
	for i := 0; i+1 < len(rs); i += 2 {
		if rs[i] != rs[i+1] {
			m[rs[i]] = rs[i+1]
		}
	}
	return m
}()
