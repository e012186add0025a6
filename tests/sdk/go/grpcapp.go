package main

import (
	"context"
	"errors"
	"strings"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/dapr/go-sdk/service/common"
	daprgrpc "github.com/dapr/go-sdk/service/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// grpcAppChecks serves the Go SDK's gRPC app (`service/grpc`, the sidecar started with
// `--app-protocol grpc`): an invocation handler, a topic subscription and a job event
// handler, each reached through the sidecar by the client.
func grpcAppChecks(ctx context.Context) {
	s, err := daprgrpc.NewService("127.0.0.1:" + env("APP_PORT"))
	must(err, "service/grpc NewService")
	must(s.AddServiceInvocationHandler("shout", func(ctx context.Context, in *common.InvocationEvent) (*common.Content, error) {
		if in == nil {
			return nil, errors.New("no invocation")
		}
		return &common.Content{
			Data:        []byte(strings.ToUpper(string(in.Data)) + " via " + in.Verb),
			ContentType: "text/plain",
		}, nil
	}), "AddServiceInvocationHandler")
	events := make(chan *common.TopicEvent, 8)
	must(s.AddTopicEventHandler(&common.Subscription{PubsubName: pubsubName, Topic: "go-grpc-orders"},
		func(ctx context.Context, e *common.TopicEvent) (bool, error) {
			events <- e
			return false, nil
		}), "AddTopicEventHandler")
	jobs := make(chan *common.JobEvent, 8)
	must(s.AddJobEventHandler("go-due", func(ctx context.Context, e *common.JobEvent) error {
		jobs <- e
		return nil
	}), "AddJobEventHandler")
	go func() { _ = s.Start() }()
	defer func() { _ = s.Stop() }()

	c := newClient()
	defer c.Close()
	appID := env("APP_ID")

	var out []byte
	for i := 0; i < 100; i++ {
		out, err = c.InvokeMethodWithContent(ctx, appID, "shout", "post",
			&dapr.DataContent{ContentType: "text/plain", Data: []byte("hello")})
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	check(err == nil && string(out) == "HELLO via POST", "grpc app: invocation reaches the service/grpc handler", string(out), err)

	// Publish once the sidecar lists the app's subscription.
	listed := false
	for i := 0; i < 100 && !listed; i++ {
		md, err := c.GetMetadata(ctx)
		must(err, "GetMetadata")
		for _, sub := range md.Subscriptions {
			listed = listed || sub.Topic == "go-grpc-orders"
		}
		if !listed {
			time.Sleep(50 * time.Millisecond)
		}
	}
	check(listed, "grpc app: the subscription is listed")
	must(c.PublishEvent(ctx, pubsubName, "go-grpc-orders", map[string]int{"orderId": 9}), "PublishEvent")
	e := waitEvent(events)
	var data map[string]int
	if e != nil {
		_ = e.Struct(&data)
	}
	check(e != nil && data["orderId"] == 9 && e.Topic == "go-grpc-orders", "grpc app: the event reaches the service/grpc subscriber", e)

	// A one-shot job due in a second is delivered to the app's job handler with its data.
	payload, err := anypb.New(wrapperspb.String("due payload"))
	must(err, "anypb.New")
	err = c.ScheduleJobAlpha1(ctx, dapr.NewJob("go-due", dapr.WithJobDueTime("1s"), dapr.WithJobData(payload)))
	check(err == nil, "grpc app: schedule a job due in 1s", err)
	select {
	case j := <-jobs:
		// The handler gets the value of the job's Any: the serialised StringValue.
		var sv wrapperspb.StringValue
		derr := proto.Unmarshal(j.Data, &sv)
		check(j.JobType == "go-due" && derr == nil && sv.GetValue() == "due payload",
			"grpc app: the job is delivered with its data", j.JobType, " ", j.Data, " ", derr)
	case <-time.After(15 * time.Second):
		check(false, "grpc app: the job is delivered with its data", "no delivery in 15 s")
	}
	// Gone once the app's answer reached the sidecar (polled: the handler runs before that).
	for i := 0; i < 60; i++ {
		if _, err = c.GetJobAlpha1(ctx, "go-due"); err != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	check(err != nil, "grpc app: a delivered one-shot job is gone", err)
}
