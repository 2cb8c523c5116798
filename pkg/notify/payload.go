package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

func payload(t stackfile.NotifierType, ev Event) ([]byte, error) {
	switch t {
	case stackfile.NotifierWebhook:
		return json.Marshal(ev)
	case stackfile.NotifierSlack:
		return json.Marshal(slackMessage(ev))
	}
	return nil, fmt.Errorf("unknown notifier type %q", t)
}

// Slack's incoming-webhook format: text is the fallback shown in
// notifications, blocks the message itself.
type slackPayload struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string       `json:"type"`
	Text     *slackText   `json:"text,omitempty"`
	Elements []*slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

var slackEmoji = map[EventType]string{
	EventStarted:    ":rocket:",
	EventStep:       ":arrow_forward:",
	EventPaused:     ":double_vertical_bar:",
	EventPromoted:   ":white_check_mark:",
	EventFailed:     ":x:",
	EventRolledBack: ":rewind:",
}

func slackMessage(ev Event) slackPayload {
	what := string(ev.Type)
	if ev.Step > 0 {
		what += fmt.Sprintf(" (step %d)", ev.Step)
	}
	rollout := "rollout"
	if ev.Strategy != "" {
		rollout = ev.Strategy + " rollout"
	}
	text := fmt.Sprintf("%s %s version %s: %s %s", emoji(ev.Type), ev.App, ev.Version, rollout, what)
	if ev.Message != "" {
		text += ": " + ev.Message
	}

	head := fmt.Sprintf("%s *%s* version `%s`: %s *%s*", emoji(ev.Type),
		slackEscape(ev.App), slackEscape(ev.Version), slackEscape(rollout), slackEscape(what))
	if ev.Message != "" {
		head += "\n" + slackEscape(ev.Message)
	}
	var ctx []string
	if ev.URL != "" {
		ctx = append(ctx, fmt.Sprintf("<%s|Nomad deployment>", slackEscape(ev.URL)))
	}
	if !ev.At.IsZero() {
		ctx = append(ctx, ev.At.UTC().Format(time.RFC3339))
	}
	blocks := []slackBlock{{Type: "section", Text: &slackText{Type: "mrkdwn", Text: head}}}
	if len(ctx) > 0 {
		blocks = append(blocks, slackBlock{Type: "context", Elements: []*slackText{
			{Type: "mrkdwn", Text: strings.Join(ctx, " · ")},
		}})
	}
	return slackPayload{Text: text, Blocks: blocks}
}

func emoji(t EventType) string {
	if e, ok := slackEmoji[t]; ok {
		return e
	}
	return ":information_source:"
}

// slackEscape escapes the three characters Slack's mrkdwn reserves, so an
// app message cannot inject links or mentions (<!channel>).
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
