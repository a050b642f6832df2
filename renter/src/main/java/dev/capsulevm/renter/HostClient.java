package dev.capsulevm.renter;

import com.google.common.util.concurrent.MoreExecutors;
import com.google.protobuf.ByteString;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.BalanceStatement;
import dev.capsulevm.pricing.CostBreakdown;
import dev.capsulevm.pricing.CostModel;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.PricingException;
import dev.capsulevm.pricing.ProgramShape;
import dev.capsulevm.pricing.SignedBalanceStatement;
import dev.capsulevm.pricing.SignedPriceTable;
import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.pricing.Withdrawal;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.integrity.ProofCache;
import dev.capsulevm.proofs.integrity.ProofVerifier;
import dev.capsulevm.proto.tls.ChannelSecurity;
import dev.capsulevm.proto.v1.BalanceRequest;
import dev.capsulevm.proto.v1.BalanceResponse;
import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.GetPriceTableRequest;
import dev.capsulevm.proto.v1.HostGrpc;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.Deadline;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.IntConsumer;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * A renter's connection to one host: its price table (checked: signature, validity window, the renter's
 * maximum prices), program submission paid by signed withdrawals from the renter's account key, or by
 * the tickets of payment sessions ({@link RenterOptions#withSession}), the proof cache shared by every
 * program of this client, the verified metadata of the capsules it read, and signed balance statements.
 * Thread-safe; programs may run concurrently (and share the payment session). {@link #close()} closes
 * the open payment session, if any.
 */
public final class HostClient implements AutoCloseable {
  /** Refetch the price table when less than this much of its validity is left. */
  private static final long TABLE_MARGIN_SECONDS = 10;

  /** The channel this client made and closes; null when the caller's channel is used (the caller closes it). */
  private final @Nullable ManagedChannel ownChannelOrNull;
  private final HostGrpc.HostStub async;
  private final HostGrpc.HostBlockingStub blocking;
  private final SigningKey accountKey;
  private final RenterOptions options;
  private final ProofCache cache;
  private final ProofVerifier verifier;
  private final SecureRandom random = new SecureRandom();
  /** Signed metadata verified against its capsule id, by id: immutable, so never refetched. */
  private final Map<Hash, SignedMetadata> metadata = new ConcurrentHashMap<>();
  /** The price table last accepted; null until the first is fetched. */
  private @Nullable PriceTable table;
  /** The payment sessions programs are paid from; null when each pays by its own withdrawal. */
  private final @Nullable PaymentSessions sessionsOrNull;
  /** The program stream small programs go on; null when every program has its own call. */
  private final @Nullable ProgramStream streamOrNull;
  /** Where the responses of a stream's programs nobody waits for are handled, each program's in order. */
  private final @Nullable ExecutorService streamCallbacksOrNull;

  private HostClient(Channel channel, @Nullable ManagedChannel ownChannelOrNull, SigningKey accountKey,
      RenterOptions options) {
    this.ownChannelOrNull = ownChannelOrNull;
    this.async = HostGrpc.newStub(channel);
    this.blocking = HostGrpc.newBlockingStub(channel);
    this.accountKey = Objects.requireNonNull(accountKey, "accountKey");
    this.options = Objects.requireNonNull(options, "options");
    this.cache = new ProofCache(options.proofCacheCapacity());
    this.verifier = new ProofVerifier(cache);
    Amount sessionAmount = options.sessionAmountOrNull();
    this.sessionsOrNull = sessionAmount == null ? null : new PaymentSessions(this, blocking, async, accountKey,
        sessionAmount, options.sessionLifetime(), options.clock());
    if (options.programStreams()) {
      this.streamOrNull = new ProgramStream(async, options.scheduler());
      this.streamCallbacksOrNull = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 60, TimeUnit.SECONDS,
          new SynchronousQueue<>(), task -> {
            Thread thread = new Thread(task, "capsulevm-program-stream");
            thread.setDaemon(true);
            return thread;
          });
    } else {
      this.streamOrNull = null;
      this.streamCallbacksOrNull = null;
    }
  }

  /**
   * Connects to the host at {@code address} ("host:port"), paying from {@code accountKey}, over
   * {@link RenterOptions#security()}: plaintext by default, or TLS verifying the host's certificate (a
   * certificate refused fails the first call with a {@link RenterException} saying why, never retried).
   */
  public static HostClient connect(String address, SigningKey accountKey, RenterOptions options) {
    // No gRPC retries: the client retries refusals itself (run, unary), and gRPC's retry layer keeps a copy
    // of every request message until the call commits, which costs each program's start measurably.
    ManagedChannel channel = NettyChannelBuilder.forTarget(address, options.security().credentials())
        .disableRetry()
        .maxInboundMessageSize(64 << 20)
        .intercept(options.interceptors())
        .build();
    return new HostClient(channel, channel, accountKey, options);
  }

  /**
   * A client over the caller's own {@code channel} (its target, credentials, executors and interceptors
   * are the caller's; {@link RenterOptions#security()} is not used), paying from {@code accountKey}.
   * {@link RenterOptions#interceptors()} are added in front of the channel. {@link #close()} leaves the
   * channel open: whoever built it shuts it down. Every answer is verified as with {@link #connect}.
   */
  public static HostClient over(ManagedChannel channel, SigningKey accountKey, RenterOptions options) {
    Objects.requireNonNull(channel, "channel");
    return new HostClient(ClientInterceptors.intercept(channel, options.interceptors()), null, accountKey, options);
  }

  public PublicKey account() {
    return accountKey.publicKey();
  }

  public RenterOptions options() {
    return options;
  }

  /** The proof cache every program of this client shares. */
  public ProofCache proofCache() {
    return cache;
  }

  /** The verifier over {@link #proofCache()}; {@code trust} a header here to make it an anchor. */
  public ProofVerifier verifier() {
    return verifier;
  }

  /**
   * The host's current price table, fetched when none is held or the held one is about to expire, and
   * accepted only if its signature verifies, the clock lies in its window, its host key is the expected
   * one (when set) and no price exceeds the renter's maximum.
   */
  public synchronized PriceTable priceTable() throws RenterException {
    Instant now = options.clock().instant();
    if (table != null && now.plusSeconds(TABLE_MARGIN_SECONDS).isBefore(table.validUntil())) {
      return table;
    }
    byte[] bytes = unary("cannot fetch the price table", () -> blocking.withDeadlineAfter(callDeadlineNanos(),
        TimeUnit.NANOSECONDS).getPriceTable(GetPriceTableRequest.getDefaultInstance()).getSignedPriceTable()
        .toByteArray());
    table = checkTable(bytes, options);
    return table;
  }

  /**
   * Parses and checks a signed price table against {@code options}. A table that does not parse, is not
   * signed by the key it names or names another host than expected is forged: misbehaviour. One outside
   * its window by the renter's clock, or above the renter's maximum prices, is refused.
   */
  static PriceTable checkTable(byte[] bytes, RenterOptions options) throws RenterException {
    PriceTable checked;
    try {
      checked = SignedPriceTable.parse(bytes).verify(options.clock());
    } catch (VerificationException e) {
      throw new HostMisbehaviourException(HostMisbehaviourException.Part.PRICE_TABLE, -1,
          "the price table does not parse: " + e.getMessage(), e);
    } catch (PricingException e) {
      if (e.reason() == PricingException.Reason.BAD_SIGNATURE) {
        throw new HostMisbehaviourException(HostMisbehaviourException.Part.PRICE_TABLE, -1, e.getMessage(), e);
      }
      throw new PriceTableRefusedException(e);
    }
    if (options.expectedHostKeyOrNull() != null && !checked.hostKey().equals(options.expectedHostKeyOrNull())) {
      throw new HostMisbehaviourException(HostMisbehaviourException.Part.PRICE_TABLE, -1,
          "the table is signed by " + checked.hostKey() + ", not the expected host " + options.expectedHostKeyOrNull());
    }
    try {
      options.maxPrices().check(checked);
    } catch (PricingException e) {
      throw new PriceTableRefusedException(e);
    }
    return checked;
  }

  /**
   * The program's cost estimate at the current table, from its shape: the exact request messages it will
   * send and the renter's expected output bounds (exact where it holds what an output is made of, else
   * the documented allowances of {@link ProgramBuilder}), each response as large as its bound. It is an
   * upper bound on the final cost whenever the expected bounds are exact; it is the budget unless the
   * caller gives one.
   */
  public CostBreakdown estimate(PreparedProgram program) throws RenterException {
    return estimate(program, priceTable(), options.durationUnits());
  }

  /** The estimate of {@code program} as {@link RenterOptions#defaults()} sends it (stating its heads). */
  static CostBreakdown estimate(PreparedProgram program, PriceTable table, long durationUnits, int chunkSize) {
    return CostModel.of(table).estimate(shape(program, table, durationUnits, chunkSize, false));
  }

  private CostBreakdown estimate(PreparedProgram program, PriceTable table, long durationUnits) {
    return CostModel.of(table).estimate(shapeAsSent(program, table, durationUnits));
  }

  /** The shape of {@code program} as this client sends it: its options, and a ticket when it has sessions. */
  private ProgramShape shapeAsSent(PreparedProgram program, PriceTable table, long durationUnits) {
    boolean ticket = sessionsOrNull != null;
    return shape(program, table, durationUnits, options.chunkSize(), options.confirmCommits(), ticket,
        ticket && sealsReceipt(program));
  }

  /** The shape of {@code program} as {@link RenterOptions#defaults()} sends it (stating its heads). */
  static ProgramShape shape(PreparedProgram program, PriceTable table, long durationUnits, int chunkSize) {
    return shape(program, table, durationUnits, chunkSize, false);
  }

  /**
   * The heads the header of {@code program} states: those it computes its write leaves, unless commits
   * are confirmed after a proposal instead (or the renter cannot predict them).
   */
  static List<Hash> statedHeads(PreparedProgram program, boolean confirmCommits) {
    List<Hash> heads = confirmCommits ? null : program.statedHeadsOrNull();
    return heads == null ? List.of() : heads;
  }

  /** The estimate's shape of {@code program} paid by a signed withdrawal. */
  static ProgramShape shape(PreparedProgram program, PriceTable table, long durationUnits, int chunkSize,
      boolean confirmCommits) {
    return shape(program, table, durationUnits, chunkSize, confirmCommits, false, false);
  }

  /**
   * The estimate's shape; a signed withdrawal and a ticket each have a fixed length, so a blank one of the
   * kind (with the seal request it makes, {@code sealed}) sizes the header exactly.
   */
  static ProgramShape shape(PreparedProgram program, PriceTable table, long durationUnits, int chunkSize,
      boolean confirmCommits, boolean ticket, boolean sealed) {
    return shape(program, ProgramRun.requests(program, table.id(), Payment.blank(ticket, sealed), durationUnits,
        chunkSize, statedHeads(program, confirmCommits)), durationUnits);
  }

  private static ProgramShape shape(PreparedProgram program, List<ExecuteRequest> requests, long durationUnits) {
    long requestBytes = 0;
    for (ExecuteRequest request : requests) {
      requestBytes += request.getSerializedSize();
    }
    return new ProgramShape(program.encodedLength(), requestBytes, durationUnits, program.estimateDescriptors());
  }

  /** Submits {@code program} with its estimate as the budget. */
  public ProgramRun submit(PreparedProgram program) throws RenterException {
    return submit(program, null, null);
  }

  /**
   * Runs {@code program} with its estimate as the budget and waits for its verified result
   * ({@link ProgramRun#result()}: the verdicts of a write are settled there). Retries:
   * <ul>
   *   <li>when the host refuses it with RESOURCE_EXHAUSTED or UNAVAILABLE before running it (no output,
   *       no end: nothing was confirmed or taken), it is submitted again after a back-off, at most
   *       {@link RenterOptions.Retries#max()} times ({@link RenterOptions#retries()});
   *   <li>when the host refuses it with FAILED_PRECONDITION before running it (the table this client held
   *       expired there, or the host no longer knows it, or a payment session's remainder there is below
   *       the budget), nothing ran and nothing was taken: the current table is fetched (and a new payment
   *       session opened) and the program submitted once more;
   *   <li>when the host refuses a program paid by a payment session's ticket with NOT_FOUND before running
   *       it (the host does not know the session: it restarted, or the session expired there), nothing
   *       ran and nothing was taken: a new session is opened and the program submitted once more;
   *   <li>when the host stops a read-only program with BUDGET at an instruction by which some expected
   *       output bound was below its ceiling (an honest host charged more than the estimate allowed), it
   *       is submitted once more with the ceiling budget; the failed attempt cost what its verified
   *       receipt says.
   * </ul>
   * A program that passes its deadline or idle timeout ({@link RenterOptions#deadlines()}) ends with
   * {@link DeadlineExceededException} and is not retried.
   */
  public ProgramResult run(PreparedProgram program) throws RenterException {
    Amount fixed = options.budgetOrNull();
    if (fixed != null) {
      return run(program, fixed);
    }
    try {
      return runRefetchingTable(program, null);
    } catch (ProgramFailedException e) {
      PriceTable current = priceTable();
      if (!program.isReadOnly() || e.reason() != ProgramFailedException.Reason.BUDGET
          || !program.mayExceedEstimate(e.instructionIndex(), current.limits())) {
        throw e;
      }
      return runRefetchingTable(program, ceiling(program, current));
    }
  }

  /**
   * Runs {@code program} paying up to {@code budget} and waits for its verified result; refetches the
   * table once and retries refusals like {@link #run(PreparedProgram)}, but never raises the caller's budget.
   */
  public ProgramResult run(PreparedProgram program, Amount budget) throws RenterException {
    return runRefetchingTable(program, Objects.requireNonNull(budget, "budget"));
  }

  /**
   * Submits {@code program} until it runs: once more with a fresh table after a FAILED_PRECONDITION
   * refusal, and up to {@link RenterOptions.Retries#max()} more times, after a back-off, after a
   * RESOURCE_EXHAUSTED or UNAVAILABLE refusal. Only refusals before anything ran are retried (the call
   * ended with that status before any output or end, so the renter confirmed nothing and the host took
   * nothing); any other end, a deadline included, is the caller's.
   */
  private ProgramResult runRefetchingTable(PreparedProgram program, @Nullable Amount budgetOrNull)
      throws RenterException {
    boolean refetched = false;
    boolean reopened = false;
    int retried = 0;
    while (true) {
      ProgramRun run = submitAndWait(program, budgetOrNull);
      try {
        return run.result();
      } catch (RenterException e) {
        if (!refetched && run.refusedBeforeRunning(Status.Code.FAILED_PRECONDITION)) {
          refetched = true;
          forgetPriceTable(); // the refused ticket retired its session too
        } else if (!reopened && run.paidByTicket() && run.refusedBeforeRunning(Status.Code.NOT_FOUND)) {
          reopened = true; // the refused ticket retired its session: the next one opens a new one
        } else if (retried < options.retries().max() && (run.refusedBeforeRunning(Status.Code.RESOURCE_EXHAUSTED)
            || run.refusedBeforeRunning(Status.Code.UNAVAILABLE))) {
          backOff(retried++, e);
        } else {
          throw e;
        }
      }
    }
  }

  /** A unary call, retried like a refused program; a deadline it passed is {@link DeadlineExceededException}. */
  <T> T unary(String what, Supplier<T> call) throws RenterException {
    int retried = 0;
    while (true) {
      try {
        return call.get();
      } catch (StatusRuntimeException e) {
        Status.Code code = e.getStatus().getCode();
        String tls = ChannelSecurity.handshakeFailure(e);
        if (tls != null) {
          throw new RenterException(what + ": " + tls, e); // a certificate refused now is refused on retry
        }
        if (code == Status.Code.DEADLINE_EXCEEDED) {
          throw new DeadlineExceededException(DeadlineExceededException.Kind.CALL, options.deadlines().call(),
              what + ": no answer within the call deadline of " + options.deadlines().call() + " ("
                  + Channels.describe(e) + ")", e);
        }
        if (retried >= options.retries().max()
            || (code != Status.Code.RESOURCE_EXHAUSTED && code != Status.Code.UNAVAILABLE)) {
          throw new RenterException(what + ": " + Channels.describe(e)
              + (retried == 0 ? "" : " (after " + retried + " retries)"), e);
        }
        backOff(retried++, e);
      }
    }
  }

  long callDeadlineNanos() {
    return options.deadlines().call().toNanos();
  }

  /** Waits before retry {@code attempt} (from 0) of a call refused with {@code refusal}. */
  private void backOff(int attempt, Exception refusal) throws RenterException {
    try {
      options.scheduler().sleep(options.retries().backoff(attempt, ThreadLocalRandom.current().nextDouble()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      RenterException interrupted = new RenterException("interrupted waiting to retry after: " + refusal.getMessage(), e);
      interrupted.addSuppressed(refusal);
      throw interrupted;
    }
  }

  /**
   * What {@code program} costs at most when every output is as large as its ceiling: the budget of the
   * retry after a BUDGET failure.
   */
  public Amount ceiling(PreparedProgram program) throws RenterException {
    return ceiling(program, priceTable());
  }

  private Amount ceiling(PreparedProgram program, PriceTable table) {
    ProgramShape expected = shapeAsSent(program, table, options.durationUnits());
    return CostModel.of(table).estimate(new ProgramShape(expected.programBytes(), expected.requestBytes(),
        expected.durationUnits(), program.ceilingDescriptors(table.limits()))).total();
  }

  /** Drops the held price table, so the next program fetches the host's current one. */
  private synchronized void forgetPriceTable() {
    table = null;
  }

  /**
   * Submits {@code program}, paying up to {@code budgetOrNull} (null: the estimate), but never more than
   * {@link RenterOptions#maxCostOrNull()}: a program whose estimate is above that cap is refused here with
   * {@link MaxCostExceededException}, before anything is sent, and a larger budget is lowered to it. {@code listenerOrNull}
   * receives each output once it verified, in the gRPC thread, before the iterator does. Not retried:
   * the caller holds the run. The call is cancelled, ending the run with {@link DeadlineExceededException},
   * when it passes {@link RenterOptions.Deadlines#program()} or the host sends nothing for
   * {@link RenterOptions.Deadlines#idle()}.
   */
  public ProgramRun submit(PreparedProgram program, @Nullable Amount budgetOrNull,
      @Nullable Consumer<VerifiedOutput> listenerOrNull) throws RenterException {
    return submit(program, budgetOrNull, listenerOrNull, null);
  }

  /**
   * Prepares {@code program}'s run as {@link #submit(PreparedProgram, Amount, Consumer)} does (the price
   * table, the estimate, the payment made and signed) without sending it, telling {@code arrival} each
   * output's index as its response arrives, before it is verified ({@link ProgramRun#onOutputArrival}).
   * {@link #send} sends it, without blocking; a run that is never sent must be {@link ProgramRun#abandoned}.
   */
  ProgramRun prepare(PreparedProgram program, @Nullable Amount budgetOrNull, IntConsumer arrival)
      throws RenterException {
    return prepare(program, budgetOrNull, null, arrival);
  }

  /** Sends a run {@link #prepare} returned. Never blocks: nothing is fetched or signed here. */
  void send(ProgramRun prepared) {
    start(prepared, null);
  }

  /**
   * Whether a run {@link #prepare} returned may still be sent as it is: its price table is not about to
   * end and its payment was made less than half its lifetime ago (a withdrawal expires after
   * {@link RenterOptions#withdrawalLifetime()}).
   */
  boolean stillSendable(ProgramRun prepared) {
    Instant now = options.clock().instant();
    return now.plusSeconds(TABLE_MARGIN_SECONDS).isBefore(prepared.table().validUntil())
        && now.isBefore(prepared.preparedAt().plus(options.withdrawalLifetime().dividedBy(2)));
  }

  /**
   * Submits {@code program} like {@link #submit} and handles its responses in this thread until its end
   * (a {@link CallerRunsExecutor}), so its result is ready when this returns: each response wakes this
   * thread alone instead of a gRPC thread that would wake it in turn. Interrupted, it stops waiting and
   * returns at once; {@link ProgramRun#result()} then says so.
   */
  private ProgramRun submitAndWait(PreparedProgram program, @Nullable Amount budgetOrNull) throws RenterException {
    CallerRunsExecutor here = new CallerRunsExecutor();
    ProgramRun run = submit(program, budgetOrNull, null, here);
    try {
      here.drainUntilDone();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // result() reports it
    }
    return run;
  }

  private ProgramRun submit(PreparedProgram program, @Nullable Amount budgetOrNull,
      @Nullable Consumer<VerifiedOutput> listenerOrNull, @Nullable CallerRunsExecutor waiterOrNull)
      throws RenterException {
    return start(prepare(program, budgetOrNull, listenerOrNull, null), waiterOrNull);
  }

  private ProgramRun prepare(PreparedProgram program, @Nullable Amount budgetOrNull,
      @Nullable Consumer<VerifiedOutput> listenerOrNull, @Nullable IntConsumer arrivalOrNull)
      throws RenterException {
    PriceTable current = priceTable();
    long duration = options.durationUnits();
    List<Hash> statedHeads = statedHeads(program, options.confirmCommits());
    PaymentSessions sessions = sessionsOrNull;
    boolean ticket = sessions != null;
    boolean refetched = false;
    while (true) {
      boolean seal = ticket && sealsReceipt(program);
      // Built once, with a blank payment of the kind to size the estimate; the real header replaces it.
      List<ExecuteRequest> requests = ProgramRun.requests(program, current.id(), Payment.blank(ticket, seal),
          duration, options.chunkSize(), statedHeads);
      ProgramShape shape = shape(program, requests, duration);
      try {
        current.limits().check(shape);
      } catch (PricingException e) {
        throw new RenterException("the program breaks the host's limits: " + e.getMessage(), e);
      }
      CostBreakdown estimate = CostModel.of(current).estimate(shape);
      Amount budget = budgetOrNull == null ? estimate.total() : budgetOrNull;
      Amount max = options.maxCostOrNull();
      if (max != null) {
        if (estimate.total().exceeds(max)) {
          throw new MaxCostExceededException(estimate.total(), max);
        }
        if (budget.exceeds(max)) {
          budget = max;
        }
      }
      Payment payment;
      try {
        payment = ticket ? Objects.requireNonNull(sessions).pay(current, budget, program.encodedUnsafe(), seal)
            : withdrawal(current, budget);
      } catch (PaymentSessions.OpenRefused e) {
        if (refetched) {
          throw e;
        }
        refetched = true; // the session's table may have ended at the host: once more with the current one
        forgetPriceTable();
        current = priceTable();
        continue;
      }
      if (payment == null) {
        ticket = false; // above what a session holds: its own withdrawal, whose longer header is estimated anew
        continue;
      }
      try {
        requests.set(0, ProgramRun.header(program, current.id(), payment, duration, statedHeads));
        ProgramRun run = new ProgramRun(program, current, verifier, budget, duration, payment, requests, estimate,
            listenerOrNull, this, options.clock());
        if (arrivalOrNull != null) {
          run.onOutputArrival(arrivalOrNull);
        }
        return run;
      } catch (RuntimeException e) {
        payment.abandoned();
        throw e;
      }
    }
  }

  /**
   * Whether a program paid from a session asks for its receipt sealed with the session's key rather than
   * signed (docs/PROTOCOL.md, "Sealed receipts"): when nothing could ever show it to a third party, or a
   * later signed receipt will. A client with a receipt listener keeps every receipt, so it asks for
   * signatures. A write's receipt vouches for the records it committed, so it is sealed only when its
   * writer allows it ({@link PreparedProgram#writeReceiptSealable}: at most {@link
   * RenterOptions#sealedAppends()} appends in a row, after which a signed receipt's heads vouch for them
   * all). A {@code HasRecord}, {@code ReadByHash} or {@code Heads} output can be a claim of an evidence
   * file (docs/FORMAT.md, "Evidence"), so those programs are signed too. What is left are reads of
   * sub-records, proofs and metadata, whose outputs are proven from writer-signed records and need no
   * host's word.
   */
  private boolean sealsReceipt(PreparedProgram prepared) {
    if (options.receiptListenerOrNull() != null) {
      return false;
    }
    if (!prepared.program().isReadOnly()) {
      return prepared.writeReceiptSealable();
    }
    for (Instruction instruction : prepared.program().instructions()) {
      if (!(instruction instanceof Instruction.ReadSubRecord || instruction instanceof Instruction.Prove
          || instruction instanceof Instruction.Metadata)) {
        return false;
      }
    }
    return true;
  }

  private Payment withdrawal(PriceTable current, Amount budget) {
    long seconds = options.clock().instant().plus(options.withdrawalLifetime()).getEpochSecond();
    return Payment.withdrawal(new Withdrawal(accountKey.publicKey(), budget, random.nextLong() & Long.MAX_VALUE,
        Instant.ofEpochSecond(seconds), current.id(), current.hostKey()).sign(accountKey));
  }

  private ProgramRun start(ProgramRun run, @Nullable CallerRunsExecutor waiterOrNull) {
    RenterOptions.Deadlines deadlines = options.deadlines();
    Deadline deadline = Deadline.after(deadlines.program().toNanos(), TimeUnit.NANOSECONDS);
    try {
      run.limit(deadline, deadlines.program(), options.scheduler(), deadlines.idle());
      ProgramStream stream = streamOrNull;
      ExecutorService callbacks = streamCallbacksOrNull;
      if (stream != null && callbacks != null && stream.usable() && run.fitsStream()) {
        run.start(waiterOrNull == null
            ? stream.lane(run.responses(), MoreExecutors.newSequentialExecutor(callbacks), deadlines.program())
            : stream.lane(endsWaiting(run.responses(), waiterOrNull), waiterOrNull, deadlines.program()));
      } else if (waiterOrNull == null) {
        run.start(async.withDeadline(deadline).execute(run.responses()));
      } else {
        run.start(async.withDeadline(deadline).withExecutor(waiterOrNull).execute(endsWaiting(run.responses(), waiterOrNull)));
      }
    } catch (RuntimeException e) {
      run.abandoned();
      throw e;
    }
    return run;
  }

  /** {@code responses}, telling {@code waiter} when the program's end or the call's close was handled. */
  private static StreamObserver<ExecuteResponse> endsWaiting(StreamObserver<ExecuteResponse> responses,
      CallerRunsExecutor waiter) {
    return new StreamObserver<>() {
      @Override
      public void onNext(ExecuteResponse response) {
        try {
          responses.onNext(response);
        } finally {
          if (response.hasEnd()) {
            waiter.done();
          }
        }
      }

      @Override
      public void onError(Throwable t) {
        try {
          responses.onError(t);
        } finally {
          waiter.done();
        }
      }

      @Override
      public void onCompleted() {
        try {
          responses.onCompleted();
        } finally {
          waiter.done();
        }
      }
    };
  }

  /**
   * The signed metadata of capsule {@code capsuleId}, verified: it hashes to the id and carries its
   * creator's signature. Fetched once per client with a {@code Metadata} program; a reader needs nothing
   * but the id. Throws {@link ProgramFailedException} (NOT_FOUND) when the host does not hold the capsule.
   */
  public SignedMetadata metadata(Hash capsuleId) throws RenterException {
    SignedMetadata known = metadata.get(Objects.requireNonNull(capsuleId, "capsuleId"));
    if (known != null) {
      return known;
    }
    ProgramBuilder builder = new ProgramBuilder(capsuleId, null, null, null);
    builder.metadata();
    // The run verified that it hashes to the id; so does whatever is already cached, so either will do.
    SignedMetadata fetched = ((Output.Metadata) run(builder.build()).output(0).output()).signedMetadata();
    SignedMetadata previous = metadata.putIfAbsent(capsuleId, fetched);
    return previous != null ? previous : fetched;
  }

  /**
   * A builder for a program on capsule {@code capsuleId} that holds its verified metadata (fetched if
   * this client does not hold it yet) and knows the headers in this client's proof cache.
   */
  public ProgramBuilder newProgram(Hash capsuleId) throws RenterException {
    return new ProgramBuilder(capsuleId, metadata(capsuleId), null, cache::getIfPresent);
  }

  /** This renter's balance at the host: the amount of its verified {@link #balanceStatement()}. */
  public Amount balance() throws RenterException {
    return balanceStatement().statement().balance();
  }

  /** An account's balance at the host: the amount of its verified {@link #balanceStatement(PublicKey)}. */
  public Amount balance(PublicKey account) throws RenterException {
    return balanceStatement(account).statement().balance();
  }

  /** This renter's balance statement, verified ({@link #balanceStatement(PublicKey)}). */
  public SignedBalanceStatement balanceStatement() throws RenterException {
    return balanceStatement(accountKey.publicKey());
  }

  /**
   * The host's signed statement of {@code account}'s balance, verified: signed by the host key the price
   * table names, about {@code account}, issued within {@link ProgramRun#CLOCK_TOLERANCE} of the renter's
   * clock, and the reply's unsigned fields (account, balance) equal to it. Anything else is
   * {@link HostMisbehaviourException} ({@link HostMisbehaviourException.Part#BALANCE}).
   */
  public SignedBalanceStatement balanceStatement(PublicKey account) throws RenterException {
    PublicKey hostKey = priceTable().hostKey();
    Instant asked = options.clock().instant();
    BalanceRequest request = BalanceRequest.newBuilder().setAccount(ByteString.copyFrom(account.toByteArray())).build();
    BalanceResponse response = unary("cannot read the balance",
        () -> blocking.withDeadlineAfter(callDeadlineNanos(), TimeUnit.NANOSECONDS).getBalance(request));
    SignedBalanceStatement signed;
    BalanceStatement statement;
    try {
      signed = SignedBalanceStatement.parse(response.getSignedStatement().toByteArray());
      statement = signed.verify(hostKey);
    } catch (VerificationException | PricingException e) {
      throw balanceMisbehaviour(e.getMessage(), e);
    }
    if (!statement.account().equals(account)) {
      throw balanceMisbehaviour("the statement is about account " + statement.account() + ", asked " + account, null);
    }
    Instant earliest = asked.minus(ProgramRun.CLOCK_TOLERANCE);
    Instant latest = options.clock().instant().plus(ProgramRun.CLOCK_TOLERANCE);
    if (statement.issuedAt().isBefore(earliest) || statement.issuedAt().isAfter(latest)) {
      throw balanceMisbehaviour("the statement was issued at " + statement.issuedAt() + ", the renter's clock says "
          + asked + " (at most " + ProgramRun.CLOCK_TOLERANCE + " apart)", null);
    }
    if (!response.getAccount().equals(ByteString.copyFrom(account.toByteArray()))
        || response.getBalance() != statement.balance().units()) {
      throw balanceMisbehaviour("the reply's unsigned fields (account, balance " + response.getBalance()
          + ") disagree with its signed statement (balance " + statement.balance().units() + ")", null);
    }
    return signed;
  }

  private static HostMisbehaviourException balanceMisbehaviour(@Nullable String message, @Nullable Throwable cause) {
    return new HostMisbehaviourException(HostMisbehaviourException.Part.BALANCE, -1, message, cause);
  }

  /** Tells the {@link RenterOptions#receiptListenerOrNull()} of a verified receipt; what it throws is dropped. */
  void receiptVerified(PreparedProgram program, SignedReceipt receipt) {
    ReceiptListener listener = options.receiptListenerOrNull();
    if (listener != null) {
      try {
        listener.verified(program, receipt);
      } catch (RuntimeException ignored) {
        // The listener's own problem: the receipt verified, and the program's outcome stands.
      }
    }
  }

  /** The payment sessions of this client, or null without {@link RenterOptions#withSession} (tests, benchmarks). */
  @Nullable PaymentSessions sessionsOrNull() {
    return sessionsOrNull;
  }

  /**
   * Closes the open payment session, if any (best effort: at most the call deadline, or 5 s, is spent
   * waiting for the host's answer; a session not closed is released by the host when it expires), then the
   * channel this client made.
   */
  @Override
  public void close() {
    PaymentSessions sessions = sessionsOrNull;
    if (sessions != null) {
      Duration call = options.deadlines().call();
      sessions.close(call.compareTo(Duration.ofSeconds(5)) < 0 ? call : Duration.ofSeconds(5));
    }
    ProgramStream stream = streamOrNull;
    if (stream != null) {
      stream.close();
    }
    ExecutorService callbacks = streamCallbacksOrNull;
    if (callbacks != null) {
      callbacks.shutdown(); // idle threads end; a program still ending finishes its last callbacks
    }
    if (ownChannelOrNull != null) {
      Channels.close(ownChannelOrNull);
    }
  }
}
