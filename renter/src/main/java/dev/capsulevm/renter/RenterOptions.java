package dev.capsulevm.renter;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.pricing.InstructionPrice;
import dev.capsulevm.pricing.MaxPrices;
import dev.capsulevm.pricing.Prices;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proto.tls.ChannelSecurity;
import io.grpc.ClientInterceptor;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * How a {@link HostClient} behaves.
 *
 * @param maxPrices the most the renter pays for each price; a price table above any is refused
 * @param expectedHostKeyOrNull the host's key if known in advance (null: trust the key the table names)
 * @param clock checks the price table's validity window and sets withdrawal expiries
 * @param withdrawalLifetime how long a withdrawal stays valid (short: the host keeps its nonce until then)
 * @param chunkSize the most program data per request message
 * @param proofCacheCapacity records the shared proof cache keeps
 * @param durationUnits how long storage added by a program is paid for, unless a program says otherwise
 * @param interceptors gRPC interceptors on the host channel (tests use one to tamper with responses); a
 *     program stream's responses reach them in the transport's thread, so they must not block
 * @param appendRetries how many times {@link CapsuleWriter} appends again after an append conflict
 *     (another writer appended first), each time on the heads it then verified
 * @param budgetOrNull the budget of every program {@link HostClient#run(PreparedProgram)} runs, instead of
 *     its estimate (and no retry at the ceiling); null for the estimate
 * @param evidenceDirOrNull where {@link CapsuleReader} and {@link CapsuleWriter} write the evidence of a
 *     rollback they catch ({@link RollbackException}); null to only throw it
 * @param deadlines how long a call, a program, and a host's silence during a program may last
 * @param retries how often, and after what waits, a call the host refused before anything ran is sent again
 * @param scheduler how the SDK waits (back-off) and times out (idle timers)
 * @param security how the host's port is reached: plaintext (the default, for a host on loopback) or TLS
 *     verifying the host's certificate against a CA file or pins ({@link ChannelSecurity})
 * @param confirmCommits whether a write waits for the host's proposal and confirms it in a second round
 *     trip; false (the default): the renter states the heads its write leaves in the program's header and
 *     the host commits at once when the program leaves exactly those (docs/PROTOCOL.md, "Stated heads").
 *     Either way every output and the receipt are verified.
 * @param maxCostOrNull the most one program may cost: a program whose estimate is above it is refused
 *     before it is sent ({@link MaxCostExceededException}), and no program's budget is above it (a larger
 *     budget, the caller's or a retry's ceiling, is lowered to it); null for no such cap
 * @param receiptListenerOrNull told of every receipt this client verifies, a failed program's too
 *     ({@link ReceiptListener}); null for none
 * @param sessionAmountOrNull how much of the account each payment session holds at the host; null (the
 *     default): every program is paid by its own signed withdrawal ({@link #withSession(Amount)})
 * @param sessionLifetime how long a payment session lasts (its request's expiry); like a withdrawal's
 *     lifetime, at most the host's withdrawal window (an hour by default), which keeps the nonce
 * @param sealedAppends how many of a {@link CapsuleWriter}'s appends in a row, paid from a payment session,
 *     may have their receipts sealed with the session's key instead of signed (docs/PROTOCOL.md, "Sealed
 *     receipts"): the next one's receipt is signed, and its committed heads vouch for them all. A client
 *     with a receipt listener, or without a session, has every receipt signed. 0: every write's receipt
 *     is signed.
 * @param programStreams whether programs that fit one are sent on the client's long-lived program stream
 *     (docs/PROTOCOL.md, "Program streams"): read-only programs and writes with stated heads whose data
 *     takes at most two messages. true (the default) saves the transport's per-call work; false sends every program
 *     on its own {@code Execute} call. Either way a program's cost, outputs and receipt are the same, and
 *     all are verified.
 */
public record RenterOptions(MaxPrices maxPrices, @Nullable PublicKey expectedHostKeyOrNull, Clock clock,
    Duration withdrawalLifetime, int chunkSize, int proofCacheCapacity, long durationUnits,
    List<ClientInterceptor> interceptors, int appendRetries, @Nullable Amount budgetOrNull,
    @Nullable Path evidenceDirOrNull, Deadlines deadlines, Retries retries, Scheduler scheduler,
    ChannelSecurity security, boolean confirmCommits, @Nullable Amount maxCostOrNull,
    @Nullable ReceiptListener receiptListenerOrNull, @Nullable Amount sessionAmountOrNull,
    Duration sessionLifetime, int sealedAppends, boolean programStreams) {
  /** {@link #appendRetries()} of {@link #defaults()}. */
  public static final int DEFAULT_APPEND_RETRIES = 3;
  /** {@link #sessionLifetime()} of {@link #defaults()}. */
  public static final Duration DEFAULT_SESSION_LIFETIME = Duration.ofMinutes(10);
  /** The shortest {@link #sessionLifetime()}: a session is renewed a little before it expires. */
  public static final Duration MIN_SESSION_LIFETIME = Duration.ofMinutes(1);
  /** {@link #sealedAppends()} of {@link #defaults()}. */
  public static final int DEFAULT_SEALED_APPENDS = 16;

  /**
   * How long the renter waits for the host before it cancels a call ({@link DeadlineExceededException}).
   *
   * @param call the deadline of each unary call ({@code GetPriceTable}, {@code GetBalance})
   * @param program the deadline of a whole program: on its own {@code Execute} call, sent to the host as
   *     the call's gRPC deadline; on a program stream, a timer of {@link RenterOptions#scheduler()} that
   *     cancels the program at the host
   * @param idle the longest the host may send nothing on an {@code Execute} call (counted from the
   *     submission, then from each message it sends); the time before its first message includes the
   *     upload of the program's data. {@link Duration#ZERO} for none.
   */
  public record Deadlines(Duration call, Duration program, Duration idle) {
    /** {@link #defaults()}: 10 s per unary call, 10 minutes per program, 60 s idle. */
    public static final Deadlines DEFAULT = new Deadlines(Duration.ofSeconds(10), Duration.ofMinutes(10),
        Duration.ofSeconds(60));

    public Deadlines {
      Objects.requireNonNull(call, "call");
      Objects.requireNonNull(program, "program");
      Objects.requireNonNull(idle, "idle");
      if (call.isNegative() || call.isZero() || program.isNegative() || program.isZero() || idle.isNegative()) {
        throw new IllegalArgumentException("the call and program deadlines are positive, the idle timeout not "
            + "negative (zero: none)");
      }
    }
  }

  /**
   * Bounded retries with exponential back-off, for a call the host refused with RESOURCE_EXHAUSTED or
   * UNAVAILABLE before anything ran: a unary call, or a program refused before any output or end (so
   * nothing was confirmed and nothing taken). Attempt {@code k} (from 0) waits
   * {@code b = min(initialBackoff × 2^k, maxBackoff)} shortened by up to {@code jitter × b} at random,
   * through {@link RenterOptions#scheduler()}.
   *
   * @param max how many times a refused call is sent again (0: never)
   * @param initialBackoff the wait before the first retry
   * @param maxBackoff the longest wait
   * @param jitter the fraction, 0 to 1, of each wait that is random (0: exactly the doubling)
   */
  public record Retries(int max, Duration initialBackoff, Duration maxBackoff, double jitter) {
    /** {@link #defaults()}: 3 retries, 100 ms doubling up to 5 s, each wait between half and all of it. */
    public static final Retries DEFAULT = new Retries(3, Duration.ofMillis(100), Duration.ofSeconds(5), 0.5);
    /** No retry. */
    public static final Retries NONE = new Retries(0, Duration.ZERO, Duration.ZERO, 0);

    public Retries {
      Objects.requireNonNull(initialBackoff, "initialBackoff");
      Objects.requireNonNull(maxBackoff, "maxBackoff");
      if (max < 0 || initialBackoff.isNegative() || maxBackoff.compareTo(initialBackoff) < 0
          || !(jitter >= 0 && jitter <= 1)) {
        throw new IllegalArgumentException("max is not negative, 0 <= initialBackoff <= maxBackoff, jitter in [0, 1]");
      }
    }

    /** The wait before retry {@code attempt} (from 0), {@code random} in [0, 1). */
    public Duration backoff(int attempt, double random) {
      long initial = initialBackoff.toNanos();
      long cap = maxBackoff.toNanos();
      long base = initial;
      for (int i = 0; i < attempt && base < cap; i++) {
        base = base > cap / 2 ? cap : base * 2;
      }
      base = Math.min(base, cap);
      return Duration.ofNanos(base - (long) (base * jitter * random));
    }
  }


  public RenterOptions {
    Objects.requireNonNull(maxPrices, "maxPrices");
    Objects.requireNonNull(clock, "clock");
    Objects.requireNonNull(withdrawalLifetime, "withdrawalLifetime");
    if (chunkSize < 1 || proofCacheCapacity < 1 || durationUnits < 0 || appendRetries < 0) {
      throw new IllegalArgumentException(
          "chunkSize and proofCacheCapacity are positive, durationUnits and appendRetries not negative");
    }
    interceptors = List.copyOf(interceptors);
    Objects.requireNonNull(deadlines, "deadlines");
    Objects.requireNonNull(retries, "retries");
    Objects.requireNonNull(scheduler, "scheduler");
    Objects.requireNonNull(security, "security");
    Objects.requireNonNull(sessionLifetime, "sessionLifetime");
    if (sessionAmountOrNull != null && sessionAmountOrNull.isZero()) {
      throw new IllegalArgumentException("a payment session holds a positive amount");
    }
    if (sealedAppends < 0) {
      throw new IllegalArgumentException("sealedAppends is not negative, got " + sealedAppends);
    }
    if (sessionLifetime.compareTo(MIN_SESSION_LIFETIME) < 0) {
      throw new IllegalArgumentException("a payment session lasts at least " + MIN_SESSION_LIFETIME + ", got "
          + sessionLifetime);
    }
  }

  /**
   * Ceilings every price a default host charges sits well below: 1 CAP per program or instruction base,
   * 1,000 units per byte, byte-time-unit or byte-duration-unit. A renter with a real budget sets its own.
   */
  public static MaxPrices defaultMaxPrices() {
    Map<InstructionKind, InstructionPrice> instructions = new EnumMap<>(InstructionKind.class);
    for (InstructionKind kind : InstructionKind.values()) {
      instructions.put(kind, InstructionPrice.of(1_000_000, 1_000));
    }
    Amount perByte = Amount.of(1_000);
    return new MaxPrices(new Prices(Amount.of(1_000_000), perByte, instructions, perByte, perByte, perByte, perByte));
  }

  /**
   * The defaults: {@link #defaultMaxPrices()}, system clock, 60 s withdrawals, 64 KiB chunks, 3 append
   * retries, {@link Deadlines#DEFAULT}, {@link Retries#DEFAULT}, {@link Scheduler#system()}, plaintext, and
   * no payment session (one withdrawal per program: nothing of the account is held between programs, and
   * a program pays nothing to open or close a session; {@link #withSession(Amount)} for many programs);
   * with a session, a writer's appends have sealed receipts at most 16 in a row ({@link #sealedAppends()});
   * programs that fit one go on a program stream ({@link #programStreams()}).
   */
  public static RenterOptions defaults() {
    return new RenterOptions(defaultMaxPrices(), null, Clock.systemUTC(), Duration.ofSeconds(60), 64 * 1024,
        100_000, 1, List.of(), DEFAULT_APPEND_RETRIES, null, null, Deadlines.DEFAULT, Retries.DEFAULT,
        Scheduler.system(), ChannelSecurity.plaintext(), false, null, null, null, DEFAULT_SESSION_LIFETIME,
        DEFAULT_SEALED_APPENDS, true);
  }

  /**
   * No program costs more than {@code max}: one whose estimate is above it is refused before it is sent,
   * and every budget is at most {@code max} ({@link #maxCostOrNull()}).
   */
  public RenterOptions withMaxCost(Amount max) {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, clock, withdrawalLifetime, chunkSize,
        proofCacheCapacity, durationUnits, interceptors, appendRetries, budgetOrNull, evidenceDirOrNull, deadlines,
        retries, scheduler, security, confirmCommits, Objects.requireNonNull(max, "max"), receiptListenerOrNull, sessionAmountOrNull, sessionLifetime, sealedAppends, programStreams);
  }

  /** {@code listener} hears of every receipt a client with these options verifies ({@link ReceiptListener}). */
  public RenterOptions withReceiptListener(ReceiptListener listener) {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, clock, withdrawalLifetime, chunkSize,
        proofCacheCapacity, durationUnits, interceptors, appendRetries, budgetOrNull, evidenceDirOrNull, deadlines,
        retries, scheduler, security, confirmCommits, maxCostOrNull, Objects.requireNonNull(listener, "listener"), sessionAmountOrNull, sessionLifetime, sealedAppends, programStreams);
  }

  public RenterOptions withMaxPrices(MaxPrices max) {
    return new RenterOptions(max, expectedHostKeyOrNull, clock, withdrawalLifetime, chunkSize, proofCacheCapacity,
        durationUnits, interceptors, appendRetries, budgetOrNull, evidenceDirOrNull, deadlines, retries, scheduler, security, confirmCommits, maxCostOrNull, receiptListenerOrNull, sessionAmountOrNull, sessionLifetime, sealedAppends, programStreams);
  }

  public RenterOptions withInterceptors(List<ClientInterceptor> list) {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, clock, withdrawalLifetime, chunkSize,
        proofCacheCapacity, durationUnits, list, appendRetries, budgetOrNull, evidenceDirOrNull, deadlines, retries, scheduler, security, confirmCommits, maxCostOrNull, receiptListenerOrNull, sessionAmountOrNull, sessionLifetime, sealedAppends, programStreams);
  }

  public RenterOptions withChunkSize(int size) {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, clock, withdrawalLifetime, size, proofCacheCapacity,
        durationUnits, interceptors, appendRetries, budgetOrNull, evidenceDirOrNull, deadlines, retries, scheduler, security, confirmCommits, maxCostOrNull, receiptListenerOrNull, sessionAmountOrNull, sessionLifetime, sealedAppends, programStreams);
  }

  public RenterOptions withExpectedHostKey(PublicKey key) {
    return new RenterOptions(maxPrices, key, clock, withdrawalLifetime, chunkSize, proofCacheCapacity,
        durationUnits, interceptors, appendRetries, budgetOrNull, evidenceDirOrNull, deadlines, retries, scheduler, security, confirmCommits, maxCostOrNull, receiptListenerOrNull, sessionAmountOrNull, sessionLifetime, sealedAppends, programStreams);
  }

  public RenterOptions withAppendRetries(int times) {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, clock, withdrawalLifetime, chunkSize,
        proofCacheCapacity, durationUnits, interceptors, times, budgetOrNull, evidenceDirOrNull, deadlines, retries,
        scheduler, security, confirmCommits, maxCostOrNull, receiptListenerOrNull, sessionAmountOrNull, sessionLifetime, sealedAppends, programStreams);
  }

  public RenterOptions withClock(Clock newClock) {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, newClock, withdrawalLifetime, chunkSize,
        proofCacheCapacity, durationUnits, interceptors, appendRetries, budgetOrNull, evidenceDirOrNull, deadlines, retries, scheduler, security, confirmCommits, maxCostOrNull, receiptListenerOrNull, sessionAmountOrNull, sessionLifetime, sealedAppends, programStreams);
  }

  /** Every program run through {@link HostClient#run(PreparedProgram)} is paid with {@code budget}. */
  public RenterOptions withBudget(Amount budget) {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, clock, withdrawalLifetime, chunkSize,
        proofCacheCapacity, durationUnits, interceptors, appendRetries, budget, evidenceDirOrNull, deadlines, retries, scheduler, security, confirmCommits, maxCostOrNull, receiptListenerOrNull, sessionAmountOrNull, sessionLifetime, sealedAppends, programStreams);
  }

  /** Evidence of a rollback is written under {@code dir}. */
  public RenterOptions withEvidenceDirectory(Path dir) {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, clock, withdrawalLifetime, chunkSize,
        proofCacheCapacity, durationUnits, interceptors, appendRetries, budgetOrNull, dir, deadlines, retries, scheduler, security, confirmCommits, maxCostOrNull, receiptListenerOrNull, sessionAmountOrNull, sessionLifetime, sealedAppends, programStreams);
  }

  public RenterOptions withDeadlines(Deadlines newDeadlines) {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, clock, withdrawalLifetime, chunkSize,
        proofCacheCapacity, durationUnits, interceptors, appendRetries, budgetOrNull, evidenceDirOrNull, newDeadlines,
        retries, scheduler, security, confirmCommits, maxCostOrNull, receiptListenerOrNull, sessionAmountOrNull, sessionLifetime, sealedAppends, programStreams);
  }

  /** Each unary call waits at most {@code deadline}. */
  public RenterOptions withCallDeadline(Duration deadline) {
    return withDeadlines(new Deadlines(deadline, deadlines.program(), deadlines.idle()));
  }

  /** Each program waits at most {@code deadline} in all. */
  public RenterOptions withProgramDeadline(Duration deadline) {
    return withDeadlines(new Deadlines(deadlines.call(), deadline, deadlines.idle()));
  }

  /** A program is cancelled when the host sends nothing for {@code timeout} (zero: never). */
  public RenterOptions withIdleTimeout(Duration timeout) {
    return withDeadlines(new Deadlines(deadlines.call(), deadlines.program(), timeout));
  }

  public RenterOptions withRetries(Retries newRetries) {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, clock, withdrawalLifetime, chunkSize,
        proofCacheCapacity, durationUnits, interceptors, appendRetries, budgetOrNull, evidenceDirOrNull, deadlines,
        newRetries, scheduler, security, confirmCommits, maxCostOrNull, receiptListenerOrNull, sessionAmountOrNull, sessionLifetime, sealedAppends, programStreams);
  }

  /** Back-off waits and idle timers go through {@code newScheduler} (tests: a fake one). */
  public RenterOptions withScheduler(Scheduler newScheduler) {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, clock, withdrawalLifetime, chunkSize,
        proofCacheCapacity, durationUnits, interceptors, appendRetries, budgetOrNull, evidenceDirOrNull, deadlines,
        retries, newScheduler, security, confirmCommits, maxCostOrNull, receiptListenerOrNull, sessionAmountOrNull, sessionLifetime, sealedAppends, programStreams);
  }

  /**
   * Whether writes are confirmed in a second round trip after the host's proposal ({@code true}) or
   * committed at once with the heads stated up front ({@code false}, the default).
   */
  public RenterOptions withConfirmCommits(boolean confirm) {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, clock, withdrawalLifetime, chunkSize,
        proofCacheCapacity, durationUnits, interceptors, appendRetries, budgetOrNull, evidenceDirOrNull, deadlines,
        retries, scheduler, security, confirm, maxCostOrNull, receiptListenerOrNull, sessionAmountOrNull, sessionLifetime, sealedAppends, programStreams);
  }

  /** The host is reached with {@code newSecurity} (TLS against a CA file or pins, or plaintext). */
  public RenterOptions withSecurity(ChannelSecurity newSecurity) {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, clock, withdrawalLifetime, chunkSize,
        proofCacheCapacity, durationUnits, interceptors, appendRetries, budgetOrNull, evidenceDirOrNull, deadlines,
        retries, scheduler, newSecurity, confirmCommits, maxCostOrNull, receiptListenerOrNull, sessionAmountOrNull, sessionLifetime, sealedAppends, programStreams);
  }

  /**
   * Programs are paid from payment sessions, each holding {@code amount} of the account at the host
   * (docs/PROTOCOL.md, "Payment sessions"), instead of by one signed withdrawal each: the renter signs
   * one session request, then authenticates each program's {@code Ticket} with a MAC under a key only it
   * and the host know, which saves an Ed25519 signature and its verification (about 120 µs) per program.
   * Receipts are verified exactly as without. The amount is held at the host while the session is open
   * (the client closes a session when its remainder cannot pay a program, before it expires, and in
   * {@link HostClient#close()}); a program whose budget is above {@code amount} is paid by its own
   * withdrawal.
   */
  public RenterOptions withSession(Amount amount) {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, clock, withdrawalLifetime, chunkSize,
        proofCacheCapacity, durationUnits, interceptors, appendRetries, budgetOrNull, evidenceDirOrNull, deadlines,
        retries, scheduler, security, confirmCommits, maxCostOrNull, receiptListenerOrNull,
        Objects.requireNonNull(amount, "amount"), sessionLifetime, sealedAppends, programStreams);
  }

  /** Programs are paid by one signed withdrawal each (the default): no payment session. */
  public RenterOptions withoutSession() {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, clock, withdrawalLifetime, chunkSize,
        proofCacheCapacity, durationUnits, interceptors, appendRetries, budgetOrNull, evidenceDirOrNull, deadlines,
        retries, scheduler, security, confirmCommits, maxCostOrNull, receiptListenerOrNull, null, sessionLifetime, sealedAppends, programStreams);
  }

  /**
   * Each payment session lasts {@code lifetime} (at least {@link #MIN_SESSION_LIFETIME}; at most the host's
   * withdrawal window, an hour by default, or the host refuses to open it).
   */
  public RenterOptions withSessionLifetime(Duration lifetime) {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, clock, withdrawalLifetime, chunkSize,
        proofCacheCapacity, durationUnits, interceptors, appendRetries, budgetOrNull, evidenceDirOrNull, deadlines,
        retries, scheduler, security, confirmCommits, maxCostOrNull, receiptListenerOrNull, sessionAmountOrNull,
        Objects.requireNonNull(lifetime, "lifetime"), sealedAppends, programStreams);
  }

  /**
   * At most {@code appends} appends in a row of one {@link CapsuleWriter} paid from a payment session have
   * sealed receipts ({@link #sealedAppends()}); 0 has every write's receipt signed.
   */
  public RenterOptions withSealedAppends(int appends) {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, clock, withdrawalLifetime, chunkSize,
        proofCacheCapacity, durationUnits, interceptors, appendRetries, budgetOrNull, evidenceDirOrNull, deadlines,
        retries, scheduler, security, confirmCommits, maxCostOrNull, receiptListenerOrNull, sessionAmountOrNull,
        sessionLifetime, appends, programStreams);
  }

  /**
   * Whether programs that fit one go on the client's program stream ({@code true}, the default) or each on
   * its own {@code Execute} call ({@link #programStreams()}).
   */
  public RenterOptions withProgramStreams(boolean streams) {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, clock, withdrawalLifetime, chunkSize,
        proofCacheCapacity, durationUnits, interceptors, appendRetries, budgetOrNull, evidenceDirOrNull, deadlines,
        retries, scheduler, security, confirmCommits, maxCostOrNull, receiptListenerOrNull, sessionAmountOrNull,
        sessionLifetime, sealedAppends, streams);
  }
}
