package main

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dapr/durabletask-go/workflow"
	dapr "github.com/dapr/go-sdk/client"
)

var activityRuns atomic.Int32

// Chain calls three activities in turn, each on the previous one's output, and waits for
// an external event between the second and the third.
func Chain(ctx *workflow.WorkflowContext) (any, error) {
	var input string
	if err := ctx.GetInput(&input); err != nil {
		return nil, err
	}
	var a, b, c string
	if err := ctx.CallActivity(Upper, workflow.WithActivityInput(input)).Await(&a); err != nil {
		return nil, err
	}
	if err := ctx.CallActivity(Exclaim, workflow.WithActivityInput(a)).Await(&b); err != nil {
		return nil, err
	}
	ctx.SetCustomStatus("waiting for approval")
	var approver string
	if err := ctx.WaitForExternalEvent("approve", 30*time.Second).Await(&approver); err != nil {
		return nil, err
	}
	if err := ctx.CallActivity(Sign, workflow.WithActivityInput(b+" by "+approver)).Await(&c); err != nil {
		return nil, err
	}
	ctx.SetCustomStatus("done")
	return c, nil
}

// Upper is the first activity: the input in capitals.
func Upper(ctx workflow.ActivityContext) (any, error) {
	activityRuns.Add(1)
	var s string
	if err := ctx.GetInput(&s); err != nil {
		return nil, err
	}
	return strings.ToUpper(s), nil
}

// Exclaim is the second activity: the input with an exclamation mark.
func Exclaim(ctx workflow.ActivityContext) (any, error) {
	activityRuns.Add(1)
	var s string
	if err := ctx.GetInput(&s); err != nil {
		return nil, err
	}
	return s + "!", nil
}

// Sign is the third activity: the input between brackets.
func Sign(ctx workflow.ActivityContext) (any, error) {
	activityRuns.Add(1)
	var s string
	if err := ctx.GetInput(&s); err != nil {
		return nil, err
	}
	return "[" + s + "]", nil
}

// Sleeper waits on a durable timer: long enough to be terminated while it runs.
func Sleeper(ctx *workflow.WorkflowContext) (any, error) {
	if err := ctx.CreateTimer(time.Minute).Await(nil); err != nil {
		return nil, err
	}
	return "woke", nil
}

func workflowChecks(ctx context.Context) {
	env("DAPR_GRPC_PORT")
	wc, err := dapr.NewWorkflowClient()
	must(err, "dapr.NewWorkflowClient")
	r := workflow.NewRegistry()
	must(r.AddWorkflow(Chain), "AddWorkflow Chain")
	must(r.AddWorkflow(Sleeper), "AddWorkflow Sleeper")
	must(r.AddActivity(Upper), "AddActivity Upper")
	must(r.AddActivity(Exclaim), "AddActivity Exclaim")
	must(r.AddActivity(Sign), "AddActivity Sign")
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	must(wc.StartWorker(wctx, r), "StartWorker")

	id, err := wc.ScheduleWorkflow(ctx, "Chain", workflow.WithInstanceID("go-chain-1"), workflow.WithInput("order 7"))
	must(err, "ScheduleWorkflow")
	check(id == "go-chain-1", "workflow: scheduled with the given instance id", id)
	started, err := wc.WaitForWorkflowStart(ctx, id)
	check(err == nil && started != nil && started.Name == "Chain", "workflow: started", started, err)

	// Two activities run, then the instance waits for the event with its custom status.
	deadline := time.Now().Add(20 * time.Second)
	var md *workflow.WorkflowMetadata
	for time.Now().Before(deadline) {
		md, err = wc.FetchWorkflowMetadata(ctx, id)
		if err == nil && md.CustomStatus.GetValue() == "waiting for approval" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	check(err == nil && md != nil && md.RuntimeStatus == workflow.StatusRunning &&
		md.CustomStatus.GetValue() == "waiting for approval" && md.Input.GetValue() == `"order 7"`,
		"workflow: running and waiting for the event after two activities", md, err)
	check(activityRuns.Load() == 2, "workflow: two activities ran before the event", activityRuns.Load())

	must(wc.RaiseEvent(ctx, id, "approve", workflow.WithEventPayload("carol")), "RaiseEvent")
	wctx2, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	done, err := wc.WaitForWorkflowCompletion(wctx2, id)
	check(err == nil && done != nil && done.RuntimeStatus == workflow.StatusCompleted,
		"workflow: the chain completes", done, err)
	if done != nil {
		check(done.Output.GetValue() == `"[ORDER 7! by carol]"`,
			"workflow: the output went through all three activities", done.Output.GetValue())
		check(done.CustomStatus.GetValue() == "done", "workflow: the final custom status", done.CustomStatus)
	}
	check(activityRuns.Load() == 3, "workflow: each activity ran once", activityRuns.Load())

	// Terminate, then purge, an instance sleeping on a durable timer.
	sid, err := wc.ScheduleWorkflow(ctx, "Sleeper", workflow.WithInstanceID("go-sleeper-1"))
	must(err, "ScheduleWorkflow Sleeper")
	_, err = wc.WaitForWorkflowStart(ctx, sid)
	must(err, "WaitForWorkflowStart Sleeper")
	check(wc.TerminateWorkflow(ctx, sid, workflow.WithOutput("stopped")) == nil, "workflow: terminate")
	wctx3, cancel3 := context.WithTimeout(ctx, 10*time.Second)
	defer cancel3()
	term, err := wc.WaitForWorkflowCompletion(wctx3, sid)
	check(err == nil && term != nil && term.RuntimeStatus == workflow.StatusTerminated,
		"workflow: the terminated instance reports TERMINATED", term, err)
	check(wc.PurgeWorkflowState(ctx, sid) == nil, "workflow: purge")
	_, err = wc.FetchWorkflowMetadata(ctx, sid)
	check(err != nil, "workflow: a purged instance is gone", err)
	_, err = wc.FetchWorkflowMetadata(ctx, "no-such-instance")
	check(err != nil, "workflow: an unknown instance is an error", err)
}
