package dev.capsulevm.vm.exec;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.pricing.InstructionPrice;
import dev.capsulevm.pricing.Ledger;
import dev.capsulevm.pricing.Limits;
import dev.capsulevm.pricing.Meter;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Prices;
import dev.capsulevm.pricing.Refunder;
import dev.capsulevm.pricing.Reservation;
import dev.capsulevm.pricing.Reservations;
import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Program;
import dev.capsulevm.program.ProgramEncoding;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.vm.ProgramData;
import dev.capsulevm.proofs.Sha256;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * A price table, meters, host key and a program builder for executor tests; host's tests use it too,
 * through vm's test-jar.
 */
public final class ExecFixture {
  public static final SigningKey HOST = key(0x41);
  public static final Instant START = Instant.ofEpochSecond(1_800_000_000L);
  /** The clock the fixture's meters read when they settle. */
  public static final Clock CLOCK = Clock.fixed(START, ZoneOffset.UTC);
  /** The program id the fixture's meters name (and their refunds record). */
  public static final Hash PROGRAM_ID = Sha256.untagged("exec-fixture-program".getBytes(StandardCharsets.UTF_8));
  /** The budget of {@link Builder#meter()}. */
  public static final long BUDGET = Amount.ofCap(1000).units();
  /** The output envelope the tests charge with every output bound (what the host's gRPC response adds). */
  static final long ENVELOPE = 48;

  private ExecFixture() {}

  /** A key whose seed is 32 bytes of {@code fill}. */
  public static SigningKey key(int fill) {
    byte[] seed = new byte[32];
    Arrays.fill(seed, (byte) fill);
    return SigningKey.fromSeed(seed);
  }

  /** {@link #HOST}'s table, valid for an hour from {@link #START}: every instruction costs 100 + 1 a byte. */
  public static PriceTable table() {
    Map<InstructionKind, InstructionPrice> m = new EnumMap<>(InstructionKind.class);
    for (InstructionKind kind : InstructionKind.values()) {
      m.put(kind, InstructionPrice.of(100, 1));
    }
    Prices prices = new Prices(Amount.of(1000), Amount.of(1), m, Amount.of(1), Amount.of(1), Amount.of(1),
        Amount.of(2));
    Limits limits = new Limits(1 << 20, 256, 1 << 20, 1024, 16, Amount.ofCap(1_000_000));
    return new PriceTable(HOST.publicKey(), START, START.plusSeconds(3600), prices, limits);
  }

  /**
   * A meter for a program naming {@code capsuleIdOrNull} (the receipt states it), over {@code budget} units
   * of {@link #table()}, that refunds through {@code refunder}; its receipts are issued at {@link #START}.
   */
  public static Meter meter(@Nullable Hash capsuleIdOrNull, long budget, Refunder refunder) throws Exception {
    return Meter.open(table(), PROGRAM_ID, capsuleIdOrNull, Amount.of(budget), 100, 10, refunder, CLOCK);
  }

  /** Nonces for {@link #payer}: unique within a JVM, so no two test programs share a withdrawal. */
  private static final AtomicLong NONCES = new AtomicLong();

  /**
   * Holds in front of {@code ledger} as a host keeps them: withdrawals may expire up to a day ahead, and
   * the host risks any amount.
   */
  public static Reservations holds(Ledger ledger, Clock clock) {
    return new Reservations(ledger, clock, Duration.ofDays(1), Amount.MAX);
  }

  /**
   * A program's budget of {@link #BUDGET} held from {@code account} (which must hold that much) under a
   * fresh nonce, its withdrawal expiring an hour after {@code clock}'s now: the payer of a program run with
   * a meter of {@link Builder#meter()}.
   */
  public static Reservation payer(Reservations holds, Clock clock, PublicKey account) throws Exception {
    return holds.reserve(account, Amount.of(BUDGET), NONCES.incrementAndGet(),
        clock.instant().plusSeconds(3600).truncatedTo(java.time.temporal.ChronoUnit.SECONDS));
  }

  /** Builds a program and its data. */
  public static class Builder {
    private final @Nullable Hash capsuleIdOrNull;
    private final ByteArrayOutputStream data = new ByteArrayOutputStream();
    private final List<Instruction> instructions = new ArrayList<>();

    public Builder(@Nullable Hash capsuleIdOrNull) {
      this.capsuleIdOrNull = capsuleIdOrNull;
    }

    /** A meter for this program over {@link #BUDGET} units, whose refunds go nowhere. */
    public Meter meter() throws Exception {
      return meter(BUDGET, new AtomicLong());
    }

    /** A meter for this program over {@link #BUDGET} units, whose refunds add up in {@code refunded}. */
    public Meter meter(AtomicLong refunded) throws Exception {
      return meter(BUDGET, refunded);
    }

    /** A meter for this program over {@code budget} units, whose refunds add up in {@code refunded}. */
    public Meter meter(long budget, AtomicLong refunded) throws Exception {
      return meter(budget, (amount, programId) -> refunded.addAndGet(amount.units()));
    }

    /** A meter for this program over {@code budget} units that refunds through {@code refunder}. */
    public Meter meter(long budget, Refunder refunder) throws Exception {
      return ExecFixture.meter(capsuleIdOrNull, budget, refunder);
    }

    public DataRef put(byte[] bytes) {
      DataRef ref = new DataRef(data.size(), bytes.length);
      data.writeBytes(bytes);
      return ref;
    }

    public DataRef put(Hash hash) {
      return put(hash.toByteArray());
    }

    /** How many data bytes were put so far: the offset of the next {@link #put}. */
    public int size() {
      return data.size();
    }

    /** The data put so far. */
    public byte[] bytes() {
      return data.toByteArray();
    }

    public Builder add(Instruction instruction) {
      instructions.add(instruction);
      return this;
    }

    public Program program() {
      return new Program(capsuleIdOrNull, instructions, data.size());
    }

    /** The program as a header carries it. */
    public byte[] encoded() {
      return ProgramEncoding.encode(program());
    }

    /** The program's data, already complete. */
    public ProgramData data() throws Exception {
      ProgramData out = new ProgramData(data.size(), Math.max(1, data.size()));
      if (data.size() > 0) {
        out.append(data.toByteArray());
      }
      return out;
    }
  }
}
