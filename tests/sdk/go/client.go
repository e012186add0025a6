package main

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"sync"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const (
	stateStore  = "statestore"
	secretStore = "secretstore"
	configStore = "configstore"
	lockStore   = "lockstore"
	binding     = "files"
)

// grpcCode is the gRPC status code of err (codes.OK for nil).
func grpcCode(err error) codes.Code {
	return status.Code(err)
}

func clientChecks(ctx context.Context) {
	c := newClient()
	defer c.Close()
	stateChecks(ctx, c)
	metadataChecks(ctx, c)
	secretChecks(ctx, c)
	configurationChecks(ctx, c)
	bindingChecks(ctx, c)
	lockChecks(ctx, c)
	jobChecks(ctx, c)
	// Last: the sidecar is asked to shut down (the Rust test checks that it exits).
	check(c.Shutdown(ctx) == nil, "shutdown: the sidecar accepts Shutdown")
}

func stateChecks(ctx context.Context, c dapr.Client) {
	must(c.SaveState(ctx, stateStore, "go-k1", []byte(`{"n":1}`), nil), "SaveState")
	item, err := c.GetState(ctx, stateStore, "go-k1", nil)
	must(err, "GetState")
	check(string(item.Value) == `{"n":1}`, "state: save then get returns the value", string(item.Value))
	check(item.Etag != "", "state: get returns an ETag")

	missing, err := c.GetState(ctx, stateStore, "go-missing", nil)
	check(err == nil && len(missing.Value) == 0 && missing.Etag == "",
		"state: a missing key reads as empty", err)

	// Bulk save and bulk get (parallelism 2), the missing key reported without a value.
	must(c.SaveBulkState(ctx, stateStore,
		&dapr.SetStateItem{Key: "go-b1", Value: []byte("one")},
		&dapr.SetStateItem{Key: "go-b2", Value: []byte("two"), Metadata: map[string]string{"ttlInSeconds": "60"}},
	), "SaveBulkState")
	bulk, err := c.GetBulkState(ctx, stateStore, []string{"go-b1", "go-b2", "go-b3"}, nil, 2)
	must(err, "GetBulkState")
	got := map[string]string{}
	for _, b := range bulk {
		got[b.Key] = string(b.Value)
		if b.Error != "" {
			got[b.Key] = "error:" + b.Error
		}
	}
	check(len(bulk) == 3 && got["go-b1"] == "one" && got["go-b2"] == "two" && got["go-b3"] == "",
		"state: bulk get returns every key", got)

	// First-write concurrency: a save with a stale ETag is refused (Aborted), the current
	// one is accepted and changes the ETag.
	first := dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite)
	err = c.SaveStateWithETag(ctx, stateStore, "go-k1", []byte(`{"n":2}`), item.Etag, nil, first)
	check(err == nil, "state: save with the current ETag (first-write)", err)
	err = c.SaveStateWithETag(ctx, stateStore, "go-k1", []byte(`{"n":3}`), item.Etag, nil, first)
	check(grpcCode(err) == codes.Aborted && strings.Contains(err.Error(), "possible etag mismatch"),
		"state: save with a stale ETag is Aborted", err)
	err = c.SaveStateWithETag(ctx, stateStore, "go-k1", []byte(`{"n":3}`), "999999", nil, first)
	check(grpcCode(err) == codes.Aborted, "state: save with a made-up ETag is Aborted", err)
	now, err := c.GetState(ctx, stateStore, "go-k1", nil)
	must(err, "GetState after ETag saves")
	check(string(now.Value) == `{"n":2}` && now.Etag != item.Etag,
		"state: the refused saves left the value and the ETag moved", string(now.Value), " ", now.Etag)
	err = c.DeleteStateWithETag(ctx, stateStore, "go-k1", &dapr.ETag{Value: item.Etag}, nil,
		&dapr.StateOptions{Concurrency: dapr.StateConcurrencyFirstWrite})
	check(grpcCode(err) == codes.Aborted, "state: delete with a stale ETag is Aborted", err)
	err = c.DeleteStateWithETag(ctx, stateStore, "go-k1", &dapr.ETag{Value: now.Etag}, nil,
		&dapr.StateOptions{Concurrency: dapr.StateConcurrencyFirstWrite})
	check(err == nil, "state: delete with the current ETag", err)
	gone, err := c.GetState(ctx, stateStore, "go-k1", nil)
	check(err == nil && len(gone.Value) == 0, "state: the deleted key reads as empty", err)

	// A transaction: two upserts and a delete applied together.
	must(c.SaveState(ctx, stateStore, "go-t3", []byte("doomed"), nil), "SaveState go-t3")
	err = c.ExecuteStateTransaction(ctx, stateStore, nil, []*dapr.StateOperation{
		{Type: dapr.StateOperationTypeUpsert, Item: &dapr.SetStateItem{Key: "go-t1", Value: []byte("a")}},
		{Type: dapr.StateOperationTypeUpsert, Item: &dapr.SetStateItem{Key: "go-t2", Value: []byte("b")}},
		{Type: dapr.StateOperationTypeDelete, Item: &dapr.SetStateItem{Key: "go-t3"}},
	})
	check(err == nil, "state: transaction of two upserts and a delete", err)
	tx, err := c.GetBulkState(ctx, stateStore, []string{"go-t1", "go-t2", "go-t3"}, nil, 1)
	must(err, "GetBulkState after the transaction")
	txv := map[string]string{}
	for _, b := range tx {
		txv[b.Key] = string(b.Value)
	}
	check(txv["go-t1"] == "a" && txv["go-t2"] == "b" && txv["go-t3"] == "",
		"state: the transaction applied", txv)
	// A transaction whose ETag is stale fails whole.
	cur, err := c.GetState(ctx, stateStore, "go-t1", nil)
	must(err, "GetState go-t1")
	err = c.ExecuteStateTransaction(ctx, stateStore, nil, []*dapr.StateOperation{
		{Type: dapr.StateOperationTypeUpsert, Item: &dapr.SetStateItem{Key: "go-t2", Value: []byte("changed")}},
		{Type: dapr.StateOperationTypeUpsert, Item: &dapr.SetStateItem{
			Key: "go-t1", Value: []byte("x"), Etag: &dapr.ETag{Value: cur.Etag + "0"},
			Options: &dapr.StateOptions{Concurrency: dapr.StateConcurrencyFirstWrite},
		}},
	})
	check(err != nil, "state: a transaction with a stale ETag is refused", err)
	t2, err := c.GetState(ctx, stateStore, "go-t2", nil)
	must(err, "GetState go-t2")
	check(string(t2.Value) == "b", "state: the refused transaction changed nothing", string(t2.Value))

	must(c.DeleteBulkState(ctx, stateStore, []string{"go-t1", "go-t2"}, nil), "DeleteBulkState")
	after, err := c.GetBulkState(ctx, stateStore, []string{"go-t1", "go-t2"}, nil, 1)
	must(err, "GetBulkState after DeleteBulkState")
	check(len(after) == 2 && len(after[0].Value) == 0 && len(after[1].Value) == 0,
		"state: bulk delete")

	err = c.SaveState(ctx, "nosuchstore", "k", []byte("v"), nil)
	check(grpcCode(err) == codes.InvalidArgument && strings.Contains(err.Error(), "nosuchstore"),
		"state: an unknown store is InvalidArgument", err)
}

func metadataChecks(ctx context.Context, c dapr.Client) {
	md, err := c.GetMetadata(ctx)
	must(err, "GetMetadata")
	check(md.ID == env("APP_ID"), "metadata: app id", md.ID)
	types := map[string]string{}
	for _, comp := range md.RegisteredComponents {
		types[comp.Name] = comp.Type
	}
	want := map[string]string{
		stateStore:  "state.redis",
		secretStore: "secretstores.local.file",
		configStore: "configuration.redis",
		lockStore:   "lock.redis",
		binding:     "bindings.localstorage",
	}
	ok := true
	for name, typ := range want {
		if types[name] != typ {
			ok = false
		}
	}
	check(ok, "metadata: every component with its type", types)
	must(c.SetMetadata(ctx, "go-sdk", "yes"), "SetMetadata")
	md, err = c.GetMetadata(ctx)
	must(err, "GetMetadata after SetMetadata")
	check(md.ExtendedMetadata["go-sdk"] == "yes", "metadata: extended metadata set", md.ExtendedMetadata)
}

func secretChecks(ctx context.Context, c dapr.Client) {
	s, err := c.GetSecret(ctx, secretStore, "db-password", nil)
	check(err == nil && s["db-password"] == "s3cret", "secrets: get one secret", s, err)
	nested, err := c.GetSecret(ctx, secretStore, "nested:user", nil)
	check(err == nil && nested["nested:user"] == "alice", "secrets: a nested key", nested, err)
	all, err := c.GetBulkSecret(ctx, secretStore, nil)
	keys := []string{}
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	check(err == nil && strings.Join(keys, ",") == "db-password,nested:user" &&
		all["db-password"]["db-password"] == "s3cret", "secrets: bulk get", keys, err)
	_, err = c.GetSecret(ctx, secretStore, "no-such-secret", nil)
	check(err != nil, "secrets: a missing secret is an error")
	_, err = c.GetSecret(ctx, "nosuchsecrets", "db-password", nil)
	check(grpcCode(err) == codes.InvalidArgument, "secrets: an unknown store is InvalidArgument", err)
}

func configurationChecks(ctx context.Context, c dapr.Client) {
	redis("SET", "go-color", "blue||1")
	redis("SET", "go-size", "large")
	items, err := c.GetConfigurationItems(ctx, configStore, []string{"go-color", "go-size", "go-missing"})
	must(err, "GetConfigurationItems")
	check(len(items) == 2 && items["go-color"] != nil && items["go-color"].Value == "blue" &&
		items["go-color"].Version == "1" && items["go-size"] != nil && items["go-size"].Value == "large",
		"configuration: get items with value and version", items)
	one, err := c.GetConfigurationItem(ctx, configStore, "go-size")
	check(err == nil && one != nil && one.Value == "large", "configuration: get one item", one, err)

	var mu sync.Mutex
	changes := make(chan map[string]string, 8)
	subID := ""
	idSeen := make(chan string, 8)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	id, err := c.SubscribeConfigurationItems(sctx, configStore, []string{"go-color"},
		func(id string, items map[string]*dapr.ConfigurationItem) {
			mu.Lock()
			defer mu.Unlock()
			idSeen <- id
			m := map[string]string{}
			for k, v := range items {
				m[k] = v.Value + "|" + v.Version
			}
			changes <- m
		})
	must(err, "SubscribeConfigurationItems")
	subID = id
	check(subID != "", "configuration: subscribe returns an id")
	// The subscription is live once the sidecar has answered; a change made then arrives.
	time.Sleep(300 * time.Millisecond)
	redis("SET", "go-color", "green||2")
	redis("SET", "go-size", "small") // not subscribed: must not arrive
	var change map[string]string
	deadline := time.After(10 * time.Second)
wait:
	for {
		select {
		case m := <-changes:
			if len(m) == 0 {
				continue // an initial empty notification is allowed
			}
			change = m
			break wait
		case <-deadline:
			break wait
		}
	}
	check(change != nil && change["go-color"] == "green|2" && len(change) == 1,
		"configuration: the subscribed change arrives", change)
	select {
	case gotID := <-idSeen:
		check(gotID == subID, "configuration: notifications carry the subscription id", gotID, " ", subID)
	default:
		check(false, "configuration: notifications carry the subscription id")
	}
	err = c.UnsubscribeConfigurationItems(ctx, configStore, subID)
	check(err == nil, "configuration: unsubscribe", err)
	time.Sleep(200 * time.Millisecond)
	redis("SET", "go-color", "red||3")
	select {
	case m := <-changes:
		check(len(m) == 0, "configuration: nothing arrives after unsubscribe", m)
	case <-time.After(700 * time.Millisecond):
		check(true, "configuration: nothing arrives after unsubscribe")
	}
}

func bindingChecks(ctx context.Context, c dapr.Client) {
	err := c.InvokeOutputBinding(ctx, &dapr.InvokeBindingRequest{
		Name: binding, Operation: "create", Data: []byte("hello from go"),
		Metadata: map[string]string{"fileName": "go-note.txt"},
	})
	check(err == nil, "bindings: create a file through the output binding", err)
	out, err := c.InvokeBinding(ctx, &dapr.InvokeBindingRequest{
		Name: binding, Operation: "get", Metadata: map[string]string{"fileName": "go-note.txt"},
	})
	check(err == nil && out != nil && string(out.Data) == "hello from go",
		"bindings: get returns what create wrote", out, err)
	list, err := c.InvokeBinding(ctx, &dapr.InvokeBindingRequest{Name: binding, Operation: "list"})
	var names []string
	if err == nil {
		_ = json.Unmarshal(list.Data, &names)
	}
	check(err == nil && len(names) == 1 && strings.HasSuffix(names[0], "go-note.txt"),
		"bindings: list names the file", names, err)
	err = c.InvokeOutputBinding(ctx, &dapr.InvokeBindingRequest{Name: binding, Operation: "nosuchop"})
	check(err != nil, "bindings: an unsupported operation is an error", err)
	err = c.InvokeOutputBinding(ctx, &dapr.InvokeBindingRequest{Name: "nosuchbinding", Operation: "create"})
	check(err != nil, "bindings: an unknown binding is an error", err)
}

func lockChecks(ctx context.Context, c dapr.Client) {
	lock := func(owner string, expiry int32) bool {
		r, err := c.TryLockAlpha1(ctx, lockStore, &dapr.LockRequest{
			ResourceID: "go-res", LockOwner: owner, ExpiryInSeconds: expiry,
		})
		must(err, "TryLockAlpha1")
		return r.Success
	}
	unlock := func(owner string) string {
		r, err := c.UnlockAlpha1(ctx, lockStore, &dapr.UnlockRequest{ResourceID: "go-res", LockOwner: owner})
		must(err, "UnlockAlpha1")
		return r.Status
	}
	check(lock("alice", 30), "locks: alice takes the lock")
	check(!lock("bob", 30), "locks: bob cannot take it")
	check(unlock("bob") == "LOCK_BELONGS_TO_OTHERS", "locks: bob cannot unlock it")
	check(unlock("alice") == "SUCCESS", "locks: alice unlocks it")
	check(unlock("alice") == "LOCK_DOES_NOT_EXIST", "locks: a released lock does not exist")
	check(lock("carol", 1), "locks: a short lock is taken")
	time.Sleep(1200 * time.Millisecond)
	check(lock("dave", 5), "locks: another owner takes it after expiry")
	_, err := c.TryLockAlpha1(ctx, "nosuchlocks", &dapr.LockRequest{ResourceID: "r", LockOwner: "o", ExpiryInSeconds: 5})
	check(err != nil && strings.Contains(err.Error(), "nosuchlocks"), "locks: an unknown store is refused", err)
}

func jobChecks(ctx context.Context, c dapr.Client) {
	data, err := anypb.New(wrapperspb.String("go payload"))
	must(err, "anypb.New")
	err = c.ScheduleJobAlpha1(ctx, dapr.NewJob("go-job",
		dapr.WithJobSchedule("@every 1h"), dapr.WithJobRepeats(3), dapr.WithJobData(data),
		dapr.WithJobDropFailurePolicy()))
	check(err == nil, "jobs: schedule a job", err)
	job, err := c.GetJobAlpha1(ctx, "go-job")
	check(err == nil && job != nil && job.Name == "go-job" && job.Schedule != nil && *job.Schedule == "@every 1h" &&
		job.Repeats != nil && *job.Repeats == 3, "jobs: get returns its schedule and repeats", job, err)
	if err == nil && job != nil {
		var s wrapperspb.StringValue
		derr := job.Data.UnmarshalTo(&s)
		check(derr == nil && s.GetValue() == "go payload", "jobs: get returns its data", derr)
	}
	err = c.ScheduleJobAlpha1(ctx, dapr.NewJob("go-job", dapr.WithJobDueTime("1h")))
	check(grpcCode(err) != codes.OK, "jobs: scheduling an existing name without overwrite is refused", err)
	ow := dapr.NewJob("go-job", dapr.WithJobDueTime("2h"))
	ow.Overwrite = true
	err = c.ScheduleJobAlpha1(ctx, ow)
	check(err == nil, "jobs: overwrite", err)
	job, err = c.GetJobAlpha1(ctx, "go-job")
	check(err == nil && job.DueTime != nil && *job.DueTime == "2h", "jobs: the overwrite is read back", job, err)
	check(c.DeleteJobAlpha1(ctx, "go-job") == nil, "jobs: delete")
	_, err = c.GetJobAlpha1(ctx, "go-job")
	check(grpcCode(err) == codes.Internal, "jobs: getting a deleted job fails (Internal, as upstream)", err)
	err = c.ScheduleJobAlpha1(ctx, dapr.NewJob("go-empty"))
	check(grpcCode(err) == codes.InvalidArgument, "jobs: a job without schedule or due time is InvalidArgument", err)
}
