package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/dapr/go-sdk/actor"
	dapr "github.com/dapr/go-sdk/client"
	"github.com/dapr/go-sdk/service/common"
	daprd "github.com/dapr/go-sdk/service/http"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const (
	pubsubName  = "pubsub"
	ordersTopic = "go-orders"
	counterType = "GoCounter"
)

// Counter is an actor hosted by the `service/http` app: `Add` keeps a running total in
// the actor state store.
type Counter struct {
	actor.ServerImplBaseCtx
}

func (c *Counter) Type() string { return counterType }

// reminders receives `actor id/reminder name/data` for every reminder call.
var reminders = make(chan string, 16)

// ReminderCall is how the SDK delivers the actor's reminders.
func (c *Counter) ReminderCall(name string, state []byte, dueTime string, period string) {
	reminders <- c.ID() + "/" + name + "/" + string(state)
}

// Add adds n to the total and returns the new total.
func (c *Counter) Add(ctx context.Context, n int) (int, error) {
	total := 0
	sm := c.GetStateManager()
	if ok, err := sm.Contains(ctx, "total"); err != nil {
		return 0, err
	} else if ok {
		if err := sm.Get(ctx, "total", &total); err != nil {
			return 0, err
		}
	}
	total += n
	if err := sm.Set(ctx, "total", total); err != nil {
		return 0, err
	}
	return total, nil
}

// startApp serves the Go SDK's HTTP service on APP_PORT: `/echo` (an invocation target),
// a subscription to ordersTopic whose events go to `events`, and the Counter actor.
func startApp(events chan<- *common.TopicEvent) common.Service {
	s := daprd.NewService("127.0.0.1:" + env("APP_PORT"))
	must(s.AddServiceInvocationHandler("/echo", func(ctx context.Context, in *common.InvocationEvent) (*common.Content, error) {
		if in == nil {
			return nil, errors.New("no invocation")
		}
		reply := map[string]string{
			"verb":        in.Verb,
			"query":       in.QueryString,
			"contentType": in.ContentType,
			"body":        strings.ToUpper(string(in.Data)),
		}
		b, _ := json.Marshal(reply)
		return &common.Content{Data: b, ContentType: "application/json"}, nil
	}), "AddServiceInvocationHandler")
	must(s.AddServiceInvocationHandler("/fail", func(ctx context.Context, in *common.InvocationEvent) (*common.Content, error) {
		return nil, errors.New("the app refused")
	}), "AddServiceInvocationHandler /fail")
	must(s.AddTopicEventHandler(&common.Subscription{
		PubsubName: pubsubName, Topic: ordersTopic, Route: "/orders",
	}, func(ctx context.Context, e *common.TopicEvent) (bool, error) {
		events <- e
		return false, nil
	}), "AddTopicEventHandler")
	s.RegisterActorImplFactoryContext(func() actor.ServerContext { return &Counter{} })
	go func() {
		if err := s.Start(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			must(err, "service start")
		}
	}()
	return s
}

func appChecks(ctx context.Context) {
	events := make(chan *common.TopicEvent, 16)
	s := startApp(events)
	defer func() { _ = s.Stop() }()
	c := newClient()
	defer c.Close()
	appID := env("APP_ID")

	// Invocation through the sidecar to the app's `/echo` (retried while the sidecar
	// finds the app, which starts after it, as under `dapr run`).
	var out []byte
	var err error
	for i := 0; i < 100; i++ {
		out, err = c.InvokeMethodWithContent(ctx, appID, "echo?x=1", "post",
			&dapr.DataContent{ContentType: "text/plain", Data: []byte("hello")})
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var reply map[string]string
	if err == nil {
		err = json.Unmarshal(out, &reply)
	}
	check(err == nil && reply["body"] == "HELLO" && reply["verb"] == "POST" &&
		reply["contentType"] == "text/plain",
		"invoke: POST with content reaches the service/http handler", string(out), err)
	out, err = c.InvokeMethod(ctx, appID, "echo", "get")
	reply = nil
	if err == nil {
		err = json.Unmarshal(out, &reply)
	}
	check(err == nil && reply["verb"] == "GET" && reply["body"] == "", "invoke: GET without content", string(out), err)
	out, err = c.InvokeMethodWithCustomContent(ctx, appID, "echo", "put", "application/json", map[string]int{"n": 1})
	reply = nil
	if err == nil {
		err = json.Unmarshal(out, &reply)
	}
	check(err == nil && reply["verb"] == "PUT" && reply["body"] == `{"N":1}` && reply["contentType"] == "application/json",
		"invoke: custom JSON content", string(out), err)
	// An app's 500 is an Unknown status "Internal Server Error" whose ErrorInfo carries the
	// HTTP code and the app's body, as upstream's InvokeService answers.
	_, err = c.InvokeMethod(ctx, appID, "fail", "get")
	ist := status.Convert(err)
	info := map[string]string{}
	for _, d := range ist.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			info = ei.GetMetadata()
		}
	}
	check(err != nil && ist.Code() == codes.Unknown && ist.Message() == "Internal Server Error" &&
		info["http.code"] == "500" && strings.Contains(info["http.error_message"], "the app refused"),
		"invoke: an app error reaches the caller", err, " ", info)
	_, err = c.InvokeMethod(ctx, appID, "nosuchmethod", "get")
	check(err != nil, "invoke: an unknown method is an error", err)

	// The sidecar reads the app's subscription once the app answers (polled: invocation may
	// reach the app a moment before the subscriptions are loaded).
	subscribed := false
	var subs []*dapr.MetadataSubscription
	for i := 0; i < 100 && !subscribed; i++ {
		md, err := c.GetMetadata(ctx)
		must(err, "GetMetadata")
		subs = md.Subscriptions
		for _, sub := range subs {
			if sub.PubsubName == pubsubName && sub.Topic == ordersTopic {
				subscribed = true
			}
		}
		if !subscribed {
			time.Sleep(50 * time.Millisecond)
		}
	}
	check(subscribed, "metadata: the service/http subscription is listed", subs)

	// Pub/sub: a JSON event and a text event through the client reach the subscriber as
	// CloudEvents.
	must(c.PublishEvent(ctx, pubsubName, ordersTopic, map[string]any{"orderId": 7}), "PublishEvent")
	e := waitEvent(events)
	if e == nil {
		check(false, "pubsub: the JSON event reaches the subscriber")
	} else {
		var data map[string]any
		_ = e.Struct(&data)
		check(data["orderId"] == float64(7) && e.Topic == ordersTopic && e.PubsubName == pubsubName &&
			e.DataContentType == "application/json" && e.ID != "" && e.SpecVersion == "1.0",
			"pubsub: the JSON event reaches the subscriber", e)
	}
	must(c.PublishEvent(ctx, pubsubName, ordersTopic, []byte("plain words"),
		dapr.PublishEventWithContentType("text/plain")), "PublishEvent text")
	e = waitEvent(events)
	check(e != nil && e.DataContentType == "text/plain" && e.Data == "plain words",
		"pubsub: the text event reaches the subscriber", e)
	res := c.PublishEvents(ctx, pubsubName, ordersTopic, []any{map[string]int{"n": 1}, map[string]int{"n": 2}})
	check(res.Error == nil && len(res.FailedEvents) == 0, "pubsub: bulk publish of two events", res.Error)
	got := 0
	for i := 0; i < 2; i++ {
		if waitEvent(events) != nil {
			got++
		}
	}
	check(got == 2, "pubsub: both bulk events arrive", got)
	err = c.PublishEvent(ctx, "nosuchpubsub", ordersTopic, []byte("x"))
	check(grpcCode(err) != 0 && strings.Contains(err.Error(), "nosuchpubsub"), "pubsub: an unknown pub/sub is refused", err)

	// Actors: the Counter hosted by this app, called through the client.
	add := func(id string, n int) (int, error) {
		data, _ := json.Marshal(n)
		r, err := c.InvokeActor(ctx, &dapr.InvokeActorRequest{ActorType: counterType, ActorID: id, Method: "Add", Data: data})
		if err != nil {
			return 0, err
		}
		var total int
		err = json.Unmarshal(r.Data, &total)
		return total, err
	}
	var t1 int
	for i := 0; i < 100; i++ { // the sidecar learns the actor types from /dapr/config
		if t1, err = add("c1", 5); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	check(err == nil && t1 == 5, "actors: first call", t1, err)
	t2, err := add("c1", 3)
	check(err == nil && t2 == 8, "actors: the total is kept between calls", t2, err)
	t3, err := add("c2", 1)
	check(err == nil && t3 == 1, "actors: another id has its own state", t3, err)
	st, err := c.GetActorState(ctx, &dapr.GetActorStateRequest{ActorType: counterType, ActorID: "c1", KeyName: "total"})
	check(err == nil && st != nil && string(st.Data) == "8", "actors: GetActorState reads the saved total", st, err)
	err = c.SaveStateTransactionally(ctx, counterType, "c1", []*dapr.ActorStateOperation{
		{OperationType: "upsert", Key: "total", Value: []byte("100")},
	})
	check(err == nil, "actors: state transaction from the client", err)
	st2, err := c.GetActorState(ctx, &dapr.GetActorStateRequest{ActorType: counterType, ActorID: "c1", KeyName: "total"})
	check(err == nil && st2 != nil && string(st2.Data) == "100", "actors: the client's transaction is read back", st2, err)
	_, err = c.InvokeActor(ctx, &dapr.InvokeActorRequest{ActorType: counterType, ActorID: "c1", Method: "NoSuchMethod"})
	check(err != nil, "actors: an unknown method is an error", err)

	// A reminder registered by the client fires on the actor (every 1 s), and stops once
	// unregistered.
	err = c.RegisterActorReminder(ctx, &dapr.RegisterActorReminderRequest{
		ActorType: counterType, ActorID: "c2", Name: "ping", DueTime: "0s", Period: "1s", Data: []byte(`"hi"`),
	})
	check(err == nil, "actors: register a reminder", err)
	fired := 0
	deadline := time.After(10 * time.Second)
calls:
	for fired < 2 {
		select {
		case r := <-reminders:
			if r == `c2/ping/"hi"` {
				fired++
			} else {
				check(false, "actors: an unexpected reminder call", r)
			}
		case <-deadline:
			break calls
		}
	}
	check(fired == 2, "actors: the reminder fires on the actor twice", fired)
	err = c.UnregisterActorReminder(ctx, &dapr.UnregisterActorReminderRequest{ActorType: counterType, ActorID: "c2", Name: "ping"})
	check(err == nil, "actors: unregister the reminder", err)
	time.Sleep(300 * time.Millisecond)
	for len(reminders) > 0 { // a call already under way when it was unregistered
		<-reminders
	}
	select {
	case r := <-reminders:
		check(false, "actors: no reminder call after unregister", r)
	case <-time.After(1500 * time.Millisecond):
		check(true, "actors: no reminder call after unregister")
	}

	// A streaming subscription (SubscribeTopicEventsAlpha1) through the client: the event
	// arrives on the stream, is acknowledged, and the stream closes.
	sub, err := c.Subscribe(ctx, dapr.SubscriptionOptions{PubsubName: pubsubName, Topic: "go-stream"})
	must(err, "Subscribe")
	must(c.PublishEvent(ctx, pubsubName, "go-stream", map[string]string{"via": "stream"}), "PublishEvent go-stream")
	streamed := make(chan *dapr.SubscriptionMessage, 1)
	go func() {
		m, err := sub.Receive()
		if err != nil {
			close(streamed)
			return
		}
		streamed <- m
	}()
	select {
	case m, ok := <-streamed:
		var data map[string]string
		if ok {
			_ = m.Struct(&data)
		}
		check(ok && data["via"] == "stream" && m.Topic == "go-stream", "pubsub: the streaming subscription receives the event", data)
		if ok {
			check(m.Success() == nil, "pubsub: the streamed event is acknowledged")
		}
	case <-time.After(10 * time.Second):
		check(false, "pubsub: the streaming subscription receives the event", "nothing in 10 s")
	}
	check(sub.Close() == nil, "pubsub: the streaming subscription closes")
}

func waitEvent(events <-chan *common.TopicEvent) *common.TopicEvent {
	select {
	case e := <-events:
		return e
	case <-time.After(10 * time.Second):
		return nil
	}
}
