package dev.capsulevm.host.server;

import com.google.protobuf.ByteString;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.InstructionDescriptor;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.ProgramShape;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.pricing.RenterCheck;
import dev.capsulevm.pricing.SignedBalanceStatement;
import dev.capsulevm.pricing.SignedPriceTable;
import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.pricing.Withdrawal;
import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Program;
import dev.capsulevm.program.ProgramEncoding;
import dev.capsulevm.program.Transcript;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.KeyFile;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.AdminGrpc;
import dev.capsulevm.proto.v1.BalanceRequest;
import dev.capsulevm.proto.v1.CommitDecision;
import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.Failure;
import dev.capsulevm.proto.v1.FundRequest;
import dev.capsulevm.proto.v1.GetPriceTableRequest;
import dev.capsulevm.proto.v1.HostGrpc;
import dev.capsulevm.proto.v1.ProgramEnd;
import dev.capsulevm.proto.v1.ProgramHeader;
import dev.capsulevm.proto.v1.StatusRequest;
import dev.capsulevm.vm.exec.ExecFixture;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A host on ephemeral loopback ports with raw stubs, an account and a program runner, for tests; the
 * renter's and the CLI's tests use it through host's test-jar.
 */
public final class TestHost implements AutoCloseable {
  public final HostServer host;
  final ManagedChannel channel;
  final ManagedChannel adminChannel;
  final HostGrpc.HostBlockingStub blocking;
  final HostGrpc.HostStub async;
  final AdminGrpc.AdminBlockingStub admin;

  public TestHost(HostConfig config) throws Exception {
    host = HostServer.start(config);
    channel = ManagedChannelBuilder.forAddress("127.0.0.1", host.port()).usePlaintext()
        .maxInboundMessageSize(64 << 20).build();
    adminChannel = ManagedChannelBuilder.forAddress("127.0.0.1", host.adminPort()).usePlaintext().build();
    blocking = HostGrpc.newBlockingStub(channel);
    async = HostGrpc.newStub(channel);
    admin = AdminGrpc.newBlockingStub(adminChannel).withInterceptors(bearer(host.adminToken()));
  }

  /** A host on ephemeral loopback ports, its data in {@code dir}, without a metrics server. */
  public static HostConfig config(Path dir) {
    return HostConfig.defaults(dir).withPorts(0, 0).withMetricsPort(-1);
  }

  /** Where the Host service listens, as host:port. */
  public String address() {
    return "127.0.0.1:" + host.port();
  }

  /** Where the Admin service listens, as host:port. */
  public String adminAddress() {
    return "127.0.0.1:" + host.adminPort();
  }

  /** The host's signing key, read from its data directory (tests re-sign tampered receipts with it). */
  public SigningKey signingKey() throws IOException {
    return KeyFile.read(host.config().dataDirectory().resolve(HostServer.HOST_KEY_FILE));
  }

  static io.grpc.ClientInterceptor bearer(String token) {
    Metadata md = new Metadata();
    md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    return MetadataUtils.newAttachHeadersInterceptor(md);
  }

  SignedPriceTable table() throws Exception {
    return SignedPriceTable.parse(blocking.getPriceTable(GetPriceTableRequest.getDefaultInstance())
        .getSignedPriceTable().toByteArray());
  }

  long fund(SigningKey account, long units) {
    return admin.fund(FundRequest.newBuilder().setAccount(ByteString.copyFrom(account.publicKey().toByteArray()))
        .setAmount(units).build()).getBalance();
  }

  long balance(SigningKey account) {
    return blocking.getBalance(BalanceRequest.newBuilder()
        .setAccount(ByteString.copyFrom(account.publicKey().toByteArray())).build()).getBalance();
  }

  /** The account's balance statement as GetBalance returns it (parsed, not verified). */
  SignedBalanceStatement statement(SigningKey account) throws Exception {
    return SignedBalanceStatement.parse(blocking.getBalance(BalanceRequest.newBuilder()
        .setAccount(ByteString.copyFrom(account.publicKey().toByteArray())).build()).getSignedStatement().toByteArray());
  }

  /** Programs admitted and not ended (the Admin service's count). */
  long programsRunning() {
    return admin.status(StatusRequest.getDefaultInstance()).getProgramsRunning();
  }

  /** Programs that ended, however they ended (the Admin service's count). */
  long programsRun() {
    return admin.status(StatusRequest.getDefaultInstance()).getProgramsRun();
  }

  static byte[] withdrawal(SigningKey account, PriceTable table, long budget, long nonce, Instant expiry) {
    return new Withdrawal(account.publicKey(), Amount.of(budget), nonce, expiry, table.id(), table.hostKey())
        .sign(account).encode();
  }

  static byte[] withdrawal(SigningKey account, PriceTable table, long budget) {
    return withdrawal(account, table, budget, ThreadLocalRandom.current().nextLong(),
        Instant.ofEpochSecond(Instant.now().getEpochSecond() + 600));
  }

  static ExecuteRequest header(byte[] program, PriceTable table, byte[] withdrawal, long durationUnits) {
    return ExecuteRequest.newBuilder().setHeader(ProgramHeader.newBuilder()
        .setProgram(ByteString.copyFrom(program))
        .setPriceTableId(ByteString.copyFrom(table.id().toByteArray()))
        .setSignedWithdrawal(ByteString.copyFrom(withdrawal))
        .setDurationUnits(durationUnits)).build();
  }

  /** A header stating the heads the read-write program leaves (the host then commits without a proposal). */
  static ExecuteRequest header(byte[] program, PriceTable table, byte[] withdrawal, long durationUnits,
      List<Hash> expectedHeads) {
    ExecuteRequest plain = header(program, table, withdrawal, durationUnits);
    ProgramHeader.Builder h = plain.getHeader().toBuilder();
    expectedHeads.forEach(head -> h.addExpectedHeads(ByteString.copyFrom(head.toByteArray())));
    return plain.toBuilder().setHeader(h).build();
  }

  static ExecuteRequest data(byte[] bytes, int from, int to) {
    return ExecuteRequest.newBuilder().setData(ByteString.copyFrom(bytes, from, to - from)).build();
  }

  static ExecuteRequest decision(boolean confirm) {
    return ExecuteRequest.newBuilder().setDecision(CommitDecision.newBuilder().setConfirm(confirm)).build();
  }

  /** One Execute stream seen from the renter: responses and the final status, in arrival order. */
  static class Stream implements ClientResponseObserver<ExecuteRequest, ExecuteResponse> {
    final LinkedBlockingQueue<Object> events = new LinkedBlockingQueue<>();
    ClientCallStreamObserver<ExecuteRequest> requests;
    long sent;
    long received;

    @Override
    public void beforeStart(ClientCallStreamObserver<ExecuteRequest> requestStream) {
      requests = requestStream;
    }

    @Override
    public void onNext(ExecuteResponse value) {
      events.add(value);
    }

    @Override
    public void onError(Throwable t) {
      events.add(Status.fromThrowable(t));
    }

    @Override
    public void onCompleted() {
      events.add(Status.OK);
    }

    void send(ExecuteRequest request) {
      if (!request.hasDecision()) {
        // CommitDecision is not metered (docs/PROTOCOL.md, "The Execute stream").
        sent += request.getSerializedSize();
      }
      synchronized (this) {
        requests.onNext(request);
      }
    }

    private boolean closed;

    /** Closes the renter's side of the call, once. */
    synchronized void close() {
      if (!closed) {
        closed = true;
        requests.onCompleted();
      }
    }

    /** The next event: an ExecuteResponse or the final Status. */
    Object next() throws InterruptedException {
      Object e = events.poll(20, TimeUnit.SECONDS);
      if (e == null) {
        throw new AssertionError("no event within 20 s");
      }
      if (e instanceof ExecuteResponse r && r.hasResult()) {
        received += r.getSerializedSize();
      }
      return e;
    }

    ExecuteResponse response() throws InterruptedException {
      Object e = next();
      if (e instanceof ExecuteResponse r) {
        return r;
      }
      throw new AssertionError("expected a response, got status " + e);
    }

    Status status() throws InterruptedException {
      while (true) {
        Object e = next();
        if (e instanceof Status s) {
          return s;
        }
      }
    }
  }

  <S extends Stream> S open(S s) {
    async.execute(s);
    return s;
  }

  Stream open() {
    Stream s = new Stream();
    async.execute(s);
    return s;
  }

  /** The outcome of a program run to its end. */
  record Run(List<ExecuteResponse> results, ExecuteResponse proposal, ExecuteResponse end, Status status,
      long sent, long received) {
    SignedReceipt receipt() throws Exception {
      return SignedReceipt.parse(end.getEnd().getSignedReceipt().toByteArray());
    }
  }

  /**
   * Runs a program: header, data in chunks of {@code chunk} bytes, then (for a proposal) the decision.
   */
  Run run(ProgramBuilder program, PriceTable table, SigningKey account, long budget, int chunk, boolean confirm)
      throws Exception {
    return run(program, table, account, budget, chunk, confirm, withdrawal(account, table, budget));
  }

  /** {@link #run} paying with this signed withdrawal (to replay one, say). */
  Run run(ProgramBuilder program, PriceTable table, SigningKey account, long budget, int chunk, boolean confirm,
      byte[] signedWithdrawal) throws Exception {
    Stream s = open();
    s.send(header(program.encoded(), table, signedWithdrawal, 10));
    byte[] d = program.bytes();
    for (int at = 0; at < d.length; at += chunk) {
      s.send(data(d, at, Math.min(d.length, at + chunk)));
    }
    return finish(s, confirm);
  }

  static Run finish(Stream s, boolean confirm) throws Exception {
    List<ExecuteResponse> results = new ArrayList<>();
    ExecuteResponse proposal = null;
    ExecuteResponse end = null;
    while (true) {
      Object e = s.next();
      if (e instanceof Status status) {
        s.close();
        return new Run(results, proposal, end, status, s.sent, s.received);
      }
      ExecuteResponse r = (ExecuteResponse) e;
      if (r.hasResult()) {
        results.add(r);
      } else if (r.hasProposal()) {
        proposal = r;
        s.send(decision(confirm));
      } else {
        end = r;
      }
    }
  }

  /**
   * Checks the receipt against the renter's own figures, as the SDK does: the costs, the transcript of the
   * outputs it received (computed here from the instructions, the program data and the output bytes) and
   * the end the ProgramEnd states (its {@code Failure}, or the heads it proposed and committed).
   */
  static Receipt check(Run run, ProgramBuilder program, PriceTable table, long budget, byte[] withdrawal)
      throws Exception {
    List<InstructionDescriptor> shape = new ArrayList<>();
    Program p = program.program();
    for (int i = 0; i < p.instructions().size(); i++) {
      Instruction in = p.instructions().get(i);
      long maxOut = i < run.results().size() ? run.results().get(i).getResult().getMaxOutputBytes()
          : i == run.results().size() && run.end().getEnd().hasFailure()
              ? run.end().getEnd().getFailure().getMaxOutputBytes() : 0;
      shape.add(new InstructionDescriptor(in.kind(), in.inputBytes(), maxOut, in.writes() ? in.inputBytes() : 0));
    }
    ProgramShape ps = new ProgramShape(program.encoded().length, run.sent(), 10, shape);
    Transcript seen = transcript(run, program);
    RenterCheck.Observed observed =
        new RenterCheck.Observed(run.sent(), run.received(), seen.size(), seen.root(), end(run));
    return RenterCheck.check(run.receipt(), table, ps, ProgramEncoding.programId(program.encoded(), withdrawal),
        p.capsuleIdOrNull(), Amount.of(budget), observed);
  }

  /**
   * The renter's own transcript of the outputs it received: each output's entry from the instruction it
   * answers, the bytes that instruction's references point at in the program data, and the output's bytes.
   */
  static Transcript transcript(Run run, ProgramBuilder program) {
    Program p = program.program();
    byte[] data = program.bytes();
    Transcript seen = new Transcript();
    for (ExecuteResponse r : run.results()) {
      int index = r.getResult().getIndex();
      Instruction instruction = p.instructions().get(index);
      List<byte[]> inputs = new ArrayList<>();
      for (DataRef ref : instruction.refs()) {
        inputs.add(Arrays.copyOfRange(data, (int) ref.offset(), (int) (ref.offset() + ref.length())));
      }
      seen.add(Transcript.leaf(index, instruction, inputs, r.getResult().getOutput().toByteArray()));
    }
    return seen;
  }

  /**
   * The verified receipt of a program that failed, after checking that the ProgramEnd's {@code Failure}
   * states exactly what its receipt states (instruction, reason number, message), that the status carries
   * the same message and goes with that reason ({@link EndReason}), and that no head is listed as committed.
   */
  static Receipt failure(ExecuteResponse end, Status status, PublicKey hostKey) throws Exception {
    Receipt receipt = SignedReceipt.parse(end.getEnd().getSignedReceipt().toByteArray()).verify(hostKey);
    if (!end.getEnd().hasFailure() || !receipt.failed()) {
      throw new AssertionError("a failed program's end: " + end + ", receipt " + receipt);
    }
    Failure f = end.getEnd().getFailure();
    Receipt.Failed stated = new Receipt.Failed(f.getInstruction(), f.getReasonValue(), f.getMessage());
    if (!stated.equals(receipt.end())) {
      throw new AssertionError("Failure " + stated + " but the receipt states " + receipt.end());
    }
    if (!f.getMessage().equals(status.getDescription())) {
      throw new AssertionError("status says " + status.getDescription() + ", the Failure " + f.getMessage());
    }
    if (EndReason.ofWire(f.getReasonValue()).wire() != f.getReason()
        || !codesOf(f.getReasonValue()).contains(status.getCode())) {
      throw new AssertionError("status " + status.getCode() + " does not go with reason " + f.getReason());
    }
    if (end.getEnd().getCommittedHeadsCount() != 0) {
      throw new AssertionError("a failed program lists committed heads");
    }
    return receipt;
  }

  /** The statuses a failure reason goes with (docs/PROTOCOL.md, "Failure reasons"). */
  private static List<Status.Code> codesOf(int reason) {
    List<Status.Code> codes = new ArrayList<>();
    for (EndReason r : EndReason.values()) {
      if (r.wire().getNumber() == reason) {
        codes.add(r.code());
      }
    }
    return codes;
  }

  /**
   * How the program ended as the renter was told: the ProgramEnd's {@code Failure}, or the heads it was
   * proposed and confirmed (none without a proposal), which the ProgramEnd must list as committed.
   */
  static Receipt.End end(Run run) {
    ProgramEnd end = run.end().getEnd();
    if (end.hasFailure()) {
      Failure f = end.getFailure();
      return new Receipt.Failed(f.getInstruction(), f.getReasonValue(), f.getMessage());
    }
    List<Hash> proposed = new ArrayList<>();
    if (run.proposal() != null) {
      run.proposal().getProposal().getHeadsList().forEach(h -> proposed.add(Hash.copyOf(h.toByteArray())));
    }
    List<Hash> committed = new ArrayList<>();
    end.getCommittedHeadsList().forEach(h -> committed.add(Hash.copyOf(h.toByteArray())));
    if (!committed.equals(proposed)) {
      throw new AssertionError("ProgramEnd lists heads " + committed + ", the proposal " + proposed);
    }
    return new Receipt.Completed(proposed);
  }

  /** vm's program builder under the name host's tests use. */
  static final class ProgramBuilder extends ExecFixture.Builder {
    ProgramBuilder(Hash capsuleIdOrNull) {
      super(capsuleIdOrNull);
    }
  }

  @Override
  public void close() {
    channel.shutdownNow();
    adminChannel.shutdownNow();
    host.close();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
      adminChannel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
