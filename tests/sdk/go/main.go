// Command sdkcheck drives the official Go SDK (github.com/dapr/go-sdk) against our daprd.
//
// Run by tests/it/sidecar_sdk_go.rs as `sdkcheck <part>` with DAPR_GRPC_PORT and
// DAPR_HTTP_PORT pointing at a daprd started as `dapr run` starts it (and APP_ID, APP_PORT,
// REDIS_PORT where the part needs them). Every check prints `ok   <what>` or
// `FAIL <what>: <detail>`; the process exits 1 when any check failed, 2 on a usage error.
//
// Parts:
//   - client:   state, metadata, secrets, configuration, output bindings, locks, jobs
//   - app:      a `service/http` app (invocation target, topic subscriber, actor host)
//     and the client calls that reach it: invocation, publish, actors
//   - grpcapp:  a `service/grpc` app (invocation, topic subscriber, job events) reached
//     through a sidecar started with `--app-protocol grpc`
//   - workflow: a 3-activity chain through the SDK's workflow client and worker
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"

	dapr "github.com/dapr/go-sdk/client"
)

var failures []string

// check records one check: `ok   what` when cond holds, else `FAIL what: detail`.
func check(cond bool, what string, detail ...any) {
	if cond {
		passed++
		fmt.Printf("ok   %s\n", what)
		return
	}
	msg := what
	if len(detail) > 0 {
		msg += ": " + fmt.Sprint(detail...)
	}
	fmt.Printf("FAIL %s\n", msg)
	failures = append(failures, msg)
}

// must stops the run when a step that later checks depend on failed.
func must(err error, what string) {
	if err != nil {
		fmt.Printf("FAIL %s: %v\n", what, err)
		finish(1)
	}
}

func finish(code int) {
	if code == 0 && len(failures) > 0 {
		code = 1
	}
	fmt.Printf("go sdk checks: %d ok, %d failed\n", passedCount(), len(failures))
	os.Exit(code)
}

var passed = 0

func passedCount() int { return passed }

func env(name string) string {
	v := os.Getenv(name)
	if v == "" {
		fmt.Printf("FAIL environment variable %s is not set\n", name)
		os.Exit(2)
	}
	return v
}

// redis runs redis-cli against the test's Redis, as an operator would.
func redis(args ...string) {
	cmd := exec.Command("redis-cli", append([]string{"-p", env("REDIS_PORT")}, args...)...)
	out, err := cmd.CombinedOutput()
	must(err, fmt.Sprintf("redis-cli %v: %s", args, out))
}

// newClient connects the SDK's gRPC client to DAPR_GRPC_PORT (a blocking dial).
func newClient() dapr.Client {
	env("DAPR_GRPC_PORT")
	c, err := dapr.NewClient()
	must(err, "dapr.NewClient")
	return c
}

func main() {
	if len(os.Args) != 2 {
		fmt.Println("usage: sdkcheck client|app|grpcapp|workflow")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	switch os.Args[1] {
	case "client":
		clientChecks(ctx)
	case "app":
		appChecks(ctx)
	case "grpcapp":
		grpcAppChecks(ctx)
	case "workflow":
		workflowChecks(ctx)
	default:
		fmt.Printf("unknown part %q\n", os.Args[1])
		os.Exit(2)
	}
	finish(0)
}
