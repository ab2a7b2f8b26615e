package e2e

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
)

// js helpers reaching into the widget's shadow root.
const (
	jsRoot = `document.querySelector('#kefu-widget').shadowRoot`
	jsLog  = `Array.from(` + jsRoot + `.querySelectorAll('.log .row')).map(r => (r.classList.contains('me') ? 'me:' : 'them:') + r.querySelector('.bubble').textContent)`
)

func send(text string) chromedp.Action {
	return chromedp.Evaluate(`(() => { const r = `+jsRoot+`; const i = r.querySelector('textarea'); i.value = `+quote(text)+`; r.querySelector('form').requestSubmit(); return true })()`, nil)
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`)
	return `'` + r.Replace(s) + `'`
}

// waitLog polls the widget's messages until ok accepts them.
func waitLog(ctx context.Context, t *testing.T, what string, ok func([]string) bool) []string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var rows []string
	for time.Now().Before(deadline) {
		rows = nil
		if err := chromedp.Run(ctx, chromedp.Evaluate(jsLog, &rows)); err == nil && ok(rows) {
			return rows
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("waiting for %s; widget shows %q", what, rows)
	return nil
}

func has(rows []string, prefix string) bool {
	for _, r := range rows {
		if strings.HasPrefix(r, prefix) {
			return true
		}
	}
	return false
}

func TestWidgetInRealChromium(t *testing.T) {
	srv := apptest.Start(t, apptest.DemoConfig(t), apptest.Options{})
	ctx := Browser(t)
	var dialogs atomic.Int32
	chromedp.ListenTarget(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			dialogs.Add(1)
			go chromedp.Run(ctx, page.HandleJavaScriptDialog(false))
		}
	})

	// Open the demo page and the widget, say 你好, see the greeting.
	err := chromedp.Run(ctx,
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitReady("#kefu-widget", chromedp.ByQuery),
		chromedp.Evaluate(jsRoot+`.querySelector('.launcher').click()`, nil),
		chromedp.Sleep(300*time.Millisecond),
		send("你好"),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitLog(ctx, t, "the greeting", func(rows []string) bool {
		return has(rows, "me:你好") && has(rows, "them:您好！我是小店的智能客服")
	})

	// Reload: the history is still there.
	if err := chromedp.Run(ctx, chromedp.Reload(), chromedp.WaitReady("#kefu-widget", chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	waitLog(ctx, t, "history after reload", func(rows []string) bool {
		return has(rows, "me:你好") && has(rows, "them:您好！我是小店的智能客服")
	})

	// Markup in a message is shown as text and runs nothing.
	const payload = `<img src=x onerror=alert(1)>`
	if err := chromedp.Run(ctx, send(payload)); err != nil {
		t.Fatal(err)
	}
	waitLog(ctx, t, "the payload echoed as text and the bot's answer", func(rows []string) bool {
		return has(rows, "me:"+payload) && len(rows) >= 4
	})
	// Also after a reload, when it comes back from the server's history.
	if err := chromedp.Run(ctx, chromedp.Reload(), chromedp.WaitReady("#kefu-widget", chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	waitLog(ctx, t, "the payload in history", func(rows []string) bool { return has(rows, "me:"+payload) })
	var imgs int
	if err := chromedp.Run(ctx, chromedp.Evaluate(jsRoot+`.querySelectorAll('.log img').length`, &imgs)); err != nil {
		t.Fatal(err)
	}
	if imgs != 0 || dialogs.Load() != 0 {
		t.Fatalf("message markup was interpreted: %d <img> elements, %d dialogs", imgs, dialogs.Load())
	}

	// On a phone screen the panel fills the screen.
	var width float64
	err = chromedp.Run(ctx,
		chromedp.EmulateViewport(375, 667, chromedp.EmulateMobile),
		chromedp.Sleep(200*time.Millisecond),
		chromedp.Evaluate(jsRoot+`.querySelector('.panel').getBoundingClientRect().width`, &width),
	)
	if err != nil {
		t.Fatal(err)
	}
	if width < 370 {
		t.Errorf("panel is %.0fpx wide on a 375px phone screen, want full width", width)
	}
}
