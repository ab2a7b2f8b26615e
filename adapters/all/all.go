// Package all switches on every channel kind kefu ships: importing it runs
// each kind's init(), which registers it. Adding a channel adds one line here.
package all

import (
	_ "github.com/kefu-gateway/kefu/adapters/dingtalk" // DingTalk enterprise robot (HTTP and stream mode)
	_ "github.com/kefu-gateway/kefu/adapters/web"      // web chat widget
	_ "github.com/kefu-gateway/kefu/adapters/wechatmp" // WeChat mini-program customer service
	_ "github.com/kefu-gateway/kefu/adapters/wechatoa" // WeChat official accounts
	_ "github.com/kefu-gateway/kefu/adapters/wecomapp" // WeCom self-built app (agents, helpdesk)
	_ "github.com/kefu-gateway/kefu/adapters/wecomkf"  // WeCom 微信客服
)
