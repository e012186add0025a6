package sdkcheck;

import com.sun.net.httpserver.HttpServer;
import io.dapr.client.DaprClient;
import io.dapr.client.DaprClientBuilder;
import io.dapr.client.DaprPreviewClient;
import io.dapr.client.domain.CloudEvent;
import io.dapr.client.domain.ComponentMetadata;
import io.dapr.client.domain.ConfigurationItem;
import io.dapr.client.domain.DaprMetadata;
import io.dapr.client.domain.DeleteJobRequest;
import io.dapr.client.domain.GetJobRequest;
import io.dapr.client.domain.GetJobResponse;
import io.dapr.client.domain.HttpExtension;
import io.dapr.client.domain.JobSchedule;
import io.dapr.client.domain.ScheduleJobRequest;
import io.dapr.client.domain.State;
import io.dapr.client.domain.StateOptions;
import io.dapr.client.domain.SubscribeConfigurationResponse;
import io.dapr.client.domain.TransactionalStateOperation;
import io.dapr.client.domain.UnlockResponseStatus;
import io.dapr.exceptions.DaprException;
import io.dapr.utils.TypeRef;
import io.dapr.workflows.Workflow;
import io.dapr.workflows.WorkflowActivity;
import io.dapr.workflows.WorkflowActivityContext;
import io.dapr.workflows.WorkflowStub;
import io.dapr.workflows.client.DaprWorkflowClient;
import io.dapr.workflows.client.WorkflowRuntimeStatus;
import io.dapr.workflows.client.WorkflowState;
import io.dapr.workflows.runtime.WorkflowRuntime;
import io.dapr.workflows.runtime.WorkflowRuntimeBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import reactor.core.Disposable;

/**
 * The official Java SDK (io.dapr:dapr-sdk, dapr-sdk-workflows) against our daprd.
 *
 * <p>Run by tests/it/sidecar_sdk_java.rs as {@code sdkcheck.Main <part>} with DAPR_HTTP_PORT
 * and DAPR_GRPC_PORT pointing at a daprd started as {@code dapr run} starts it (APP_ID,
 * APP_PORT and REDIS_PORT where a part needs them). Every check prints {@code ok   <what>} or
 * {@code FAIL <what>: <detail>}; the process exits 1 when a check failed.
 *
 * <p>Parts: {@code client} (state, invokeMethod to a JDK HTTP app, metadata, publish with a
 * streaming subscription, secrets, configuration, bindings, locks and jobs) and {@code
 * workflow} (a 3-activity chain through the workflow runtime and client).
 */
public final class Main {
  private static final String STATE = "statestore";
  private static final List<String> failures = new ArrayList<>();
  private static int passed;

  private Main() {}

  static void check(boolean cond, String what, Object... detail) {
    if (cond) {
      passed++;
      System.out.println("ok   " + what);
      return;
    }
    StringBuilder msg = new StringBuilder(what);
    if (detail.length > 0) {
      msg.append(":");
      for (Object d : detail) {
        msg.append(' ').append(d);
      }
    }
    System.out.println("FAIL " + msg);
    failures.add(msg.toString());
  }

  static String env(String name) {
    String v = System.getenv(name);
    if (v == null || v.isEmpty()) {
      System.out.println("FAIL environment variable " + name + " is not set");
      System.exit(2);
    }
    return v;
  }

  /** The gRPC status name a DaprException carries, or the exception's class. */
  static String code(Throwable t) {
    if (t instanceof DaprException) {
      return ((DaprException) t).getErrorCode();
    }
    return t == null ? "none" : t.getClass().getSimpleName();
  }

  /** Runs r and returns what it threw (null when it did not). */
  static Throwable thrown(Runnable r) {
    try {
      r.run();
      return null;
    } catch (RuntimeException e) {
      return e;
    }
  }

  static void redis(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("redis-cli", "-p", env("REDIS_PORT")));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    p.getInputStream().readAllBytes();
    if (p.waitFor() != 0) {
      throw new IOException("redis-cli " + String.join(" ", args) + " failed");
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.out.println("usage: sdkcheck.Main client|workflow");
      System.exit(2);
    }
    env("DAPR_HTTP_PORT");
    env("DAPR_GRPC_PORT");
    try {
      switch (args[0]) {
        case "client":
          client();
          break;
        case "workflow":
          workflow();
          break;
        default:
          System.out.println("unknown part " + args[0]);
          System.exit(2);
      }
    } catch (Throwable t) {
      t.printStackTrace(System.out);
      check(false, "no unexpected exception", t);
    }
    System.out.println("java sdk checks: " + passed + " ok, " + failures.size() + " failed");
    System.out.flush();
    // The SDK's gRPC and reactor threads are not daemons: leave without waiting for them.
    Runtime.getRuntime().halt(failures.isEmpty() ? 0 : 1);
  }

  // ---------------------------------------------------------------- client part

  static void client() throws Exception {
    HttpServer app = echoApp(Integer.parseInt(env("APP_PORT")));
    try (DaprClient c = new DaprClientBuilder().build();
        DaprPreviewClient preview = new DaprClientBuilder().buildPreviewClient()) {
      c.waitForSidecar(10_000).block();
      check(true, "waitForSidecar");
      state(c);
      invoke(c);
      metadata(c);
      pubsub(c, preview);
      secrets(c);
      configuration(c);
      bindings(c);
      locks(preview);
      jobs(c);
      // Last: the sidecar is asked to shut down (the Rust test checks that it exits).
      c.shutdown().block();
      check(true, "shutdown: the sidecar accepts shutdown");
    } finally {
      app.stop(0);
    }
  }

  /** A JDK HTTP app on the sidecar's app port: {@code /echo} answers the body in capitals. */
  static HttpServer echoApp(int port) throws IOException {
    HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
    s.createContext(
        "/echo",
        ex -> {
          byte[] body = ex.getRequestBody().readAllBytes();
          String text = new String(body, StandardCharsets.UTF_8).toUpperCase(Locale.ROOT);
          String q = ex.getRequestURI().getRawQuery();
          String reply = ex.getRequestMethod() + " " + (q == null ? "" : q) + " " + text;
          byte[] out = reply.getBytes(StandardCharsets.UTF_8);
          ex.getResponseHeaders().add("Content-Type", "text/plain");
          ex.sendResponseHeaders(200, out.length);
          ex.getResponseBody().write(out);
          ex.close();
        });
    s.createContext(
        "/fail",
        ex -> {
          byte[] out = "the app refused".getBytes(StandardCharsets.UTF_8);
          ex.sendResponseHeaders(500, out.length);
          ex.getResponseBody().write(out);
          ex.close();
        });
    s.start();
    return s;
  }

  static void state(DaprClient c) {
    c.saveState(STATE, "java-k1", Map.of("n", 1)).block();
    State<Map> s = c.getState(STATE, "java-k1", Map.class).block();
    check(s != null && Map.of("n", 1).equals(s.getValue()), "state: save then get", s);
    check(s != null && s.getEtag() != null && !s.getEtag().isEmpty(), "state: get returns an ETag");
    State<String> missing = c.getState(STATE, "java-missing", String.class).block();
    check(missing != null && missing.getValue() == null, "state: a missing key has no value", missing);

    c.saveBulkState(
            STATE,
            List.of(new State<>("java-b1", "one", (String) null), new State<>("java-b2", "two", (String) null)))
        .block();
    List<State<String>> bulk =
        c.getBulkState(STATE, List.of("java-b1", "java-b2", "java-b3"), String.class).block();
    Map<String, String> got = new TreeMap<>();
    for (State<String> b : bulk) {
      got.put(b.getKey(), String.valueOf(b.getValue()));
    }
    check(
        got.equals(Map.of("java-b1", "one", "java-b2", "two", "java-b3", "null")),
        "state: bulk get returns every key",
        got);

    StateOptions first = new StateOptions(StateOptions.Consistency.STRONG, StateOptions.Concurrency.FIRST_WRITE);
    String etag = s.getEtag();
    Throwable ok = thrown(() -> c.saveState(STATE, "java-k1", etag, Map.of("n", 2), first).block());
    check(ok == null, "state: save with the current ETag (first-write)", ok);
    Throwable stale = thrown(() -> c.saveState(STATE, "java-k1", etag, Map.of("n", 3), first).block());
    check(
        "ABORTED".equals(code(stale)) && stale.getMessage().contains("possible etag mismatch"),
        "state: save with a stale ETag is ABORTED",
        stale);
    State<Map> now = c.getState(STATE, "java-k1", Map.class).block();
    check(
        Map.of("n", 2).equals(now.getValue()) && !etag.equals(now.getEtag()),
        "state: the refused save left the value and the ETag moved",
        now);
    Throwable staleDelete = thrown(() -> c.deleteState(STATE, "java-k1", etag, first).block());
    check("ABORTED".equals(code(staleDelete)), "state: delete with a stale ETag is ABORTED", staleDelete);
    c.deleteState(STATE, "java-k1", now.getEtag(), first).block();
    check(c.getState(STATE, "java-k1", Map.class).block().getValue() == null, "state: delete with the current ETag");

    c.saveState(STATE, "java-t3", "doomed").block();
    c.executeStateTransaction(
            STATE,
            List.of(
                new TransactionalStateOperation<>(
                    TransactionalStateOperation.OperationType.UPSERT, new State<>("java-t1", "a", (String) null)),
                new TransactionalStateOperation<>(
                    TransactionalStateOperation.OperationType.UPSERT, new State<>("java-t2", "b", (String) null)),
                new TransactionalStateOperation<>(
                    TransactionalStateOperation.OperationType.DELETE, new State<>("java-t3"))))
        .block();
    Map<String, String> tx = new TreeMap<>();
    for (State<String> b : c.getBulkState(STATE, List.of("java-t1", "java-t2", "java-t3"), String.class).block()) {
      tx.put(b.getKey(), String.valueOf(b.getValue()));
    }
    check(
        tx.equals(Map.of("java-t1", "a", "java-t2", "b", "java-t3", "null")),
        "state: a transaction of two upserts and a delete",
        tx);
    Throwable unknown = thrown(() -> c.saveState("nosuchstore", "k", "v").block());
    check(
        "INVALID_ARGUMENT".equals(code(unknown)) && unknown.getMessage().contains("nosuchstore"),
        "state: an unknown store is INVALID_ARGUMENT",
        unknown);
  }

  static void invoke(DaprClient c) {
    String appId = env("APP_ID");
    String reply = null;
    Throwable last = null;
    for (int i = 0; i < 100 && reply == null; i++) {
      try {
        reply = new String(
            c.invokeMethod(appId, "echo", "hello".getBytes(StandardCharsets.UTF_8), HttpExtension.POST, Map.of())
                .block(),
            StandardCharsets.UTF_8);
      } catch (RuntimeException e) {
        last = e;
        sleep(100);
      }
    }
    check("POST  HELLO".equals(reply), "invoke: POST reaches the app", reply, last);
    HttpExtension get =
        new HttpExtension(io.dapr.client.DaprHttp.HttpMethods.GET, Map.of("x", List.of("1")), Map.of());
    byte[] got = c.invokeMethod(appId, "echo", new byte[0], get, Map.of()).block();
    check(
        got != null && "GET x=1 ".equals(new String(got, StandardCharsets.UTF_8)),
        "invoke: GET with a query string",
        got == null ? null : new String(got, StandardCharsets.UTF_8));
    Throwable fail = thrown(() -> c.invokeMethod(appId, "fail", new byte[0], HttpExtension.POST, Map.of()).block());
    check(
        fail instanceof DaprException && ((DaprException) fail).getHttpStatusCode() == 500,
        "invoke: the app's 500 reaches the caller",
        fail);
  }

  static void metadata(DaprClient c) {
    DaprMetadata md = c.getMetadata().block();
    check(env("APP_ID").equals(md.getId()), "metadata: app id", md.getId());
    Map<String, String> types = new TreeMap<>();
    for (ComponentMetadata comp : md.getComponents()) {
      types.put(comp.getName(), comp.getType());
    }
    check(
        types.equals(
            Map.of(
                STATE, "state.redis",
                "pubsub", "pubsub.redis",
                "secretstore", "secretstores.local.file",
                "configstore", "configuration.redis",
                "lockstore", "lock.redis",
                "files", "bindings.localstorage")),
        "metadata: every component with its type",
        types);
  }

  @SuppressWarnings({"rawtypes", "unchecked"})
  static void pubsub(DaprClient c, DaprPreviewClient preview) {
    BlockingQueue<CloudEvent<Map>> events = new LinkedBlockingQueue<>();
    Disposable sub =
        preview
            .subscribeToEvents("pubsub", "java-orders", new TypeRef<CloudEvent<Map>>() {})
            .subscribe(events::add, e -> check(false, "pubsub: the subscription stream", e));
    try {
      // The stream is open once the sidecar lists it; publish then.
      boolean listed = false;
      for (int i = 0; i < 100 && !listed; i++) {
        listed =
            c.getMetadata().block().getSubscriptions().stream()
                .anyMatch(m -> "java-orders".equals(m.getTopic()));
        if (!listed) {
          sleep(50);
        }
      }
      check(listed, "pubsub: the streaming subscription is listed in metadata");
      c.publishEvent("pubsub", "java-orders", Map.of("orderId", 7)).block();
      CloudEvent<Map> e = events.poll(10, TimeUnit.SECONDS);
      check(
          e != null
              && Map.of("orderId", 7).equals(e.getData())
              && "java-orders".equals(e.getTopic())
              && "pubsub".equals(e.getPubsubName())
              && "1.0".equals(e.getSpecversion()),
          "pubsub: the published event reaches the streaming subscriber",
          e == null ? null : e.getData());
      Throwable unknown = thrown(() -> c.publishEvent("nosuchpubsub", "t", "x").block());
      check(
          "INVALID_ARGUMENT".equals(code(unknown)) && unknown.getMessage().contains("nosuchpubsub"),
          "pubsub: an unknown pub/sub is INVALID_ARGUMENT",
          unknown);
    } catch (InterruptedException e) {
      throw new IllegalStateException(e);
    } finally {
      sub.dispose();
    }
  }

  static void secrets(DaprClient c) {
    Map<String, String> one = c.getSecret("secretstore", "db-password").block();
    check(Map.of("db-password", "s3cret").equals(one), "secrets: get one secret", one);
    Map<String, Map<String, String>> all = c.getBulkSecret("secretstore").block();
    check(
        new TreeSet<>(all.keySet()).equals(new TreeSet<>(List.of("db-password", "nested:user")))
            && "alice".equals(all.get("nested:user").get("nested:user")),
        "secrets: bulk get",
        all);
    Throwable missing = thrown(() -> c.getSecret("secretstore", "no-such-secret").block());
    check(missing != null, "secrets: a missing secret is an error", missing);
  }

  static void configuration(DaprClient c) throws Exception {
    redis("SET", "java-color", "blue||1");
    redis("SET", "java-size", "large");
    Map<String, ConfigurationItem> items =
        c.getConfiguration("configstore", "java-color", "java-size", "java-missing").block();
    check(
        items.size() == 2
            && "blue".equals(items.get("java-color").getValue())
            && "1".equals(items.get("java-color").getVersion())
            && "large".equals(items.get("java-size").getValue()),
        "configuration: get items with value and version",
        items.keySet());
    BlockingQueue<SubscribeConfigurationResponse> changes = new LinkedBlockingQueue<>();
    Disposable sub = c.subscribeConfiguration("configstore", "java-color").subscribe(changes::add);
    try {
      // The first message carries the subscription id and no items.
      SubscribeConfigurationResponse first = changes.poll(10, TimeUnit.SECONDS);
      check(
          first != null && first.getSubscriptionId() != null && !first.getSubscriptionId().isEmpty(),
          "configuration: subscribe answers with an id",
          first);
      sleep(300); // as the Go check: give the store's watch a moment after the answer
      redis("SET", "java-color", "green||2");
      SubscribeConfigurationResponse change = null;
      for (int i = 0; i < 5 && change == null; i++) {
        SubscribeConfigurationResponse r = changes.poll(10, TimeUnit.SECONDS);
        if (r != null && r.getItems() != null && !r.getItems().isEmpty()) {
          change = r;
        }
      }
      check(
          change != null
              && change.getItems().size() == 1
              && "green".equals(change.getItems().get("java-color").getValue())
              && "2".equals(change.getItems().get("java-color").getVersion()),
          "configuration: the subscribed change arrives",
          change == null ? null : change.getItems().keySet());
      if (first != null) {
        boolean off = c.unsubscribeConfiguration(first.getSubscriptionId(), "configstore").block().getIsUnsubscribed();
        check(off, "configuration: unsubscribe");
      }
    } finally {
      sub.dispose();
    }
  }

  static void bindings(DaprClient c) {
    byte[] created =
        c.invokeBinding(
                "files", "create", "hello from java".getBytes(StandardCharsets.UTF_8), Map.of("fileName", "java-note.txt"))
            .block();
    check(created != null, "bindings: create a file through the output binding");
    byte[] back = c.invokeBinding("files", "get", new byte[0], Map.of("fileName", "java-note.txt")).block();
    check(
        back != null && "hello from java".equals(new String(back, StandardCharsets.UTF_8)),
        "bindings: get returns what create wrote",
        back == null ? null : new String(back, StandardCharsets.UTF_8));
  }

  static void locks(DaprPreviewClient p) {
    check(Boolean.TRUE.equals(p.tryLock("lockstore", "java-res", "alice", 30).block()), "locks: alice takes the lock");
    check(Boolean.FALSE.equals(p.tryLock("lockstore", "java-res", "bob", 30).block()), "locks: bob cannot take it");
    check(
        p.unlock("lockstore", "java-res", "bob").block() == UnlockResponseStatus.LOCK_BELONG_TO_OTHERS,
        "locks: bob cannot unlock it");
    check(p.unlock("lockstore", "java-res", "alice").block() == UnlockResponseStatus.SUCCESS, "locks: alice unlocks it");
    check(
        p.unlock("lockstore", "java-res", "alice").block() == UnlockResponseStatus.LOCK_UNEXIST,
        "locks: a released lock does not exist");
  }

  static void jobs(DaprClient c) {
    c.scheduleJob(
            new ScheduleJobRequest("java-job", JobSchedule.fromString("@every 1h"))
                .setRepeat(3)
                .setData("java payload".getBytes(StandardCharsets.UTF_8)))
        .block();
    check(true, "jobs: schedule a job");
    GetJobResponse job = c.getJob(new GetJobRequest("java-job")).block();
    check(
        job != null
            && "java-job".equals(job.getName())
            && job.getSchedule() != null
            && "@every 1h".equals(job.getSchedule().getExpression())
            && Integer.valueOf(3).equals(job.getRepeats()),
        "jobs: get returns its schedule and repeats",
        job == null ? null : job.getSchedule().getExpression() + " " + job.getRepeats());
    check(
        job != null && "java payload".equals(new String(job.getData(), StandardCharsets.UTF_8)),
        "jobs: get returns its data",
        job == null ? null : new String(job.getData(), StandardCharsets.UTF_8));
    c.deleteJob(new DeleteJobRequest("java-job")).block();
    Throwable gone = thrown(() -> c.getJob(new GetJobRequest("java-job")).block());
    check(gone != null, "jobs: a deleted job is gone", gone);
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ---------------------------------------------------------------- workflow part

  static final AtomicInteger activityRuns = new AtomicInteger();

  /** Three activities in turn, each on the previous one's output. */
  public static final class Chain implements Workflow {
    @Override
    public WorkflowStub create() {
      return ctx -> {
        String input = ctx.getInput(String.class);
        String a = ctx.callActivity(Upper.class.getCanonicalName(), input, String.class).await();
        String b = ctx.callActivity(Exclaim.class.getCanonicalName(), a, String.class).await();
        String approver = ctx.waitForExternalEvent("approve", Duration.ofSeconds(30), String.class).await();
        String c = ctx.callActivity(Sign.class.getCanonicalName(), b + " by " + approver, String.class).await();
        ctx.complete(c);
      };
    }
  }

  /** The input in capitals. */
  public static final class Upper implements WorkflowActivity {
    @Override
    public Object run(WorkflowActivityContext ctx) {
      activityRuns.incrementAndGet();
      return ctx.getInput(String.class).toUpperCase(Locale.ROOT);
    }
  }

  /** The input with an exclamation mark. */
  public static final class Exclaim implements WorkflowActivity {
    @Override
    public Object run(WorkflowActivityContext ctx) {
      activityRuns.incrementAndGet();
      return ctx.getInput(String.class) + "!";
    }
  }

  /** The input between brackets. */
  public static final class Sign implements WorkflowActivity {
    @Override
    public Object run(WorkflowActivityContext ctx) {
      activityRuns.incrementAndGet();
      return "[" + ctx.getInput(String.class) + "]";
    }
  }

  static void workflow() throws Exception {
    WorkflowRuntime runtime =
        new WorkflowRuntimeBuilder()
            .registerWorkflow(Chain.class)
            .registerActivity(Upper.class)
            .registerActivity(Exclaim.class)
            .registerActivity(Sign.class)
            .build();
    runtime.start(false);
    // Neither the client nor the runtime is closed: closing waits for the worker's stream to
    // end, and main() halts the JVM once the checks are done.
    DaprWorkflowClient wc = new DaprWorkflowClient();
    {
      String id = wc.scheduleNewWorkflow(Chain.class, "order 7", "java-chain-1");
      check("java-chain-1".equals(id), "workflow: scheduled with the given instance id", id);
      WorkflowState started = wc.waitForWorkflowStart(id, Duration.ofSeconds(20), true);
      check(
          started != null && started.getName().equals(Chain.class.getCanonicalName()),
          "workflow: started",
          started == null ? null : started.getName());
      for (int i = 0; i < 200 && activityRuns.get() < 2; i++) {
        sleep(50);
      }
      sleep(200);
      WorkflowState waiting = wc.getWorkflowState(id, true);
      check(
          activityRuns.get() == 2 && waiting.getRuntimeStatus() == WorkflowRuntimeStatus.RUNNING,
          "workflow: running and waiting for the event after two activities",
          activityRuns.get(),
          waiting.getRuntimeStatus());
      check("order 7".equals(waiting.readInputAs(String.class)), "workflow: the input is read back");
      wc.raiseEvent(id, "approve", "carol");
      WorkflowState done = wc.waitForWorkflowCompletion(id, Duration.ofSeconds(20), true);
      check(
          done != null && done.getRuntimeStatus() == WorkflowRuntimeStatus.COMPLETED,
          "workflow: the chain completes",
          done == null ? null : done.getRuntimeStatus());
      check(
          done != null && "[ORDER 7! by carol]".equals(done.readOutputAs(String.class)),
          "workflow: the output went through all three activities",
          done == null ? null : done.getSerializedOutput());
      check(activityRuns.get() == 3, "workflow: each activity ran once", activityRuns.get());
      check(wc.purgeWorkflow(id), "workflow: purge");
      // The sidecar answers GetInstance of an unknown instance with `exists: false`; this
      // SDK then still returns a state, empty (no name, RUNNING as the proto's default).
      WorkflowState purged = wc.getWorkflowState(id, false);
      check(
          purged == null
              || (purged.getName().isEmpty()
                  && (purged.getSerializedOutput() == null || purged.getSerializedOutput().isEmpty())),
          "workflow: a purged instance is gone",
          purged == null ? null : purged.getName() + " " + purged.getSerializedOutput());
    }
  }
}
