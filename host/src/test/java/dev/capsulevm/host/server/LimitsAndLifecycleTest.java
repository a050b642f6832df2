package dev.capsulevm.host.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.capsulevm.host.server.TestHost.ProgramBuilder;
import dev.capsulevm.host.server.TestHost.Run;
import dev.capsulevm.host.server.TestHost.Stream;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.pricing.InstructionPrice;
import dev.capsulevm.pricing.Limits;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Prices;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.pricing.SettableClock;
import dev.capsulevm.pricing.SignedPriceTable;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.FailureReason;
import dev.capsulevm.proto.v1.SetPricesRequest;
import dev.capsulevm.proto.v1.StatusRequest;
import dev.capsulevm.proto.v1.StatusResponse;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.stub.StreamObserver;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Budgets, limits, price tables, admin, health, reflection, metrics, restart and shutdown. */
class LimitsAndLifecycleTest {
  static final long BUDGET = 50_000_000;

  @TempDir
  Path dir;

  static ProgramBuilder hasProgram(CapsuleFixture f, RecordWithBody r, int count) {
    ProgramBuilder p = new ProgramBuilder(f.id());
    for (int i = 0; i < count; i++) {
      p.add(new Instruction.HasRecord(p.put(r.hash())));
    }
    return p;
  }

  static RecordWithBody setUp(TestHost t, SigningKey account, PriceTable table, CapsuleFixture f) throws Exception {
    RecordWithBody r1 = f.record(List.of(f.id()), "one", 2);
    ProgramBuilder create = new ProgramBuilder(f.id());
    create.add(new Instruction.CreateCapsule(create.put(f.metadata.encoded())));
    create.add(new Instruction.AppendRecord(create.put(AppendEncoding.encode(List.of(r1)))));
    assertEquals(Status.Code.OK, t.run(create, table, account, BUDGET, 1 << 20, true).status().getCode());
    return r1;
  }

  @Test
  void budgetExhaustedMidProgramRefundsTheRest() throws Exception {
    try (TestHost t = new TestHost(TestHost.config(dir))) {
      SigningKey account = SigningKey.generate();
      t.fund(account, 1_000_000_000L);
      PriceTable table = t.table().table();
      CapsuleFixture f = new CapsuleFixture("budget");
      RecordWithBody r1 = setUp(t, account, table, f);
      ProgramBuilder p = hasProgram(f, r1, 5);
      Run full = t.run(p, table, account, BUDGET, 1 << 20, true);
      assertEquals(Status.Code.OK, full.status().getCode());
      long enoughForTwo = full.results().get(2).getResult().getCostSoFar() - 1;

      long before = t.balance(account);
      byte[] w = TestHost.withdrawal(account, table, enoughForTwo);
      Stream s = t.open();
      s.send(TestHost.header(p.encoded(), table, w, 10));
      s.send(TestHost.data(p.bytes(), 0, p.bytes().length));
      Run run = TestHost.finish(s, true);
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, run.status().getCode(), run.status().toString());
      assertEquals(FailureReason.FAILURE_REASON_BUDGET, run.end().getEnd().getFailure().getReason());
      assertTrue(run.results().size() >= 1 && run.results().size() < 5, "stopped mid-program");
      Receipt r = TestHost.check(run, p, table, enoughForTwo, w);
      assertEquals(r, TestHost.failure(run.end(), run.status(), table.hostKey()));
      assertEquals(run.results().size(), r.outputCount());
      assertEquals(before - r.finalCost().units(), t.balance(account), "exactly the unspent budget came back");
      assertFalse(r.refund().isZero());
    }
  }

  @Test
  void budgetThatCannotPayTheOutputRefundsTheRest() throws Exception {
    try (TestHost t = new TestHost(TestHost.config(dir))) {
      SigningKey account = SigningKey.generate();
      t.fund(account, 1_000_000_000L);
      PriceTable table = t.table().table();
      CapsuleFixture f = new CapsuleFixture("unpaid");
      RecordWithBody r1 = setUp(t, account, table, f);
      ProgramBuilder p = hasProgram(f, r1, 1);
      Run full = t.run(p, table, account, BUDGET, 1 << 20, true);
      // Enough for the instruction, not for sending its response.
      long budget = full.results().get(0).getResult().getCostSoFar() + 1;
      long before = t.balance(account);
      byte[] w = TestHost.withdrawal(account, table, budget);
      Stream s = t.open();
      s.send(TestHost.header(p.encoded(), table, w, 10));
      s.send(TestHost.data(p.bytes(), 0, p.bytes().length));
      Run run = TestHost.finish(s, true);
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, run.status().getCode(), run.status().toString());
      assertEquals(0, run.results().size());
      assertEquals(full.results().get(0).getResult().getMaxOutputBytes(),
          run.end().getEnd().getFailure().getMaxOutputBytes());
      Receipt r = TestHost.check(run, p, table, budget, w);
      assertEquals(r, TestHost.failure(run.end(), run.status(), table.hostKey()));
      assertEquals(0, r.failedInstruction(), "the instruction whose output could not be paid for");
      assertEquals(0, r.outputCount());
      assertEquals(1, r.instructionsCharged());
      assertEquals(before - r.finalCost().units(), t.balance(account));
    }
  }

  @Test
  void expiredPriceTableIsFailedPreconditionAndTablesAreRenewed() throws Exception {
    SettableClock clock = new SettableClock(Instant.now());
    HostConfig config = TestHost.config(dir).withClock(clock, Duration.ofMinutes(10));
    try (TestHost t = new TestHost(config)) {
      SigningKey account = SigningKey.generate();
      t.fund(account, 1_000_000_000L);
      PriceTable old = t.table().table();
      ProgramBuilder p = new ProgramBuilder(null);
      p.add(new Instruction.HasRecord(p.put(new byte[32])));
      // Past half the window a new table is signed, and the old one is still accepted.
      clock.advance(Duration.ofMinutes(6));
      PriceTable renewed = t.table().table();
      assertNotEquals(old.id(), renewed.id());
      Instant expiry = Instant.ofEpochSecond(clock.instant().getEpochSecond() + 60);
      Stream s = t.open();
      s.send(TestHost.header(p.encoded(), old, TestHost.withdrawal(account, old, BUDGET, 1, expiry), 1));
      s.send(TestHost.data(p.bytes(), 0, p.bytes().length));
      assertEquals(Status.Code.OK, TestHost.finish(s, true).status().getCode());
      // After its window the old one is refused, naming it expired.
      clock.advance(Duration.ofMinutes(6));
      expiry = Instant.ofEpochSecond(clock.instant().getEpochSecond() + 60);
      long before = t.balance(account);
      s = t.open();
      s.send(TestHost.header(p.encoded(), old, TestHost.withdrawal(account, old, BUDGET, 2, expiry), 1));
      Status status = s.status();
      assertEquals(Status.Code.FAILED_PRECONDITION, status.getCode());
      assertTrue(status.getDescription().contains("expired"), status.getDescription());
      assertEquals(before, t.balance(account));
    }
  }

  @Test
  void concurrencyLimitIsResourceExhausted() throws Exception {
    HostConfig config = TestHost.config(dir).withLimits(1, 64 << 20, 1000, 16 << 20);
    try (TestHost t = new TestHost(config)) {
      SigningKey account = SigningKey.generate();
      t.fund(account, 1_000_000_000L);
      PriceTable table = t.table().table();
      CapsuleFixture f = new CapsuleFixture("limit");
      ProgramBuilder p = new ProgramBuilder(null);
      p.add(new Instruction.CreateCapsule(p.put(f.metadata.encoded())));
      Stream holding = t.open();
      holding.send(TestHost.header(p.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 1));
      holding.send(TestHost.data(p.bytes(), 0, p.bytes().length));
      assertTrue(holding.response().hasResult());
      assertTrue(holding.response().hasProposal());
      Stream refused = t.open();
      refused.send(TestHost.header(p.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 1));
      Status status = refused.status();
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, status.getCode());
      assertTrue(status.getDescription().contains("maxConcurrentPrograms"), status.getDescription());
      holding.send(TestHost.decision(true));
      assertEquals(Status.Code.OK, holding.status().getCode());
    }
  }

  /**
   * The slot-hold attack, once: a program whose renter sends its header and nothing else ends with
   * DEADLINE_EXCEEDED after firstDataTimeout (settled: failure DATA, the rest of the budget back) and
   * its slot is free again, while the stream itself stays open.
   */
  @Test
  void aHeaderWithoutDataGivesItsSlotBackAfterFirstDataTimeout() throws Exception {
    HostConfig config = TestHost.config(dir).withLimits(1, 64 << 20, 1000, 16 << 20)
        .withAdmission(8, 0.25, Duration.ofMillis(300));
    try (TestHost t = new TestHost(config)) {
      SigningKey account = SigningKey.generate();
      t.fund(account, 1_000_000_000L);
      PriceTable table = t.table().table();
      ProgramBuilder p = new ProgramBuilder(null);
      p.add(new Instruction.HasRecord(p.put(new byte[32])));
      long before = t.balance(account);
      byte[] w = TestHost.withdrawal(account, table, BUDGET);
      Stream holding = t.open();
      holding.send(TestHost.header(p.encoded(), table, w, 1));
      ExecuteResponse end = holding.response();
      Status status = holding.status();
      assertEquals(Status.Code.DEADLINE_EXCEEDED, status.getCode(), status.toString());
      assertTrue(status.getDescription().contains("firstDataTimeout"), status.getDescription());
      Receipt r = TestHost.failure(end, status, table.hostKey());
      assertEquals(FailureReason.FAILURE_REASON_DATA.getNumber(), r.failureReason());
      assertEquals(before - r.finalCost().units(), t.balance(account), "the rest of the budget came back");
      // The one slot is free: the next program runs.
      assertEquals(Status.Code.OK, t.run(p, table, account, BUDGET, 1024, true).status().getCode());
    }
  }

  /**
   * An upload that stops midway ends with DEADLINE_EXCEEDED after dataTimeout, as gRPC's convention has
   * it for a peer that stops sending (not INVALID_ARGUMENT: nothing it sent was wrong).
   */
  @Test
  void anUploadThatStallsMidwayIsDeadlineExceeded() throws Exception {
    HostConfig config = TestHost.config(dir).withTimeouts(Duration.ofSeconds(30), Duration.ofMillis(300),
        Duration.ofSeconds(30), Duration.ofSeconds(2));
    try (TestHost t = new TestHost(config)) {
      SigningKey account = SigningKey.generate();
      t.fund(account, 1_000_000_000L);
      PriceTable table = t.table().table();
      ProgramBuilder p = new ProgramBuilder(null);
      p.add(new Instruction.HasRecord(p.put(new byte[32])));
      Stream s = t.open();
      s.send(TestHost.header(p.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 1));
      s.send(TestHost.data(p.bytes(), 0, 10));
      ExecuteResponse end = s.response();
      Status status = s.status();
      assertEquals(Status.Code.DEADLINE_EXCEEDED, status.getCode(), status.toString());
      // The upload's watch or the instruction waiting for its bytes, whichever sees it first: both name the
      // timeout.
      assertTrue(status.getDescription().contains("PT0.3S"), status.getDescription());
      assertEquals(FailureReason.FAILURE_REASON_DATA.getNumber(),
          TestHost.failure(end, status, table.hostKey()).failureReason());
    }
  }

  @Test
  void perAccountCapIsResourceExhaustedNamingIt_andLeavesOtherAccountsAlone() throws Exception {
    HostConfig config = TestHost.config(dir).withAdmission(1, 0.25, Duration.ofSeconds(30));
    try (TestHost t = new TestHost(config)) {
      SigningKey account = SigningKey.generate();
      t.fund(account, 1_000_000_000L);
      PriceTable table = t.table().table();
      CapsuleFixture f = new CapsuleFixture("per-account");
      ProgramBuilder p = new ProgramBuilder(null);
      p.add(new Instruction.CreateCapsule(p.put(f.metadata.encoded())));
      Stream holding = t.open();
      holding.send(TestHost.header(p.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 1));
      holding.send(TestHost.data(p.bytes(), 0, p.bytes().length));
      assertTrue(holding.response().hasResult());
      assertTrue(holding.response().hasProposal());
      long before = t.balance(account);
      ProgramBuilder read = new ProgramBuilder(null);
      read.add(new Instruction.HasRecord(read.put(new byte[32])));
      Run refused = t.run(read, table, account, BUDGET, 1024, true);
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.status().getCode());
      assertTrue(refused.status().getDescription().contains("runs 1 programs, the host's maxProgramsPerAccount"),
          refused.status().getDescription());
      assertEquals(before, t.balance(account), "the whole budget went back");
      SigningKey other = SigningKey.generate();
      t.fund(other, 1_000_000_000L);
      assertEquals(Status.Code.OK, t.run(read, table, other, BUDGET, 1024, true).status().getCode());
      holding.send(TestHost.decision(true));
      assertEquals(Status.Code.OK, holding.status().getCode());
    }
  }

  @Test
  void perAccountRateIsResourceExhausted() throws Exception {
    // A token comes back every 1,000 s: none does during the test, however slow the machine.
    try (TestHost t = new TestHost(TestHost.config(dir).withRate(0.001, 2))) {
      SigningKey account = SigningKey.generate();
      t.fund(account, 1_000_000_000L);
      PriceTable table = t.table().table();
      ProgramBuilder p = new ProgramBuilder(null);
      p.add(new Instruction.HasRecord(p.put(new byte[32])));
      for (int i = 0; i < 2; i++) {
        assertEquals(Status.Code.OK, t.run(p, table, account, BUDGET, 1024, true).status().getCode());
      }
      Run third = t.run(p, table, account, BUDGET, 1024, true);
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, third.status().getCode());
      assertTrue(third.status().getDescription().contains("per second"), third.status().getDescription());
      // Another account is not affected.
      SigningKey other = SigningKey.generate();
      t.fund(other, 1_000_000_000L);
      assertEquals(Status.Code.OK, t.run(p, table, other, BUDGET, 1024, true).status().getCode());
    }
  }

  @Test
  void adminStatusSetPricesHealthReflectionAndMetrics() throws Exception {
    try (TestHost t = new TestHost(TestHost.config(dir).withMetricsPort(0))) {
      SigningKey account = SigningKey.generate();
      t.fund(account, 1_000_000_000L);
      PriceTable table = t.table().table();
      ProgramBuilder p = new ProgramBuilder(null);
      p.add(new Instruction.HasRecord(p.put(new byte[32])));
      assertEquals(Status.Code.OK, t.run(p, table, account, BUDGET, 1024, true).status().getCode());

      StatusResponse status = t.admin.status(StatusRequest.getDefaultInstance());
      assertEquals(1, status.getProgramsRun());
      assertEquals(0, status.getProgramsRunning());

      Map<InstructionKind, InstructionPrice> m = new EnumMap<>(InstructionKind.class);
      for (InstructionKind kind : InstructionKind.values()) {
        m.put(kind, InstructionPrice.of(7, 1));
      }
      Prices prices = new Prices(Amount.of(11), Amount.of(1), m, Amount.of(1), Amount.of(1), Amount.of(0),
          Amount.of(1));
      PriceTable template = new PriceTable(SigningKey.generate().publicKey(), Instant.ofEpochSecond(0),
          Instant.ofEpochSecond(1), prices, new Limits(1 << 20, 50, 1 << 16, 100, 8, Amount.ofCap(10)));
      SignedPriceTable set = SignedPriceTable.parse(t.admin.setPrices(SetPricesRequest.newBuilder()
          .setPriceTableTemplate(ByteString.copyFrom(template.body())).build()).getSignedPriceTable().toByteArray());
      assertEquals(t.host.hostKey(), set.table().hostKey());
      assertEquals(prices, set.table().prices());
      set.verify(Clock.systemUTC());
      assertEquals(set.table().id(), t.table().table().id());
      // The old table stays acceptable until it expires.
      assertEquals(Status.Code.OK, t.run(p, table, account, BUDGET, 1024, true).status().getCode());

      HealthCheckResponse health = HealthGrpc.newBlockingStub(t.channel)
          .check(HealthCheckRequest.newBuilder().setService("capsulevm.v1.Host").build());
      assertEquals(HealthCheckResponse.ServingStatus.SERVING, health.getStatus());

      CompletableFuture<ServerReflectionResponse> reflected = new CompletableFuture<>();
      StreamObserver<ServerReflectionRequest> req = ServerReflectionGrpc.newStub(t.channel)
          .serverReflectionInfo(new StreamObserver<>() {
            @Override
            public void onNext(ServerReflectionResponse value) {
              reflected.complete(value);
            }

            @Override
            public void onError(Throwable e) {
              reflected.completeExceptionally(e);
            }

            @Override
            public void onCompleted() { }
          });
      req.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
      String services = reflected.get(10, TimeUnit.SECONDS).getListServicesResponse().toString();
      req.onCompleted();
      assertTrue(services.contains("capsulevm.v1.Host"), services);

      // A wrong admin token and a refused program are counted (and logged, rate-limited).
      assertEquals(Status.Code.UNAUTHENTICATED, org.junit.jupiter.api.Assertions.assertThrows(
          io.grpc.StatusRuntimeException.class, () -> dev.capsulevm.proto.v1.AdminGrpc.newBlockingStub(t.adminChannel)
              .withInterceptors(TestHost.bearer("not-the-token")).status(StatusRequest.getDefaultInstance()))
          .getStatus().getCode());
      byte[] once = TestHost.withdrawal(account, table, BUDGET);
      assertEquals(Status.Code.OK, t.run(p, table, account, BUDGET, 1024, true, once).status().getCode());
      assertEquals(Status.Code.ALREADY_EXISTS, t.run(p, table, account, BUDGET, 1024, true, once).status().getCode());

      HttpResponse<String> metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
          URI.create("http://127.0.0.1:" + t.host.metricsPort() + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, metrics.statusCode());
      String body = metrics.body();
      assertTrue(body.contains("capsulevm_programs_total{outcome=\"finished\"} 3.0"), body);
      assertTrue(body.contains("capsulevm_instructions_total{kind=\"HAS_RECORD\"} 3.0"), body);
      assertTrue(body.contains("capsulevm_program_duration_seconds_count"), body);
      assertTrue(body.contains("capsulevm_execute_received_bytes_total"), body);
      assertTrue(body.contains("capsulevm_programs_refused_total{reason=\"PAYMENT_REPLAYED\"} 1.0"), body);
      assertTrue(body.contains("capsulevm_admin_unauthenticated_total 1.0"), body);
      assertTrue(body.contains("capsulevm_payment_sessions_open 0.0"), body);
      assertTrue(body.contains("capsulevm_payment_sessions_opened_total 0.0"), body);
      assertTrue(body.contains("capsulevm_programs_paid_by_ticket_total 0.0"), body);
      // The JVM's and the process's metrics, and the build.
      assertTrue(body.contains("jvm_memory_used_bytes{area=\"heap\"}"), body);
      assertTrue(body.contains("jvm_threads_current"), body);
      assertTrue(body.contains("process_cpu_seconds_total"), body);
      assertTrue(body.contains("capsulevm_build_info{java_version=\"" + Runtime.version() + "\",version=\""), body);
    }
  }

  @Test
  void restartKeepsTheKeyTheTokenTheBalancesAndThePrices() throws Exception {
    SigningKey account = SigningKey.generate();
    HostConfig config = TestHost.config(dir);
    dev.capsulevm.proofs.crypto.PublicKey key;
    String token;
    PriceTable first;
    try (TestHost t = new TestHost(config)) {
      key = t.host.hostKey();
      token = t.host.adminToken();
      assertEquals(1234, t.fund(account, 1234));
      first = t.table().table();
      assertTrue(Files.exists(dir.resolve("admin.token")));
      if (dir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
            Files.getPosixFilePermissions(dir.resolve("admin.token"))));
      }
    }
    try (TestHost t = new TestHost(config)) {
      assertEquals(key, t.host.hostKey());
      assertEquals(token, t.host.adminToken());
      assertEquals(1234, t.balance(account));
      assertEquals(first.prices(), t.table().table().prices());
    }
  }

  @Test
  void shutdownAbortsAPendingCommitAtomically() throws Exception {
    HostConfig config = TestHost.config(dir).withTimeouts(Duration.ofSeconds(30), Duration.ofSeconds(5),
        Duration.ofSeconds(5), Duration.ofMillis(200));
    SigningKey account = SigningKey.generate();
    CapsuleFixture f = new CapsuleFixture("shutdown");
    ProgramBuilder p = new ProgramBuilder(null);
    p.add(new Instruction.CreateCapsule(p.put(f.metadata.encoded())));
    long before;
    TestHost t = new TestHost(config);
    try {
      t.fund(account, 1_000_000_000L);
      before = t.balance(account);
      PriceTable table = t.table().table();
      Stream s = t.open();
      s.send(TestHost.header(p.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 1));
      s.send(TestHost.data(p.bytes(), 0, p.bytes().length));
      assertTrue(s.response().hasResult());
      assertTrue(s.response().hasProposal());
      t.host.close();
      Object end = s.next();
      Status status = end instanceof Status st ? st : s.status();
      assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
      if (end instanceof ExecuteResponse response) {
        Receipt r = TestHost.failure(response, status, table.hostKey());
        assertEquals(FailureReason.FAILURE_REASON_UNAVAILABLE.getNumber(), r.failureReason());
        assertEquals(Receipt.NO_INSTRUCTION, r.failedInstruction());
      }
    } finally {
      t.close();
    }
    try (TestHost again = new TestHost(config)) {
      long after = again.balance(account);
      assertTrue(after < before && before - after < 1_000_000, "storage and the rest refunded, spent "
          + (before - after));
      PriceTable table = again.table().table();
      assertEquals(Status.Code.OK, again.run(p, table, account, BUDGET, 1024, true).status().getCode(),
          "the capsule was never created");
    }
  }
}
